"""Two real `serve` processes on one PostgreSQL database, behind no balancer: each gets
callbacks directly. Promises under test (issue 17): a callback redelivered to the other
instance is stored and answered once; a scheduled notice goes out once, from the one leading
instance, which alone holds the long connection; after `kill -9` of the leader the other one
takes the lead within seconds and sends the next notice that falls due.

Skipped without PostgreSQL, like every PostgreSQL test (CI has it).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import aiohttp
import psycopg
from aiohttp.test_utils import TestServer

from storage import Storage
from storage.models import NoticeStatus
from tests.fakes.campus import GROUP_HTTP, seed_campus
from tests.fakes.wecom_api import DEFAULT_AGENT_ID, DEFAULT_CORP_ID, webhook_url
from tests.fakes.wecom_crypto import app_text_xml
from tests.fakes.world import wecom_values

from .conftest import RealWorld, ServeProcess, StartServe

DEADLINE = 60.0
DASHBOARD_SECRET = "the-same-secret-on-every-instance"
PUBLIC_URL = "https://jiaoyan.example.edu.cn"
LINK = re.compile(re.escape(PUBLIC_URL) + r"(/reports/\S+)")


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `condition` until it holds; fail after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        await asyncio.sleep(0.05)


def schedule_notice(url: str, alliance_id: int, body: str, at: datetime) -> None:
    storage = Storage.open(url)
    try:
        storage.notices.create(
            alliance_id=alliance_id,
            body=body,
            needs_ack=False,
            author_id=None,
            created_at=at,
            publish_at=at,
            status=NoticeStatus.SCHEDULED,
        )
    finally:
        storage.close()


async def test_two_instances_answer_once_remind_once_and_fail_over(
    pg_url: str,
    real_world: RealWorld,
    start_serve: StartServe,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> None:
    fake = real_world.fake
    ws_server = await aiohttp_server(fake.ws.make_app(), host="127.0.0.1")
    fake.ws_url = str(ws_server.make_url("/")).replace("http://", "ws://", 1)
    now = datetime.now(UTC)
    campus = seed_campus(pg_url, now, 5)
    storage = Storage.open(pg_url)
    try:  # the group also has a webhook, so notices can be pushed into it
        storage.chats.bind(
            GROUP_HTTP,
            "aibot_http",
            campus.alliance_id,
            bound_by="admin1",
            at=now,
            webhook_url=webhook_url(fake.api_base),
        )
    finally:
        storage.close()
    schedule_notice(pg_url, campus.alliance_id, "周五集体备课", now + timedelta(seconds=5))
    settings = wecom_values(pg_url, fake)
    settings.update(JIAOYAN_DASHBOARD_SECRET=DASHBOARD_SECRET, JIAOYAN_PUBLIC_URL=PUBLIC_URL)

    first = await start_serve(pg_url, settings)
    second = await start_serve(pg_url, settings)

    def notices(body: str) -> int:
        return sum(
            1
            for m in fake.api.messages
            if m.api == "webhook/send" and m.content is not None and body in m.content
        )

    async with aiohttp.ClientSession() as session:

        async def roles() -> dict[str, str]:
            return {
                server.base_url: (await server.health(session))["role"]
                for server in (first, second)
                if server.proc.poll() is None
            }

        async def one_leader() -> bool:
            return sorted((await roles()).values()) == ["follower", "leader"]

        await until(one_leader, "one leader and one follower")
        leader, follower = (
            (first, second) if (await roles())[first.base_url] == "leader" else (second, first)
        )

        def callback(userid: str, text: str, msgid: str) -> tuple[str, str]:
            """An app callback as WeCom posts it (encrypted and signed): path, body."""
            stamp = int(time.time())
            xml = app_text_xml(
                corp_id=DEFAULT_CORP_ID,
                from_user=userid,
                content=text,
                msg_id=msgid,
                create_time=stamp,
                agent_id=str(DEFAULT_AGENT_ID),
            )
            query, body = fake.app.app_post(xml, stamp)
            return f"/wecom/app?{urlencode(query)}", body

        async def post(server: ServeProcess, path: str, body: str) -> int:
            async with session.post(server.base_url + path, data=body.encode()) as resp:
                await resp.read()
                return resp.status

        # The same app callback, delivered to both instances (WeCom retried it elsewhere).
        signin = callback("t1", f"签到 {campus.signin.code}", "7700000001")
        assert await asyncio.gather(post(first, *signin), post(second, *signin)) == [200, 200]

        async def answered_and_idle() -> bool:
            pending = [(await s.health(session))["outbox"]["pending"] for s in (first, second)]
            return bool(fake.api.messages_for("t1")) and pending == [0, 0]

        await until(answered_and_idle, "the sign-in answered")
        assert len(fake.api.messages_for("t1")) == 1
        with psycopg.connect(pg_url) as conn:
            row = conn.execute("SELECT COUNT(*) FROM inbox WHERE msgid = '7700000001'").fetchone()
        assert row is not None and row[0] == 1

        # A dashboard link made by one instance opens on the other.
        assert await post(follower, *callback("staff1", "看板", "7700000002")) == 200

        async def link_sent() -> bool:
            return any(LINK.search(m.content or "") for m in fake.api.messages_for("staff1"))

        await until(link_sent, "the dashboard link")
        [link] = [
            found.group(1)
            for m in fake.api.messages_for("staff1")
            if (found := LINK.search(m.content or ""))
        ]
        async with session.get(leader.base_url + link) as resp:
            assert resp.status == 200
            assert "尚志市小学语文" in await resp.text()

        # The scheduled notice: sent once, and one long connection for the bot.
        async def first_notice_sent() -> bool:
            return notices("周五集体备课") >= 1

        await until(first_notice_sent, "the first notice")
        assert fake.ws.subscriptions == 1
        assert (await follower.health(session))["long_connection"] == "standby"

        # The leader dies; the next notice falls due a few seconds later.
        schedule_notice(
            pg_url, campus.alliance_id, "下周一教研", datetime.now(UTC) + timedelta(seconds=4)
        )
        leader.kill9()

        async def follower_leads() -> bool:
            return (await follower.health(session))["role"] == "leader"

        await until(follower_leads, "the follower to take the lead")

        async def second_notice_sent() -> bool:
            return notices("下周一教研") >= 1

        await until(second_notice_sent, "the next notice, from the new leader")
        # The new leader holds the long connection now.
        await asyncio.wait_for(fake.ws.wait_subscribed(2), DEADLINE)
        assert notices("周五集体备课") == 1
        assert notices("下周一教研") == 1
