"""The whole bot as `serve` builds it, against fake WeCom servers on 127.0.0.1.

Real pieces: settings, `build_runtime` (App, router, handlers, SQLite in tmp_path, pipeline,
outbox, channels, senders, web app). Fake pieces: WeCom's API (`FakeWeComAPI`, plus a
response_url endpoint recorded here), WeCom's long-connection server (`FakeWeComWS`), and
WeCom's side of the callbacks (`WeComSide`: real AES and signatures). Time is a FakeClock;
API retries "sleep" by moving it, so nothing here waits for real time. The outbox worker is
driven with `run_once()` unless a test asks for the background one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.base import IncomingSink
from bot.core.clock import FakeClock
from bot.core.messages import Channel, Incoming
from bot.core.settings import Settings
from bot.runtime.app import App
from bot.runtime.serve import Runtime, RuntimeOptions, SinkFactory, open_runtime
from storage import Storage
from storage.models import Activity, Member, Role
from tests.fakes.wecom_api import DEFAULT_AGENT_ID, DEFAULT_CORP_ID, webhook_url
from tests.fakes.wecom_crypto import app_text_xml
from tests.fakes.world import (
    AIBOT_ID,
    WECOM_ENV,
    ClockSleep,
    FakeWeCom,
    api_application,
    new_fake_wecom,
    wecom_values,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Tuesday 2026-11-24, 14:10 in Shanghai: activity A1 starts at 14:30, sign-in opened at 14:00.
START = datetime(2026, 11, 24, 14, 10, tzinfo=SHANGHAI)
AFTER_ACTIVITY = datetime(2026, 11, 24, 16, 40, tzinfo=SHANGHAI)

GROUP_WS = "wrkEastLongConn"  # east alliance group where the smart bot (long connection) sits
GROUP_HOOK = "wrkEastPushOnly"  # east alliance group reached by its group-robot webhook
GROUP_HTTP = "wrkEastCallback"  # a group where the smart bot runs in callback mode
BOT_NAME = "@教研助手"

REFLECTION = (
    "今天听了王老师的《秋天的雨》，她用朗读带动想象，学生参与度很高。"
    "我的课堂提问太碎，下次要设计更开放的问题。"
)


def signin_reply(name: str, at: str = "下午 14:10") -> str:
    return f"{name} 签到成功（A1 {at}）。活动后记得交反思：反思 A1 正文"


def reflection_reply(name: str, text: str = REFLECTION) -> str:
    length = sum(1 for ch in text if not ch.isspace())
    return f"已收到 {name} 对 A1 的反思（{length} 字），谢谢！"


@dataclass(frozen=True)
class Seeded:
    activity: Activity
    teacher: Member  # 王芳, userid t1
    staff: Member  # 周敏, userid staff1


def seed(storage: Storage, at: datetime, hook_url: str) -> Seeded:
    """A district with one alliance, its schools and people, activity A1 and two bound groups."""
    roster = storage.roster
    district = roster.ensure_alliance("尚志市小学语文", at=at)
    east = roster.ensure_alliance("东部联盟", at=at, parent_id=district.id)
    yixiao = roster.ensure_school("东部一小", east.id)
    erxiao = roster.ensure_school("东部二小", east.id)
    staff = roster.add_member(
        "周敏", at=at, role=Role.STAFF, alliance_id=district.id, userid="staff1"
    )
    roster.add_member(
        "刘洋", at=at, role=Role.LEADER, school_id=yixiao.id, alliance_id=east.id, userid="lead1"
    )
    teacher = roster.add_member(
        "王芳", at=at, school_id=yixiao.id, alliance_id=east.id, userid="t1"
    )
    roster.add_member("李强", at=at, school_id=yixiao.id, alliance_id=east.id, userid="t2")
    roster.add_member("张敏", at=at, school_id=erxiao.id, alliance_id=east.id, userid="t3")
    roster.add_member("管理员", at=at, role=Role.ADMIN, userid="admin1")
    day = at.astimezone(SHANGHAI).date()
    starts = datetime(day.year, day.month, day.day, 14, 30, tzinfo=SHANGHAI)
    activity = storage.activities.create(
        alliance_id=east.id,
        kind="同课异构",
        title="《秋天的雨》",
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        signin_opens_at=starts - timedelta(minutes=30),
        created_at=at,
        place="东部一小",
        school_id=yixiao.id,
        hours=3,
    )
    storage.chats.bind(GROUP_WS, Channel.AIBOT_WS.value, east.id, bound_by="admin1", at=at)
    storage.chats.bind(
        GROUP_HOOK, Channel.WEBHOOK.value, east.id, bound_by="admin1", at=at, webhook_url=hook_url
    )
    return Seeded(activity=activity, teacher=teacher, staff=staff)


class NotifyingSink:
    """Wraps the real pipeline and lets a test wait (on a condition) until messages arrived."""

    def __init__(self, inner: IncomingSink) -> None:
        self.inner = inner
        self.submitted: list[tuple[Incoming, bool]] = []
        self._changed = asyncio.Condition()

    async def submit(self, incoming: Incoming) -> bool:
        fresh = await self.inner.submit(incoming)
        self.submitted.append((incoming, fresh))
        async with self._changed:
            self._changed.notify_all()
        return fresh

    async def wait_submitted(self, count: int) -> None:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.submitted) >= count), timeout=10
            )


def make_settings(db: Path | str, fake: FakeWeCom | None = None, **extra: Any) -> Settings:
    """Settings as an admin would write them in .env (here: pointing at the fakes)."""
    values = wecom_values(db, fake)
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only what a test sets counts: no WECOM_* or JIAOYAN_* from the developer's shell."""
    for name in WECOM_ENV:
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def fake(clock: FakeClock, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> FakeWeCom:
    fake = new_fake_wecom(clock)
    api_server = await aiohttp_server(api_application(fake), host="127.0.0.1")
    fake.api_base = str(api_server.make_url("")).rstrip("/")
    ws_server = await aiohttp_server(fake.ws.make_app(), host="127.0.0.1")
    fake.ws_url = str(ws_server.make_url("/")).replace("http://", "ws://", 1)
    return fake


@pytest.fixture
def settings(db_target: Path | str, fake: FakeWeCom) -> Settings:
    return make_settings(db_target, fake)


@pytest.fixture
def seeded(settings: Settings, fake: FakeWeCom, clock: FakeClock) -> Seeded:
    storage = Storage.open(settings.db)
    try:
        return seed(storage, clock.now(), webhook_url(fake.api_base))
    finally:
        storage.close()


@dataclass
class Bot:
    """One running bot process (as `serve` would run it) and a client for its web app."""

    runtime: Runtime
    client: TestClient[Any, Any]
    fake: FakeWeCom
    sink: NotifyingSink
    stack: contextlib.AsyncExitStack
    _msgids: Iterator[int]

    @property
    def app(self) -> App:
        return self.runtime.app

    @property
    def storage(self) -> Storage:
        return self.runtime.app.storage

    def now_ts(self) -> int:
        return int(self.fake.clock.now().timestamp())

    def new_msgid(self) -> str:
        return f"msg{next(self._msgids):04d}"

    async def deliver(self) -> int:
        """Let queued processing finish and send what is due once; return how many were sent."""
        await self.app.pipeline.drain()
        return await self.app.worker.run_once()

    async def post_aibot(self, payload: dict[str, Any]) -> tuple[int, str]:
        query, body = self.fake.aibot.aibot_post(payload, self.now_ts())
        async with self.client.post("/wecom/aibot", params=query, data=body) as resp:
            return resp.status, await resp.text()

    async def post_app(self, xml: str) -> tuple[int, str]:
        query, body = self.fake.app.app_post(xml, self.now_ts())
        async with self.client.post("/wecom/app", params=query, data=body) as resp:
            return resp.status, await resp.text()

    def aibot_text(
        self, userid: str, text: str, *, chatid: str | None = None, msgid: str | None = None
    ) -> dict[str, Any]:
        """A smart-bot text callback as WeCom sends it (doc 100719)."""
        msgid = msgid or self.new_msgid()
        payload: dict[str, Any] = {
            "msgid": msgid,
            "aibotid": AIBOT_ID,
            "chattype": "group" if chatid else "single",
            "from": {"userid": userid},
            "response_url": self.fake.response_url(f"RC-{msgid}"),
            "msgtype": "text",
            "text": {"content": text},
        }
        if chatid:
            payload["chatid"] = chatid
        return payload

    def app_text(self, userid: str, text: str, *, msgid: str | None = None) -> str:
        """A text message to the self-built app as WeCom sends it (doc 90239)."""
        return app_text_xml(
            corp_id=DEFAULT_CORP_ID,
            from_user=userid,
            content=text,
            msg_id=msgid or str(4561255354251345000 + next(self._msgids)),
            create_time=self.now_ts(),
            agent_id=str(DEFAULT_AGENT_ID),
        )


StartBot = Callable[..., Awaitable[Bot]]


@pytest.fixture
async def start_bot(
    settings: Settings, fake: FakeWeCom, clock: FakeClock
) -> AsyncIterator[StartBot]:
    """Start a bot on the test database; call again after a stop for a "restart"."""
    stacks: list[contextlib.AsyncExitStack] = []
    msgids = itertools.count(1)

    async def start(
        *,
        sink_factory: SinkFactory | None = None,
        run_worker: bool = False,
        bot_settings: Settings | None = None,
        wait_connected: bool = True,
    ) -> Bot:
        stack = contextlib.AsyncExitStack()
        stacks.append(stack)
        holder: list[NotifyingSink] = []

        def notifying(app: App) -> IncomingSink:
            inner = sink_factory(app) if sink_factory is not None else app.pipeline
            holder.append(NotifyingSink(inner))
            return holder[0]

        options = RuntimeOptions(api_sleep=ClockSleep(clock), run_worker=run_worker)
        subscriptions = fake.ws.subscriptions
        runtime = await stack.enter_async_context(
            open_runtime(
                bot_settings or settings, clock=clock, options=options, sink_factory=notifying
            )
        )
        await runtime.start()
        client: TestClient[Any, Any] = TestClient(TestServer(runtime.web_app, host="127.0.0.1"))
        await client.start_server()
        stack.push_async_callback(client.close)  # the listener closes before the services stop
        if wait_connected and runtime.long_connection is not None:
            await asyncio.wait_for(fake.ws.wait_subscribed(subscriptions + 1), timeout=10)
        return Bot(runtime, client, fake, holder[0], stack, msgids)

    yield start
    for stack in reversed(stacks):
        await stack.aclose()


async def stop_bot(bot: Bot) -> None:
    """A clean stop, as on SIGTERM: listener, long connection, drain, worker, session, DB."""
    await bot.stack.aclose()
