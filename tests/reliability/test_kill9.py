"""kill -9 in the middle of a sign-in and reflection burst, then a restart on the same file.

Promise under test (DESIGN §8): every callback that got its HTTP 200 is stored and answered
exactly once; WeCom's retries of those that did not get one are processed once. While the
burst runs the WeCom API is slow (its answers are held), so replies are still queued or in
flight when the process dies; WeCom never saw a request whose sender died.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from tests.fakes.campus import BOT_NAME, GROUP_HTTP, REFLECTION, Campus, seed_campus
from tests.fakes.wecom_api import DEFAULT_AGENT_ID, DEFAULT_CORP_ID
from tests.fakes.wecom_crypto import app_text_xml
from tests.fakes.world import AIBOT_ID, FakeWeCom, wecom_values

from .conftest import RealWorld, ServeProcess, StartServe

TEACHERS = 400
KILL_AFTER_ACKS = 120
DEADLINE = 60.0


@dataclass(frozen=True)
class Callback:
    """One teacher's message as WeCom sends it, with how we recognise its answer."""

    teacher: int
    signin: bool
    channel: str  # "aibot" (group, response_url) or "app" (private, message/send)
    msgid: str
    path: str
    body: str

    @property
    def userid(self) -> str:
        return f"t{self.teacher + 1}"


def build_callbacks(fake: FakeWeCom, campus: Campus) -> list[Callback]:
    stamp = int(time.time())
    callbacks = []
    for i in range(TEACHERS):
        signin = i % 2 == 0
        text = (
            f"签到 {campus.signin.code}" if signin else f"反思 {campus.reflect.code} {REFLECTION}"
        )
        if i % 4 < 2:
            msgid = f"k9-{i}"
            payload = {
                "msgid": msgid,
                "aibotid": AIBOT_ID,
                "chattype": "group",
                "chatid": GROUP_HTTP,
                "from": {"userid": campus.userid(i)},
                "response_url": fake.response_url(msgid),
                "msgtype": "text",
                "text": {"content": f"{BOT_NAME} {text}"},
            }
            query, body = fake.aibot.aibot_post(payload, stamp)
            path = "/wecom/aibot"
            channel = "aibot"
        else:
            msgid = str(9_100_000_000 + i)
            xml = app_text_xml(
                corp_id=DEFAULT_CORP_ID,
                from_user=campus.userid(i),
                content=text,
                msg_id=msgid,
                create_time=stamp,
                agent_id=str(DEFAULT_AGENT_ID),
            )
            query, body = fake.app.app_post(xml, stamp)
            path = "/wecom/app"
            channel = "app"
        callbacks.append(Callback(i, signin, channel, msgid, f"{path}?{urlencode(query)}", body))
    return callbacks


async def post(session: aiohttp.ClientSession, server: ServeProcess, cb: Callback) -> int | None:
    """The HTTP status, or None when the connection died before an answer."""
    try:
        async with session.post(server.base_url + cb.path, data=cb.body.encode()) as resp:
            await resp.read()
            return resp.status
    except (aiohttp.ClientError, ConnectionError):
        return None


def inbox(db: Path) -> dict[tuple[str, str], str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT channel, msgid, status FROM inbox").fetchall()
    finally:
        conn.close()
    return {(row[0], row[1]): row[2] for row in rows}


def children(pid: int) -> list[str]:
    """The process's child processes (Linux's /proc; none known elsewhere)."""
    listing = Path(f"/proc/{pid}/task/{pid}/children")
    return listing.read_text().split() if listing.exists() else []


def answers(fake: FakeWeCom) -> Counter[str]:
    """How often each message was answered: response_url by msgid, the app by member."""
    counted: Counter[str] = Counter(fake.response_codes)
    counted.update(m.target for m in fake.api.messages if m.api == "message/send")
    return counted


def answer_key(cb: Callback) -> str:
    return cb.msgid if cb.channel == "aibot" else cb.userid


async def test_kill9_mid_burst_loses_no_acknowledged_message_and_answers_each_once(
    tmp_path: Path, real_world: RealWorld, start_serve: StartServe
) -> None:
    fake, hold = real_world.fake, real_world.hold
    db = tmp_path / "bot.db"
    campus = seed_campus(db, datetime.now().astimezone(), TEACHERS)
    settings = wecom_values(db, fake, long_connection=False)
    callbacks = build_callbacks(fake, campus)

    first = await start_serve(db, settings)
    hold.close()  # WeCom answers slowly: replies pile up in the outbox and in flight
    statuses: dict[int, int | None] = {}
    acked = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(cb: Callback) -> None:
            statuses[cb.teacher] = await post(session, first, cb)
            if sum(1 for s in statuses.values() if s == 200) >= KILL_AFTER_ACKS:
                acked.set()

        burst = asyncio.gather(*(send(cb) for cb in callbacks))
        await asyncio.wait_for(acked.wait(), DEADLINE)
        assert not children(first.proc.pid), "serve is one process: the kill takes all of it"
        first.kill9()  # mid-burst: requests in flight, messages half processed, replies held
        await asyncio.wait_for(burst, DEADLINE)
    hold.open()

    ok = [cb for cb in callbacks if statuses[cb.teacher] == 200]
    lost = [cb for cb in callbacks if statuses[cb.teacher] != 200]
    assert KILL_AFTER_ACKS <= len(ok) < TEACHERS and lost, "the kill did not land mid-burst"
    assert {s for s in statuses.values()} <= {200, None}
    stored = set(inbox(db))
    channel_of = {"aibot": "aibot_http", "app": "app"}
    assert all((channel_of[cb.channel], cb.msgid) in stored for cb in ok)  # nothing acked is lost
    assert not answers(fake), "WeCom must not have seen a reply whose sender died"

    second = await start_serve(db, settings)  # recovers what the kill left unprocessed
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
        # WeCom retries what it got no 200 for, and (a lost 200 looks the same) a few others.
        retried = lost + ok[:20]
        results = await asyncio.gather(*(post(session, second, cb) for cb in retried))
        assert set(results) == {200}
        deadline = time.monotonic() + DEADLINE
        while True:
            health = await second.health(session)
            done = len(answers(fake)) == TEACHERS and health["outbox"]["pending"] == 0
            if done:
                break
            assert time.monotonic() < deadline, (health, len(answers(fake)))
            await asyncio.sleep(0.02)

    counted = answers(fake)
    assert {answer_key(cb): counted[answer_key(cb)] for cb in callbacks} == {
        answer_key(cb): 1 for cb in callbacks
    }
    assert health["outbox"] == {"pending": 0, "failed": 0}
    final = inbox(db)
    assert len(final) == TEACHERS and set(final.values()) == {"processed"}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        signins = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT member_id) FROM signins WHERE activity_id = ?",
            (campus.signin.id,),
        ).fetchone()
        reflections = conn.execute(
            "SELECT COUNT(*), MAX(version) FROM reflections WHERE activity_id = ?",
            (campus.reflect.id,),
        ).fetchone()
    finally:
        conn.close()
    assert tuple(signins) == (TEACHERS // 2, TEACHERS // 2)
    assert tuple(reflections) == (TEACHERS // 2, 1)  # each stored once, never re-versioned
