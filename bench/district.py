"""Benchmarks 3 and 4 at district scale: 汇总 and the digest, then the Excel export.

The dataset: one district, 20 alliances of 15 schools (300 schools), 10,000 members
(9,800 teachers, 200 alliance leaders), 2,000 activities over the autumn term 2026-09-01 ..
2027-01-31, 80,000 sign-ins and 50,000 reflections, written through the storage repositories.
The clock stands at Friday 2027-01-29 18:00 (Shanghai), so every activity has been held.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.procs import clean_env
from bench.report import Report
from bot.core.clock import FakeClock
from bot.core.messages import Channel, ChatType, Incoming
from bot.core.settings import Settings
from bot.runtime.app import create_app
from bot.text.dates import parse_period
from storage import Storage
from storage.db import to_db_time
from storage.models import Role, SigninStatus

SECTION = "3. 汇总 and digest at district scale"
EXPORT_SECTION = "4. Excel export of the district"
SHANGHAI = ZoneInfo("Asia/Shanghai")
TERM_START = datetime(2026, 9, 1, tzinfo=SHANGHAI)
NOW = datetime(2027, 1, 29, 18, 0, tzinfo=SHANGHAI)
ALLIANCES = 20
SCHOOLS_PER_ALLIANCE = 15
MEMBERS = 10_000
ACTIVITIES = 2_000
SIGNINS = 80_000
REFLECTIONS = 50_000
REPEATS = 5

_OPENINGS = ("今天听了", "本次参加了", "这次观摩了", "通过这次", "在本次")
_SUBJECTS = (
    "《秋天的雨》的同课异构",
    "整本书阅读的集体备课",
    "习作单元的教学研讨",
    "古诗教学的示范课",
    "口语交际的专题讲座",
)
_INSIGHTS = (
    "学生的朗读和想象得到了充分调动，课堂气氛活跃。",
    "我认识到提问要开放，给学生留出思考和表达的空间。",
    "板书设计清晰，重点突出，值得我在自己的课堂上借鉴。",
    "小组合作的分工还不够明确，部分学生参与度不高。",
    "教师对文本的解读很深入，把语言训练落到了实处。",
    "评价语言丰富具体，能激励学生大胆表达。",
)
_PLANS = (
    "下次我要设计更有层次的问题。",
    "今后要加强课堂评价的针对性。",
    "我会把读写结合落实到每一课。",
)


def reflection_text(rng: random.Random) -> str:
    parts = [rng.choice(_OPENINGS) + rng.choice(_SUBJECTS) + "，"]
    parts += rng.sample(_INSIGHTS, k=rng.randint(2, 4))
    parts.append(rng.choice(_PLANS))
    return "".join(parts)


@dataclass(frozen=True)
class Size:
    """How big a generated dataset is. Alliances keep the district's shape (15 schools and
    500 members each, 5 activities a week); a bigger size has more of them under one top
    alliance, so one alliance's figures stay comparable across sizes."""

    name: str
    alliances: int
    members: int
    activities: int
    signins: int
    reflections: int

    def scaled(self, name: str, factor: int) -> Size:
        return Size(
            name,
            self.alliances * factor,
            self.members * factor,
            self.activities * factor,
            self.signins * factor,
            self.reflections * factor,
        )


DISTRICT = Size("district", ALLIANCES, MEMBERS, ACTIVITIES, SIGNINS, REFLECTIONS)
PROVINCE = DISTRICT.scaled("province", 10)
# Bump when `generate` writes different data, so cached databases are rebuilt.
GENERATOR_VERSION = 2
_BATCH = 20_000


def generate(db: Path, size: Size = DISTRICT, seed: int = 8) -> dict[str, int]:
    """Write the dataset into `db` and return the row count of each table.

    The roster and activities go through the repositories (few rows, and they define what
    a row looks like); sign-ins and reflections are written as those repositories write
    them but with `executemany` in batches, so 800,000 rows take seconds, not minutes.
    """
    rng = random.Random(seed)
    storage = Storage.open(db)
    conn = storage.db.conn
    roster, activities = storage.roster, storage.activities
    at = TERM_START - timedelta(days=7)
    created = to_db_time(at)
    try:
        district = roster.ensure_alliance("尚志市小学语文", at=at)
        roster.add_member("周敏", at=at, role=Role.STAFF, alliance_id=district.id, userid="staff1")
        conn.execute("BEGIN")
        members_of: dict[int, list[int]] = {}
        school_of: dict[int, list[int]] = {}
        per_alliance = size.members // size.alliances
        for a in range(size.alliances):
            alliance = roster.ensure_alliance(f"第{a + 1}联盟", at=at, parent_id=district.id)
            schools = [
                roster.ensure_school(f"第{a + 1}联盟{s + 1}号小学", alliance.id).id
                for s in range(SCHOOLS_PER_ALLIANCE)
            ]
            school_of[alliance.id] = schools
            conn.executemany(
                "INSERT INTO members (name, school_id, alliance_id, userid, role, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        f"教师{a + 1}-{m + 1}",
                        schools[m % SCHOOLS_PER_ALLIANCE],
                        alliance.id,
                        f"u{a + 1}_{m + 1}",
                        (Role.LEADER if m < per_alliance // 50 else Role.TEACHER).value,
                        created,
                    )
                    for m in range(per_alliance)
                ],
            )
            members_of[alliance.id] = [
                int(row[0])
                for row in conn.execute(
                    "SELECT id FROM members WHERE alliance_id = ? ORDER BY id", (alliance.id,)
                )
            ]
            if a == 0:
                storage.chats.bind(
                    "wrkAlliance1", Channel.AIBOT_WS.value, alliance.id, bound_by="staff1", at=at
                )
        conn.execute("COMMIT")

        # Every alliance holds its activities on weekdays spread evenly over the term, so each
        # calendar week has four or five per alliance.
        weekdays = [
            TERM_START + timedelta(days=d)
            for d in range((NOW - TERM_START).days + 1)
            if (TERM_START + timedelta(days=d)).weekday() < 5
        ]
        alliance_ids = list(members_of)
        per = size.activities // size.alliances
        held = []
        conn.execute("BEGIN")
        for i in range(size.activities):
            alliance_id = alliance_ids[i % size.alliances]
            day = weekdays[(i // size.alliances) * len(weekdays) // per]
            starts = day.replace(hour=14, minute=30)
            held.append(
                activities.create(
                    alliance_id=alliance_id,
                    kind=rng.choice(("同课异构", "集体备课", "示范课", "专题讲座")),
                    title=rng.choice(_SUBJECTS).strip("《》的"),
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=2),
                    signin_opens_at=starts - timedelta(minutes=30),
                    created_at=at,
                    school_id=rng.choice(school_of[alliance_id]),
                )
            )
        conn.execute("COMMIT")
        signins_per = size.signins // size.activities
        signins = (
            (
                activity.id,
                member_id,
                to_db_time(activity.starts_at - timedelta(minutes=rng.randint(0, 25))),
                SigninStatus.ON_TIME.value,
            )
            for activity in held
            for member_id in rng.sample(members_of[activity.alliance_id], signins_per)
        )
        _insert_batches(
            conn,
            "INSERT INTO signins (activity_id, member_id, at, status) VALUES (?, ?, ?, ?)",
            signins,
        )
        reflections_per = size.reflections // size.activities
        reflections = (
            (
                activity.id,
                member_id,
                reflection_text(rng),
                to_db_time(activity.ends_at + timedelta(hours=3)),
            )
            for activity in held
            for member_id in rng.sample(members_of[activity.alliance_id], reflections_per)
        )
        _insert_batches(
            conn,
            "INSERT INTO reflections (activity_id, member_id, body, version, "
            "first_submitted_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)",
            ((a, m, body, when, when) for a, m, body, when in reflections),
        )
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO reflection_versions (reflection_id, version, body, submitted_at) "
            "SELECT id, version, body, first_submitted_at FROM reflections"
        )
        conn.execute("COMMIT")
        counts = {
            table: int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            for table in ("members", "schools", "alliances", "activities", "signins", "reflections")
        }
        return counts
    finally:
        storage.close()


def _insert_batches(conn: sqlite3.Connection, sql: str, rows: Iterable[tuple[object, ...]]) -> None:
    """`executemany` in batches of `_BATCH` rows, each batch its own transaction."""
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, _BATCH)):
        conn.execute("BEGIN")
        conn.executemany(sql, batch)
        conn.execute("COMMIT")


def cached(size: Size, cache_dir: Path) -> tuple[Path, dict[str, int], float]:
    """The dataset of `size`, generated once per generator version under `cache_dir`.

    Returns (path, counts, seconds spent generating; 0 when it came from the cache).
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{size.name}-v{GENERATOR_VERSION}.db"
    counts_file = path.with_suffix(".json")
    if path.exists() and counts_file.exists():
        return path, json.loads(counts_file.read_text()), 0.0
    partial = path.with_name(path.name + ".part")
    for stale in (
        partial,
        partial.with_name(partial.name + "-wal"),
        partial.with_name(partial.name + "-shm"),
    ):
        stale.unlink(missing_ok=True)
    began = time.perf_counter()
    counts = generate(partial, size)
    seconds = time.perf_counter() - began
    conn = sqlite3.connect(partial)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")  # one self-contained file to copy
    conn.close()
    partial.replace(path)
    counts_file.write_text(json.dumps(counts))
    return path, counts, seconds


def timed(action: Callable[[], object], repeats: int = REPEATS) -> tuple[float, float, object]:
    """(median ms, max ms, last result) over `repeats` runs after one warm-up."""
    result = action()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        result = action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), max(times), result


async def run(report: Report, work: Path) -> None:
    db = work / "district.db"
    began = time.perf_counter()
    counts = await asyncio.to_thread(generate, db)
    report.add(
        SECTION,
        "dataset",
        ", ".join(f"{n:,} {table}" for table, n in counts.items())
        + f" (generated in {time.perf_counter() - began:.0f} s, {db.stat().st_size / 2**20:.0f} MB file)",
    )
    clock = FakeClock(NOW)
    settings = Settings(_env_file=None, JIAOYAN_DB=db)  # type: ignore[call-arg]
    storage = Storage.open(db)
    app = create_app(settings, clock=clock, storage=storage, private_channel=Channel.APP)
    try:

        def ask(userid: str, text: str) -> str:
            incoming = Incoming(
                channel=Channel.APP,
                msgid=f"q{time.perf_counter_ns()}",
                userid=userid,
                text=text,
                chat_type=ChatType.SINGLE,
                received_at=clock.now(),
            )
            effects = app.dispatcher.handle_sync(incoming)
            return "\n".join(getattr(e, "text", "") for e in effects)

        median, worst, answer = timed(lambda: ask("u1_1", "汇总 本周"))
        report.add(
            SECTION,
            "汇总 本周 by an alliance leader (500 members, 5 activities)",
            f"{median:.0f} ms median, {worst:.0f} ms max of {REPEATS}",
            target="< 300 ms",
            ok=worst < 300,
        )
        assert "汇总" in str(answer), answer
        median, worst, answer = timed(lambda: ask("staff1", "汇总 本学期"), repeats=3)
        report.add(
            SECTION,
            "汇总 本学期 by the district 教研员 (10,000 members, 2,000 activities)",
            f"{median:.0f} ms median, {worst:.0f} ms max of 3",
            target="< 2 s",
            ok=worst < 2000,
        )
        assert "活动 2000 次" in str(answer), str(answer)[:300]

        from reports.digest import build_digest

        alliance = storage.roster.alliance_by_name("第1联盟")
        district = storage.roster.alliance_by_name("尚志市小学语文")
        assert alliance is not None and district is not None
        week = parse_period("本周", clock.now())
        term = parse_period("本学期", clock.now())
        assert week is not None and term is not None
        median, worst, _ = timed(
            lambda: build_digest(storage, alliance, week, clock.now(), with_chart=False)
        )
        report.add(
            SECTION,
            "reports.digest.build_digest, alliance-week (no chart)",
            f"{median:.0f} ms median, {worst:.0f} ms max of {REPEATS}",
            target="< 300 ms",
            ok=worst < 300,
        )
        median, worst, _ = timed(
            lambda: build_digest(storage, district, term, clock.now(), with_chart=False), repeats=3
        )
        report.add(
            SECTION,
            "reports.digest.build_digest, district term (no chart)",
            f"{median:.0f} ms median, {worst:.0f} ms max of 3",
            target="< 2 s",
            ok=worst < 2000,
        )
    finally:
        storage.close()
    await _export(report, work, db)


async def _export(report: Report, work: Path, db: Path) -> None:
    out = work / "district.xlsx"
    args = [sys.executable, "-m", "bench.export_run", str(db), str(out)]
    done = await asyncio.to_thread(
        subprocess.run,
        args,
        capture_output=True,
        text=True,
        env=clean_env({}),
        cwd=work,
        check=False,
    )
    if done.returncode != 0:
        report.note(f"export failed: {done.stderr.strip()[-500:]}")
        return
    data = json.loads(done.stdout.strip().splitlines()[-1])
    report.add(
        EXPORT_SECTION,
        "jiaoyan-bot export (whole district, all time) to .xlsx",
        f"{data['seconds']:.1f} s, peak RSS {data['peak_mb']:.0f} MB, file {out.stat().st_size / 2**20:.1f} MB; {data['summary']}",
        command="jiaoyan-bot export --db DB -o district.xlsx (via python -m bench.export_run)",
    )
