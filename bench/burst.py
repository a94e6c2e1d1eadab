"""Benchmark 2: 1,000 teachers sign in to the same activity within one second.

The real `jiaoyan-bot serve` (SQLite file, both HTTP callbacks, outbox worker) receives one
signed callback per teacher, paced evenly over one second — half by the smart bot in the
alliance group (reply via response_url), half privately to the app (reply via message/send).
Checked: every sign-in stored exactly once, every teacher answered exactly once; measured:
the time to acknowledge each callback (by `bench.pacer`, a process of its own) and to drain
the outbox into the fake WeCom API.

With JIAOYAN_BENCH_PG=postgresql://… (an empty database) `serve` runs on PostgreSQL; with also
JIAOYAN_BENCH_INSTANCES=N, N `serve` processes share it and the callbacks are dealt out
between them, as nginx would (docs/capacity.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import payloads
from bench.procs import REPO, clean_env, free_port, run_server, serve_args
from bench.report import Report
from bench.world import seed_campus, serve_fake
from storage import Storage
from tests.fakes.world import wecom_values

SECTION = "2. Sign-in burst (1,000 teachers, one activity, one second)"
TEACHERS = 1_000
DRAIN_TIMEOUT = 120.0


def _signins(db: Path | str, activity_id: int) -> tuple[int, int]:
    storage = Storage.open(db)
    try:
        rows = storage.db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT member_id) FROM signins WHERE activity_id = ?",
            (activity_id,),
        ).fetchone()
        return int(rows[0]), int(rows[1])
    finally:
        storage.close()


async def _pace(base: str, load: Path) -> dict[str, Any]:
    """Send one server its callbacks over one second, from a process of its own."""
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
    return dict(json.loads(out))


async def run(report: Report, work: Path) -> None:
    async with serve_fake() as fake:
        db: Path | str = os.environ.get("JIAOYAN_BENCH_PG") or work / "burst.db"
        instances = (
            int(os.environ.get("JIAOYAN_BENCH_INSTANCES") or 1) if isinstance(db, str) else 1
        )
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
        env = clean_env(wecom_values(db, fake, long_connection=False))
        with contextlib.ExitStack() as servers:
            bases = []
            for _ in range(instances):
                port = free_port()
                bot = servers.enter_context(
                    run_server(
                        serve_args(port), port=port, ready_path="/healthz", work_dir=work, env=env
                    )
                )
                bases.append(bot.base_url)
            loads = []
            for k, base in enumerate(bases):
                load = work / f"burst-requests-{k}.json"
                share = requests[k::instances]
                load.write_text(json.dumps(share, ensure_ascii=False), encoding="utf-8")
                loads.append((base, load))
            # The load generators run in their own processes (like wrk for benchmark 1): this
            # process serves the fake WeCom API that receives the replies meanwhile.
            results = await asyncio.gather(*(_pace(base, load) for base, load in loads))
            latencies: list[float] = [ms for result in results for ms in result["latencies_ms"]]
            statuses: Counter[int] = Counter()
            for result in results:
                statuses.update({int(k): v for k, v in result["statuses"].items()})
            start = min(float(result["began"]) for result in results)
            acked = max(float(result["ended"]) for result in results)
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
    engine = "" if instances == 1 else f" ({instances} serve processes)"
    if isinstance(db, str):
        engine = f" on PostgreSQL{engine}"
    report.add(
        SECTION,
        f"callbacks acknowledged{engine}",
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
