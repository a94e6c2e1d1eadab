"""`serve` as two processes, as an operator meets it: the worker shows in /healthz, comes back
after a crash without losing a callback, dies with `serve`, and can be switched off.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import aiohttp

from bot.worker_process import lock_path
from storage.intake import intake_path
from tests.fakes.campus import seed_campus
from tests.fakes.world import wecom_values

from .conftest import RealWorld, ServeProcess, StartServe
from .test_kill9 import Callback, answer_key, answers, build_callbacks, post

DEADLINE = 30.0


def child_pids(server: ServeProcess) -> list[int]:
    pid = server.proc.pid
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def is_worker(pid: int) -> bool:
    try:
        return b"bot.worker_process" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False


def worker_pids(server: ServeProcess) -> list[int]:
    return [pid for pid in child_pids(server) if is_worker(pid)]


def intake_sibling_pids(server: ServeProcess) -> list[int]:
    """The intake processes `serve` forked (they run `serve`'s own command line)."""
    return [pid for pid in child_pids(server) if alive(pid) and not is_worker(pid)]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


async def until(what: str, check: object) -> None:
    """Poll `check()` (bounded) until it is true."""
    deadline = time.monotonic() + DEADLINE
    while True:
        result = check() if callable(check) else check
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_a_crashed_worker_is_restarted_and_callbacks_meanwhile_are_answered_once(
    tmp_path: Path, real_world: RealWorld, start_serve: StartServe
) -> None:
    fake = real_world.fake
    db = tmp_path / "bot.db"
    campus = seed_campus(db, datetime.now().astimezone(), 40)
    server = await start_serve(db, wecom_values(db, fake, long_connection=False))
    callbacks = build_callbacks(fake, campus)[:40]
    async with aiohttp.ClientSession() as session:
        await until("the worker to run", _health_says(server, session, "running"))
        [first_worker] = worker_pids(server)

        before = callbacks[:10]
        assert {await post(session, server, cb) for cb in before} == {200}
        await until("the first answers", lambda: len(answers(fake)) == len(before))
        # ...and recorded as sent: a kill between a send and its record would resend it
        # (the at-least-once window docs/reliability.md describes), which is not tested here.
        await until("the outbox to be empty", _outbox_empty(server, session))

        os.kill(first_worker, signal.SIGKILL)
        await until("the crash to be noticed", lambda: not alive(first_worker))
        # Until the new worker is up, /healthz says so with a 503 (for Docker and monitors).
        status, body = await health_once(session, server, "worker", "restarting")
        assert status == 503 and body["status"] == "degraded"
        # While no worker runs, callbacks are still stored and acknowledged.
        during = callbacks[10:]
        statuses = await asyncio.gather(*(post(session, server, cb) for cb in during))
        assert set(statuses) == {200}

        await until("a new worker", lambda: worker_pids(server) not in ([], [first_worker]))
        await until("the new worker to run", _health_says(server, session, "running"))
        await until("every answer", lambda: len(answers(fake)) == len(callbacks))
        health = await server.health(session)
    counted = answers(fake)
    assert {answer_key(cb): counted[answer_key(cb)] for cb in callbacks} == {
        answer_key(cb): 1 for cb in callbacks
    }
    assert health["outbox"] == {"pending": 0, "failed": 0}
    log = server.log.read_text(errors="replace")
    assert "worker process ended (exit code -9); starting it again" in log


async def health_once(
    session: aiohttp.ClientSession, server: ServeProcess, key: str, value: str
) -> tuple[int, dict[str, object]]:
    """Poll /healthz (bounded) until `key` shows `value`; that answer's status and body."""
    seen: list[tuple[int, dict[str, object]]] = []

    async def shows() -> bool:
        async with session.get(server.base_url + "/healthz") as resp:
            seen.append((resp.status, await resp.json()))
        return seen[-1][1].get(key) == value

    await until(f"/healthz to show {key} {value}", shows)
    return seen[-1]


def _outbox_empty(server: ServeProcess, session: aiohttp.ClientSession) -> object:
    async def check() -> bool:
        return (await server.health(session))["outbox"]["pending"] == 0

    return check


def _health_says(server: ServeProcess, session: aiohttp.ClientSession, state: str) -> object:
    async def check() -> bool:
        return (await server.health(session)).get("worker") == state

    return check


async def test_the_worker_runs_at_idle_priority_stays_small_and_dies_with_serve(
    tmp_path: Path, real_world: RealWorld, start_serve: StartServe
) -> None:
    db = tmp_path / "bot.db"
    server = await start_serve(db, wecom_values(db, real_world.fake, long_connection=False))
    async with aiohttp.ClientSession() as session:
        await until("the worker to run", _health_says(server, session, "running"))
    [worker] = worker_pids(server)
    # Callbacks come first: the worker only gets CPU time the intake process leaves.
    policy = int(Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[38])
    assert policy == os.SCHED_IDLE
    # Memory: a running worker has loaded neither numpy (sqlite-utils would import it), nor
    # the word dictionary (it comes with the first search; digests build in a child), nor
    # wechatpy's dependencies (only the intake process answers app callbacks).
    mapped = Path(f"/proc/{worker}/maps").read_text()
    for library in ("numpy", "rjieba", "charset_normalizer"):
        assert library not in mapped
    [sibling] = intake_sibling_pids(server)  # the second intake process: no lower priority
    assert int(Path(f"/proc/{sibling}/stat").read_text().rsplit(")", 1)[1].split()[38]) == 0
    server.kill9()
    await until("the worker to die with serve", lambda: not alive(worker))
    await until("the other intake process to die with serve", lambda: not alive(sibling))


async def test_two_intake_processes_share_the_port_and_one_dying_leaves_the_other_answering(
    tmp_path: Path, real_world: RealWorld, start_serve: StartServe
) -> None:
    fake = real_world.fake
    db, server, callbacks = await serve_teachers(
        tmp_path, real_world, start_serve, 60, JIAOYAN_INTAKE_PROCESSES="2"
    )
    # A new connection per callback, as WeCom's servers make them: the kernel spreads those.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        await until("the worker to run", _health_says(server, session, "running"))
        assert (await server.health(session))["intake_processes"] == "2/2"
        first, later = callbacks[:40], callbacks[40:]
        assert set(await asyncio.gather(*(post(session, server, cb) for cb in first))) == {200}
        await until("the first answers", lambda: len(answers(fake)) == len(first))
        # Both intake processes took callbacks, each into its own intake file.
        assert intake_rows(db, 0) and intake_rows(db, 1)
        assert intake_rows(db, 0) + intake_rows(db, 1) == len(first)

        [sibling] = intake_sibling_pids(server)
        os.kill(sibling, signal.SIGKILL)
        await until("the death to be noticed", lambda: not intake_sibling_pids(server))
        status, body = await health_once(session, server, "intake_processes", "1/2")
        assert status == 503 and body["status"] == "degraded"
        # The kernel gives the dead one's connections to the other: nothing is refused.
        assert set(await asyncio.gather(*(post(session, server, cb) for cb in later))) == {200}
        await until("every answer", lambda: len(answers(fake)) == len(callbacks))
    counted = answers(fake)
    assert {answer_key(cb): counted[answer_key(cb)] for cb in callbacks} == {
        answer_key(cb): 1 for cb in callbacks
    }
    assert "intake process 1 ended" in server.log.read_text(errors="replace")


async def serve_teachers(
    tmp_path: Path, real_world: RealWorld, start_serve: StartServe, teachers: int, **settings: str
) -> tuple[Path, ServeProcess, list[Callback]]:
    """`serve` on a new campus of `teachers`, with these settings; one callback per teacher."""
    db = tmp_path / "bot.db"
    campus = seed_campus(db, datetime.now().astimezone(), teachers)
    values = {**wecom_values(db, real_world.fake, long_connection=False), **settings}
    server = await start_serve(db, values)
    return db, server, build_callbacks(real_world.fake, campus)[:teachers]


def intake_rows(db: Path, shard: int) -> int:
    conn = sqlite3.connect(f"file:{intake_path(db, shard)}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM intake").fetchone()[0])
    finally:
        conn.close()


async def test_one_process_when_the_worker_process_is_switched_off(
    tmp_path: Path, real_world: RealWorld, start_serve: StartServe
) -> None:
    fake = real_world.fake
    _, server, callbacks = await serve_teachers(
        tmp_path, real_world, start_serve, 4, JIAOYAN_WORKER_PROCESS="false"
    )
    async with aiohttp.ClientSession() as session:
        health = await server.health(session)
        assert "worker" not in health
        assert {await post(session, server, cb) for cb in callbacks} == {200}
        await until("every answer", lambda: len(answers(fake)) == len(callbacks))
    assert worker_pids(server) == []


def test_the_intake_process_stays_small_until_a_dashboard_is_opened() -> None:
    """Memory: the intake process loads neither sqlite-utils (which pulls in numpy) nor the
    dashboard's code at start; both come with the first dashboard request."""
    code = (
        "import sys, bot.launch, bot.split_serve\n"
        "print(sorted(m for m in ('numpy', 'sqlite_utils', 'reports.dashboard', 'bot.app')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


async def test_a_second_worker_on_the_same_database_waits_for_the_first(
    tmp_path: Path, real_world: RealWorld, start_serve: StartServe
) -> None:
    """E.g. `serve` restarted while the old worker still finishes: never two delivering."""
    db = tmp_path / "bot.db"
    lock = lock_path(db)
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # an old worker still holds the database
        server = await start_serve(db, wecom_values(db, real_world.fake, long_connection=False))
        await until(
            "the new worker to say it waits",
            lambda: "another worker process is still running" in server.log.read_text(),
        )
        async with aiohttp.ClientSession() as session:
            assert (await server.health(session))["worker"] == "starting"
            fcntl.flock(held, fcntl.LOCK_UN)  # the old one is gone
            await until("the new worker to run", _health_says(server, session, "running"))
