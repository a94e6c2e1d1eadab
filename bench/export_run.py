"""`python -m bench.export_run DB OUT.xlsx`: the real `jiaoyan-bot export` in this process,
then one JSON line with its wall time and this process's peak resident memory."""

from __future__ import annotations

import io
import json
import resource
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
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
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = captured.getvalue().strip().splitlines()
    print(
        json.dumps(
            {
                "code": code,
                "seconds": seconds,
                "peak_mb": peak_mb,
                "summary": lines[-1] if lines else "",
            },
            ensure_ascii=False,
        )
    )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
