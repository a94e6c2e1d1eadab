"""Benchmark 2: 1,000 teachers sign in to the same activity within one second.

The real `jiaoyan-bot serve` (SQLite file, both HTTP callbacks, outbox worker) receives one
signed callback per teacher, paced evenly over one second — half by the smart bot in the
alliance group (reply via response_url), half privately to the app (reply via message/send).
Checked: every sign-in stored exactly once, every teacher answered exactly once; measured:
the time to acknowledge each callback (by `bench.pacer`, a process of its own) and to drain
the outbox into the fake WeCom API.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from bench import payloads
from bench.procs import REPO, clean_env, free_port, run_server, serve_args
from bench.report import Report
from bench.world import seed_campus, serve_fake
from tests.fakes.world import wecom_values

SECTION = "2. Sign-in burst (1,000 teachers, one activity, one second)"
TEACHERS = 1_000
DRAIN_TIMEOUT = 120.0


def _signins(db: Path, activity_id: int) -> tuple[int, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT member_id) FROM signins WHERE activity_id = ?",
            (activity_id,),
        ).fetchone()
        return int(rows[0]), int(rows[1])
    finally:
        conn.close()


async def run(report: Report, work: Path) -> None:
    async with serve_fake() as fake:
        db = work / "burst.db"
        campus = seed_campus(db, datetime.now().astimezone(), TEACHERS)
        stamp = int(time.time())
        text = f"签到 {campus.signin.code}"
        # Teacher i+1 signs in: by the smart bot in the group (even i) or the app (odd i).
        requests = [
            payloads.aibot_request(fake, campus, i, msgid=f"b{i}", timestamp=stamp, text=text)
            if i % 2 == 0
            else payloads.app_request(
                fake, campus, i, msgid=7_000_000 + i, timestamp=stamp, text=text
            )
            for i in range(TEACHERS)
        ]
        port = free_port()
        env = clean_env(wecom_values(db, fake, long_connection=False))
        with run_server(
            serve_args(port), port=port, ready_path="/healthz", work_dir=work, env=env
        ) as bot:
            base = bot.base_url
            load = work / "burst-requests.json"
            load.write_text(json.dumps(requests, ensure_ascii=False), encoding="utf-8")
            # The load generator runs in its own process (like wrk for benchmark 1): this
            # process serves the fake WeCom API that receives the replies meanwhile.
            pacer = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.pacer",
                base,
                str(load),
                "1",
                stdout=asyncio.subprocess.PIPE,
                cwd=str(REPO),
            )
            out, _ = await pacer.communicate()
            result = json.loads(out)
            latencies: list[float] = result["latencies_ms"]
            statuses = Counter({int(k): v for k, v in result["statuses"].items()})
            start, acked = float(result["began"]), float(result["ended"])
            deadline = acked + DRAIN_TIMEOUT
            while len(fake.responses) + len(fake.api.messages) < TEACHERS:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.01)
            drained = time.monotonic()
        total, distinct = _signins(db, campus.signin.id)

    answered = Counter(fake.response_codes) + Counter(m.target for m in fake.api.messages)
    once = sum(1 for n in answered.values() if n == 1)
    ordered = sorted(latencies)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    report.add(
        SECTION,
        "callbacks acknowledged",
        f"{statuses[200]}/{TEACHERS} with 200 in {acked - start:.2f} s; ack latency "
        f"p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms",
        target="all 200, p99 < 20 ms, max < 1 s",
        ok=statuses[200] == TEACHERS and p99 < 20 and ordered[-1] < 1000,
    )
    report.add(
        SECTION,
        "sign-ins stored",
        f"{total} rows for {distinct} teachers",
        target="1,000 exactly once",
        ok=total == distinct == TEACHERS,
    )
    report.add(
        SECTION,
        "teachers answered",
        f"{once} answered exactly once, {len(answered) - once} more than once, "
        f"{TEACHERS - len(answered)} not answered",
        target="1,000 exactly once",
        ok=once == TEACHERS and len(answered) == TEACHERS,
    )
    report.add(
        SECTION,
        "outbox drained into the fake WeCom API",
        f"{drained - start:.2f} s after the first callback ({drained - acked:.2f} s after the last ack)",
    )
