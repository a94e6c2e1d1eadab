"""Costs that must not grow with the data: the district bench's dataset at district size and
at province size (×10: 100,000 members, 20,000 activities, 800,000 sign-ins, 500,000
reflections), the same figures at both, and the province/district ratio of each.

The datasets are generated once per generator version and kept under the bench cache
directory (`--cache`, default a `jiaoyan-bench` folder in the system temp directory); each
run works on a fresh copy.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.district import DISTRICT, NOW, PROVINCE, Size, cached
from bench.procs import clean_env
from bench.report import Report
from bot.core.clock import FakeClock
from bot.core.messages import Channel, ChatType, Incoming
from bot.core.settings import Settings
from bot.runtime.app import create_app
from bot.text.dates import parse_period
from reports.digest import build_digest
from storage import Storage

SECTION = "5. Costs as the data grows: district and province (×10)"
CACHE = Path(tempfile.gettempdir()) / "jiaoyan-bench"


@dataclass(frozen=True)
class Row:
    """One figure of the table: what, its target at province size, and the unit shown."""

    name: str
    target_ms: float
    repeats: int


ROWS = (
    Row("district 汇总 本学期 (教研员)", 1000, 3),
    Row("an alliance's 汇总 本周 (联盟负责人)", 50, 5),
    Row("我的 (a teacher)", 50, 5),
    Row("weekly digest, district term (no chart)", 2000, 3),
    Row("scheduler wake-up after a message (wake_time)", 5, 5),
    Row("scheduler wake-up after 发起活动 (a new activity)", 5, 5),
)
EXPORT_TARGET_S, EXPORT_TARGET_MB = 60, 300


# An action, and what must happen untimed before each run of it (None: nothing).
Timed = tuple[Callable[[], object], Callable[[], object] | None]


def timed(
    action: Callable[[], object], repeats: int, before: Callable[[], object] | None
) -> tuple[float, float]:
    """(median ms, max ms) over `repeats` runs after one warm-up."""
    action()
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), max(times)


def measure(db: Path) -> dict[str, tuple[float, float]]:
    """Each row of ROWS on the dataset at `db`: name -> (median ms, max ms)."""
    clock = FakeClock(NOW)
    settings = Settings(_env_file=None, JIAOYAN_DB=db)  # type: ignore[call-arg]
    storage = Storage.open(db)
    app = create_app(settings, clock=clock, storage=storage, private_channel=Channel.APP)

    def ask(userid: str, text: str, expect: str) -> Callable[[], object]:
        def action() -> object:
            incoming = Incoming(
                channel=Channel.APP,
                msgid=f"q{time.perf_counter_ns()}",
                userid=userid,
                text=text,
                chat_type=ChatType.SINGLE,
                received_at=clock.now(),
            )
            answer = "\n".join(getattr(e, "text", "") for e in app.dispatcher.handle_sync(incoming))
            assert expect in answer, answer[:300]
            return answer

        return action

    try:
        district = storage.roster.alliance_by_name("尚志市小学语文")
        assert district is not None
        term = parse_period("本学期", clock.now())
        assert term is not None
        mine = ask("u1_20", "我的", "教师1-20")
        create = ask("staff1", "发起活动 下周三 14:30-16:30 集体备课 地点:尚志市一小", "已发起活动")
        queries: list[Timed] = [
            (ask("staff1", "汇总 本学期", "汇总"), None),
            (ask("u1_1", "汇总 本周", "汇总"), None),
            (mine, None),
            (lambda: build_digest(storage, district, term, clock.now(), with_chart=False), None),
        ]
        # The scheduler re-arms after every message: after most, nothing due changed; after
        # 发起活动, the new activity's reminders are worked out on their own.
        wake_ups: list[Timed] = [(app.scheduler.wake_time, mine), (app.scheduler.wake_time, create)]
        results = {
            row.name: timed(action, row.repeats, before)
            for row, (action, before) in zip(ROWS, queries, strict=False)
        }
        asyncio.run(app.scheduler.run_due())  # as a running bot: what fell due is done
        for row, (action, before) in zip(ROWS[len(queries) :], wake_ups, strict=True):
            results[row.name] = timed(action, row.repeats, before)
        return results
    finally:
        app.close()


def export(db: Path, out: Path) -> dict[str, float]:
    """The real `jiaoyan-bot export` of everything in a child process: seconds, peak MB."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.export_run", str(db), str(out)],
        capture_output=True,
        text=True,
        env=clean_env({}),
        cwd=out.parent,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"export failed: {done.stderr.strip()[-500:]}")
    data: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def dataset(size: Size, work: Path, cache: Path) -> tuple[Path, str]:
    path, counts, seconds = cached(size, cache)
    copy = work / path.name
    shutil.copyfile(path, copy)
    made = f"generated in {seconds:.0f} s" if seconds else "from the cache"
    summary = ", ".join(f"{n:,} {table}" for table, n in counts.items())
    return copy, f"{summary} ({made}, {path.stat().st_size / 2**20:.0f} MB)"


async def run(report: Report, work: Path, cache: Path = CACHE) -> None:
    results: dict[str, dict[str, tuple[float, float]]] = {}
    exports: dict[str, dict[str, float]] = {}
    for size in (DISTRICT, PROVINCE):
        db, summary = await asyncio.to_thread(dataset, size, work, cache)
        report.add(SECTION, f"{size.name} dataset", summary)
        results[size.name] = await asyncio.to_thread(measure, db)
        exports[size.name] = await asyncio.to_thread(export, db, work / f"{size.name}.xlsx")
    for row in ROWS:
        small, large = results[DISTRICT.name][row.name], results[PROVINCE.name][row.name]
        report.add(
            SECTION,
            row.name,
            f"province {large[0]:.1f} ms median, {large[1]:.1f} ms max; "
            f"district {small[0]:.1f} ms median ({large[0] / max(small[0], 0.01):.1f}×)",
            target=f"< {row.target_ms:g} ms at province",
            ok=large[1] < row.target_ms,
        )
    small_x, large_x = exports[DISTRICT.name], exports[PROVINCE.name]
    report.add(
        SECTION,
        "full export to .xlsx (jiaoyan-bot export, all alliances, all time)",
        f"province {large_x['seconds']:.1f} s, peak RSS {large_x['peak_mb']:.0f} MB; "
        f"district {small_x['seconds']:.1f} s, {small_x['peak_mb']:.0f} MB",
        target=f"< {EXPORT_TARGET_S} s, < {EXPORT_TARGET_MB} MB at province",
        ok=large_x["seconds"] < EXPORT_TARGET_S and large_x["peak_mb"] < EXPORT_TARGET_MB,
        command="python -m bench --only province",
    )
