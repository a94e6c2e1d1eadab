"""Costs that must not grow with the data: the district bench's dataset at district size and
at province size (×10: 100,000 members, 20,000 activities, 800,000 sign-ins, 500,000
reflections), the same figures at both, and the province/district ratio of each.

The datasets are generated once per generator version and kept under the bench cache
directory (`--cache`, default a `jiaoyan-bench` folder in the system temp directory); each
run works on a fresh copy.

With JIAOYAN_BENCH_PG=postgresql://… (any database of a server where that user may create
databases) the same rows are measured on PostgreSQL too, in a second table. The first run
copies each SQLite dataset into a database named after the generator and schema versions
(`storage.copy.copy_to_postgres`, as `jiaoyan-bot db copy --to` does, then VACUUM ANALYZE as
autovacuum would); every run measures a clone of it (CREATE DATABASE ... TEMPLATE).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.district import DISTRICT, GENERATOR_VERSION, NOW, PROVINCE, Size, cached
from bench.procs import clean_env
from bench.report import Report
from bot.core.clock import FakeClock
from bot.core.messages import Channel, ChatType, Incoming
from bot.core.settings import Settings
from bot.runtime.app import create_app
from bot.text.dates import parse_period
from reports.digest import build_digest
from storage import Storage
from storage.copy import copy_to_postgres
from storage.migrations import MIGRATIONS
from tests.postgres import database_url

SECTION = "5. Costs as the data grows: district and province (×10)"
PG_SECTION = "5b. The same on PostgreSQL"
PG_ENV = "JIAOYAN_BENCH_PG"
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


def measure(db: Path | str) -> dict[str, tuple[float, float]]:
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
        create = ask("u1_1", "发起活动 下周三 14:30-16:30 集体备课 地点:尚志市一小", "已发起活动")
        queries: list[Timed] = [
            (ask("staff1", "汇总 本学期", "汇总"), None),
            (ask("u1_1", "汇总 本周", "汇总"), None),
            (mine, None),
            (lambda: build_digest(storage, district, term, clock.now(), with_chart=False), None),
        ]
        # The scheduler re-arms after every message: after most, nothing due changed; after
        # 发起活动, the new activity's reminders are worked out on their own. An alliance
        # leader's activity has a small roll, so the export measured next is unchanged.
        wake_ups: list[Timed] = [(app.scheduler.wake_time, mine), (app.scheduler.wake_time, create)]
        results = {
            row.name: timed(action, row.repeats, before)
            for row, (action, before) in zip(ROWS, queries, strict=False)
        }
        # As a running bot: what fell due is done (its hundreds of "skipped" lines unlogged).
        quiet = logging.getLogger("scheduling")
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            asyncio.run(app.scheduler.run_due())
        finally:
            quiet.setLevel(level)
        for row, (action, before) in zip(ROWS[len(queries) :], wake_ups, strict=True):
            results[row.name] = timed(action, row.repeats, before)
        return results
    finally:
        app.close()


def export(db: Path | str, out: Path) -> dict[str, float]:
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
    Storage.open(copy).close()  # migrated, so a copy to PostgreSQL has every column
    made = f"generated in {seconds:.0f} s" if seconds else "from the cache"
    summary = ", ".join(f"{n:,} {table}" for table, n in counts.items())
    return copy, f"{summary} ({made}, {path.stat().st_size / 2**20:.0f} MB)"


def pg_dataset(size: Size, source: Path, server: str) -> tuple[str, str]:
    """A fresh PostgreSQL database holding the dataset in `source`: a clone of the database
    kept per generator and schema version, copied from `source` the first time."""
    kept = f"jiaoyan_bench_{size.name}_g{GENERATOR_VERSION}_m{MIGRATIONS[-1][0]}"
    fresh = f"jiaoyan_bench_{size.name}_run"
    with psycopg.connect(server, autocommit=True) as admin:
        made = "from the kept database"
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (kept,)).fetchone():
            began = time.perf_counter()
            partial = f"{kept}_part"
            admin.execute(f"DROP DATABASE IF EXISTS {partial} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {partial}")
            copy_to_postgres(source, database_url(server, partial))
            with psycopg.connect(database_url(server, partial), autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
            admin.execute(f"ALTER DATABASE {partial} RENAME TO {kept}")
            made = f"copied in {time.perf_counter() - began:.0f} s"
        began = time.perf_counter()
        admin.execute(f"DROP DATABASE IF EXISTS {fresh} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {fresh} TEMPLATE {kept}")
        cloned = time.perf_counter() - began
        row = admin.execute("SELECT pg_database_size(%s)", (fresh,)).fetchone()
        assert row is not None
    summary = f"{made}, cloned in {cloned:.1f} s, {int(row[0]) / 2**20:.0f} MB"
    return database_url(server, fresh), summary


def drop(server: str, url: str) -> None:
    with psycopg.connect(server, autocommit=True) as admin:
        name = url.partition("?")[0].rpartition("/")[2]
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


Figures = dict[str, tuple[float, float]]


async def run(report: Report, work: Path, cache: Path = CACHE) -> None:
    server = os.environ.get(PG_ENV)
    results: dict[str, Figures] = {}
    exports: dict[str, dict[str, float]] = {}
    pg_results: dict[str, Figures] = {}
    pg_exports: dict[str, dict[str, float]] = {}
    for size in (DISTRICT, PROVINCE):
        db, summary = await asyncio.to_thread(dataset, size, work, cache)
        report.add(SECTION, f"{size.name} dataset", summary)
        if server:
            url, pg_summary = await asyncio.to_thread(pg_dataset, size, db, server)
            report.add(PG_SECTION, f"{size.name} dataset", pg_summary)
            try:
                pg_results[size.name] = await asyncio.to_thread(measure, url)
                pg_exports[size.name] = await asyncio.to_thread(
                    export, url, work / f"{size.name}-pg.xlsx"
                )
            finally:
                await asyncio.to_thread(drop, server, url)
        results[size.name] = await asyncio.to_thread(measure, db)
        exports[size.name] = await asyncio.to_thread(export, db, work / f"{size.name}.xlsx")
    add_rows(report, SECTION, results, exports)
    if server:
        add_rows(report, PG_SECTION, pg_results, pg_exports, sqlite=results)


def add_rows(
    report: Report,
    section: str,
    results: dict[str, Figures],
    exports: dict[str, dict[str, float]],
    sqlite: dict[str, Figures] | None = None,
) -> None:
    """The table of one backend: province figures against the targets, the province/district
    ratio, and (for PostgreSQL) the ratio to SQLite's province figure of the same run."""
    for row in ROWS:
        small, large = results[DISTRICT.name][row.name], results[PROVINCE.name][row.name]
        versus = ""
        if sqlite is not None:
            base = sqlite[PROVINCE.name][row.name][0]
            versus = f"; {large[0] / max(base, 0.01):.1f}× SQLite's province median"
        report.add(
            section,
            row.name,
            f"province {large[0]:.1f} ms median, {large[1]:.1f} ms max; "
            f"district {small[0]:.1f} ms median ({large[0] / max(small[0], 0.01):.1f}×){versus}",
            target=f"< {row.target_ms:g} ms at province",
            ok=large[1] < row.target_ms,
        )
    small_x, large_x = exports[DISTRICT.name], exports[PROVINCE.name]
    report.add(
        section,
        "full export to .xlsx (jiaoyan-bot export, all alliances, all time)",
        f"province {large_x['seconds']:.1f} s, peak RSS {large_x['peak_mb']:.0f} MB; "
        f"district {small_x['seconds']:.1f} s, {small_x['peak_mb']:.0f} MB",
        target=f"< {EXPORT_TARGET_S} s, < {EXPORT_TARGET_MB} MB at province",
        ok=large_x["seconds"] < EXPORT_TARGET_S and large_x["peak_mb"] < EXPORT_TARGET_MB,
        command="python -m bench --only province"
        if sqlite is None
        else f"{PG_ENV}=postgresql://… python -m bench --only province",
    )
