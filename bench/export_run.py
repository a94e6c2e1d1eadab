"""`python -m bench.export_run DB OUT.xlsx`: the real `jiaoyan-bot export` in this process,
then one JSON line with its wall time and this process's peak resident memory.

The peak is Linux's VmHWM, reset when the process starts: `ru_maxrss` of a process forked
from a large one (the bench, after building 201 digests) starts at its parent's size."""

from __future__ import annotations

import contextlib
import io
import json
import resource
import sys
import time
from pathlib import Path

PROC = Path("/proc/self")


def reset_peak() -> None:
    """Start the peak-memory count from now (Linux: writing 5 to clear_refs)."""
    with contextlib.suppress(OSError):
        (PROC / "clear_refs").write_text("5")


def peak_mb() -> float:
    try:
        status = (PROC / "status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def main(argv: list[str]) -> int:
    reset_peak()
    from bot.cli.main import main as cli_main

    db, out = argv[0], Path(argv[1])
    captured = io.StringIO()
    stdout = sys.stdout
    began = time.perf_counter()
    sys.stdout = captured
    try:
        code = cli_main(["export", "--db", str(db), "-o", str(out)])
    finally:
        sys.stdout = stdout
    seconds = time.perf_counter() - began
    lines = captured.getvalue().strip().splitlines()
    print(
        json.dumps(
            {
                "code": code,
                "seconds": seconds,
                "peak_mb": peak_mb(),
                "summary": lines[-1] if lines else "",
            },
            ensure_ascii=False,
        )
    )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
