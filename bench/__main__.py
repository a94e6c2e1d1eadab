"""`python -m bench`: run every benchmark on this machine and write bench/results/last-run.md.

Options: `--only intake,burst,...` to run some, `--seconds N` per wrk run (default 10),
`--cache DIR` for the generated district/province datasets kept between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bench.load import wrk_available
from bench.report import Report, machine

RESULTS = Path(__file__).resolve().parent / "results"

Bench = Callable[[Report, Path, argparse.Namespace], Coroutine[Any, Any, None]]


async def _intake(report: Report, work: Path, args: argparse.Namespace) -> None:
    from bench import intake

    await intake.run(report, intake.Settings(seconds=args.seconds, work_dir=work))


async def _processing(report: Report, work: Path, args: argparse.Namespace) -> None:
    from bench import processing

    await processing.run(report, work)


async def _burst(report: Report, work: Path, args: argparse.Namespace) -> None:
    from bench import burst

    await burst.run(report, work)


async def _district(report: Report, work: Path, args: argparse.Namespace) -> None:
    from bench import district

    await district.run(report, work)


async def _province(report: Report, work: Path, args: argparse.Namespace) -> None:
    from bench import province

    await province.run(report, work, args.cache)


async def _fanout(report: Report, work: Path, args: argparse.Namespace) -> None:
    from bench import fanout

    await fanout.run(report, work)


async def _fairness(report: Report, work: Path, args: argparse.Namespace) -> None:
    from bench import fairness

    await fairness.run(report, work)


# Processing runs first: it measures the bot in this process, and the intake run leaves the
# fake WeCom API's records of tens of thousands of replies on this heap to slow its GC.
BENCHES: dict[str, Bench] = {
    "processing": _processing,
    "intake": _intake,
    "burst": _burst,
    "district": _district,
    "province": _province,
    "fanout": _fanout,
    "fairness": _fairness,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default=",".join(BENCHES), help="comma-separated benchmarks")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "jiaoyan-bench",
        help="where generated datasets are kept between runs (province: ~450 MB)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    if "intake" in wanted and not wrk_available():
        print("wrk is needed for the intake benchmark: apt-get install wrk", file=sys.stderr)
        return 2
    print(f"Machine: {machine()}", flush=True)
    report = Report()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="jiaoyan-bench-") as tmp:
        for name in [name for name in BENCHES if name in wanted]:  # in BENCHES order
            print(f"\n== {name}", flush=True)
            work = Path(tmp) / name
            work.mkdir()
            started = time.monotonic()
            asyncio.run(BENCHES[name](report, work, args))
            print(f"  ({name} took {time.monotonic() - started:.0f} s)", flush=True)
    path = report.save(RESULTS)
    print(f"\nAll done in {time.monotonic() - began:.0f} s; results in {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
