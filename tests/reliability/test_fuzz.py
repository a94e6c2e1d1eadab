"""Fuzzing the doors WeCom knocks on: 10,000 hostile callbacks and long-connection frames.

Hypothesis draws malformed, oversized, wrongly-signed, stale, replayed and truncated requests
(4,000 per HTTP callback) and 2,000 broken WebSocket frames against the runtime `serve` builds
(real crypto, real inbox on SQLite). For every one: no 500, the right 4xx (or the documented
200 for a replay/ignored event), and not a single inbox row added. Every 25th example a
genuine message is slipped in; it must be accepted, stored and answered — the bot keeps
working throughout. Examples are derandomized so a failure reproduces.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.wecom.callback_security import MAX_BODY_BYTES
from bot.core.clock import FakeClock
from bot.core.settings import Settings
from bot.runtime.serve import Runtime, RuntimeOptions, open_runtime
from tests.fakes.campus import GROUP_HTTP, seed_campus
from tests.fakes.wecom_api import DEFAULT_AGENT_ID, DEFAULT_CORP_ID
from tests.fakes.wecom_crypto import (
    BILLION_LAUGHS,
    WeComSide,
    app_event_xml,
    app_text_xml,
    new_encoding_aes_key,
)
from tests.fakes.world import (
    AIBOT_ID,
    ClockSleep,
    FakeWeCom,
    api_application,
    new_fake_wecom,
    wecom_values,
)

HTTP_EXAMPLES = int(os.environ.get("FUZZ_HTTP", "4000"))  # per callback
WS_EXAMPLES = 2_000
GOOD_EVERY = 25
START = datetime.fromisoformat("2026-11-24T14:10:00+08:00")
T = TypeVar("T")

FUZZ = settings(
    max_examples=HTTP_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class WsSleep:
    """Reconnect backoff passes at once; heartbeats never come (not under test here)."""

    async def __call__(self, delay: float) -> None:
        if delay >= 30.0:
            await asyncio.Event().wait()


@dataclass
class Harness:
    """The runtime on its own event loop, driven synchronously by Hypothesis examples."""

    loop: asyncio.AbstractEventLoop
    runtime: Runtime
    client: TestClient[Any, Any]
    fake: FakeWeCom
    clock: FakeClock
    goods: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def inbox(self) -> int:
        row = self.runtime.app.storage.db.execute("SELECT COUNT(*) FROM inbox").fetchone()
        return int(row[0])

    def now(self) -> int:
        return int(self.clock.now().timestamp())

    def post(self, path: str, query: dict[str, str], body: bytes | str) -> int:
        async def go() -> int:
            async with self.client.post(path, params=query, data=body) as resp:
                await resp.read()
                return resp.status

        return self.run(go())

    # genuine messages -----------------------------------------------------------------
    def aibot_payload(self, text: str = "@教研助手 签到 A1") -> dict[str, Any]:
        msgid = f"fz{next(self.counter)}"
        return {
            "msgid": msgid,
            "aibotid": AIBOT_ID,
            "chattype": "group",
            "chatid": GROUP_HTTP,
            "from": {"userid": f"t{next(self.counter) % 30 + 1}"},
            "response_url": self.fake.response_url(msgid),
            "msgtype": "text",
            "text": {"content": text},
        }

    def app_xml(self, text: str = "签到 A1") -> str:
        return app_text_xml(
            corp_id=DEFAULT_CORP_ID,
            from_user=f"t{next(self.counter) % 30 + 1}",
            content=text,
            msg_id=str(8_000_000_000 + next(self.counter)),
            create_time=self.now(),
            agent_id=str(DEFAULT_AGENT_ID),
        )

    def good(self, path: str) -> None:
        """A real message: 200, stored, remembered for replays and the final check."""
        if path == "/wecom/aibot":
            query, body = self.fake.aibot.aibot_post(self.aibot_payload(), self.now())
        else:
            query, body = self.fake.app.app_post(self.app_xml(), self.now())
        before = self.inbox()
        assert self.post(path, query, body) == 200
        assert self.inbox() == before + 1
        self.goods.append((path, query, body))

    def check_all_goods_answered(self) -> None:
        self.run(self.runtime.app.pipeline.drain())
        replies = self.runtime.app.outbox.items()
        assert len(replies) == len(self.goods) == self.inbox()
        assert all(item.message.text for item in replies)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    loop = asyncio.new_event_loop()
    clock = FakeClock(START)
    db = tmp_path_factory.mktemp("fuzz") / "bot.db"
    seed_campus(db, clock.now(), 30)

    async def build(stack: contextlib.AsyncExitStack) -> Harness:
        fake = new_fake_wecom(clock)
        api = TestServer(api_application(fake), host="127.0.0.1")
        ws = TestServer(fake.ws.make_app(), host="127.0.0.1")
        for server in (api, ws):
            await server.start_server()
            stack.push_async_callback(server.close)
        fake.api_base = str(api.make_url("")).rstrip("/")
        fake.ws_url = str(ws.make_url("/")).replace("http://", "ws://", 1)
        values = wecom_values(db, fake)
        config = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        options = RuntimeOptions(api_sleep=ClockSleep(clock), ws_sleep=WsSleep(), run_worker=False)
        runtime = await stack.enter_async_context(
            open_runtime(config, clock=clock, options=options)
        )
        await runtime.start()
        # The reminder alarm is not under test and its clock is frozen here: keep it quiet.
        await runtime.app.scheduler.stop()
        client: TestClient[Any, Any] = TestClient(TestServer(runtime.web_app, host="127.0.0.1"))
        await client.start_server()
        stack.push_async_callback(client.close)
        await asyncio.wait_for(fake.ws.wait_subscribed(1), 10)
        return Harness(loop, runtime, client, fake, clock)

    stack = contextlib.AsyncExitStack()
    try:
        yield loop.run_until_complete(build(stack))
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()


# ------------------------------------------------------------------ HTTP callbacks

KINDS = (
    "bad_signature",
    "stale",
    "bad_timestamp",
    "missing_param",
    "junk_body",
    "truncated_body",
    "truncated_cipher",
    "garbage_plaintext",
    "wrong_shape",
    "wrong_key",
    "oversized",
    "replay",
    "ignored",
)

Draw = tuple[str, bytes, str, int, float]
draws = st.tuples(
    st.sampled_from(KINDS),
    st.binary(max_size=200),
    st.text(max_size=120),
    st.integers(min_value=0, max_value=10**7),
    st.floats(min_value=0.0, max_value=0.999),
)
OTHER = WeComSide("aibotCallbackToken2026", new_encoding_aes_key(), receive_id="")


def _broken_aibot_message(h: Harness, n: int, text: str) -> str:
    payload = h.aibot_payload(text)
    breakage = n % 6
    if breakage == 0:
        del payload["from"]
    elif breakage == 1:
        payload["chattype"] = text or "channel"
    elif breakage == 2:
        payload["msgid"] = ""
    elif breakage == 3:
        payload["response_url"] = "ftp://" + text
    elif breakage == 4:
        payload["msgid"] = "x" * 300
    else:
        payload = {"junk": text, "n": n}
    return json.dumps(payload, ensure_ascii=False)


def _broken_app_message(h: Harness, n: int, text: str) -> str:
    xml = h.app_xml(text.replace("]]>", ""))
    breakage = n % 5
    if breakage == 0:
        return xml.replace("<FromUserName>", "<Nobody>").replace("</FromUserName>", "</Nobody>")
    if breakage == 1:
        return xml.replace("<MsgId>", "<Id>").replace("</MsgId>", "</Id>")
    if breakage == 2:
        return xml.replace("<xml>", "<message>").replace("</xml>", "</message>")
    if breakage == 3:
        return BILLION_LAUGHS
    return xml[: max(1, len(xml) // 2)]


def build_bad(h: Harness, path: str, draw: Draw) -> tuple[dict[str, str], bytes | str, set[int]]:
    kind, junk, text, n, frac = draw
    side = h.fake.aibot if path == "/wecom/aibot" else h.fake.app
    aibot = path == "/wecom/aibot"
    ts = h.now()

    def envelope(encrypted: str) -> str:
        if aibot:
            return json.dumps({"encrypt": encrypted})
        return f"<xml><ToUserName><![CDATA[x]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"

    def signed(plain: str, at: int = ts, with_side: WeComSide = side) -> tuple[dict[str, str], str]:
        encrypted = with_side.encrypt(plain)
        return side.query(encrypted, at, nonce=str(n)), envelope(encrypted)

    genuine = json.dumps(h.aibot_payload(), ensure_ascii=False) if aibot else h.app_xml()
    if kind == "bad_signature":
        query, body = signed(genuine)
        query["msg_signature"] = junk.hex() or "0" * 40
        return query, body, {403}
    if kind == "stale":
        offset = 301 + n
        query, body = signed(genuine, ts - offset if frac < 0.5 else ts + offset)
        return query, body, {403}
    if kind == "bad_timestamp":
        query, body = signed(genuine)
        query["timestamp"] = ("t" + text) if frac < 0.5 else str(10**13 + n)
        return query, body, {400}
    if kind == "missing_param":
        query, body = signed(genuine)
        del query[("msg_signature", "timestamp", "nonce")[n % 3]]
        return query, body, {400}
    if kind == "junk_body":
        return side.query("x", ts), junk or b"\xff", {400, 403}
    if kind == "truncated_body":
        query, body = signed(genuine)
        return query, body[: int(len(body) * frac)], {400}
    if kind == "truncated_cipher":
        encrypted = side.encrypt(genuine)
        cut = encrypted[: int(len(encrypted) * frac)]
        return side.query(cut, ts), envelope(cut), {400}
    if kind == "garbage_plaintext":
        query, body = signed(text + junk.hex())
        return query, body, {400}
    if kind == "wrong_shape":
        plain = _broken_aibot_message(h, n, text) if aibot else _broken_app_message(h, n, text)
        query, body = signed(plain)
        return query, body, {400}
    if kind == "wrong_key":
        other = WeComSide(side.token, new_encoding_aes_key(), side.receive_id)
        if not aibot and frac < 0.5:  # right key, another company's CorpID
            other = WeComSide(side.token, side.encoding_aes_key, "wwsomeoneelse")
        query, body = signed(genuine, with_side=other)
        return query, body, {400}
    if kind == "oversized":
        return side.query("x", ts), b"{" + b" " * (MAX_BODY_BYTES + n % 65536) + b"}", {413}
    if kind == "replay":
        if not any(p == path for p, _, _ in h.goods):
            h.good(path)
        _, query, body = next(g for g in reversed(h.goods) if g[0] == path)
        return query, body, {200}  # a retry of what was already stored: acknowledged, ignored
    # "ignored": genuine, signed, but nothing to handle (an event, a stream refresh, another agent)
    if aibot:
        payload = h.aibot_payload()
        if n % 2:
            payload.update(msgtype="event", event={"eventtype": "enter_chat"})
        else:
            payload.update(msgtype="stream", stream={"id": text or "s"})
        query, body = signed(json.dumps(payload, ensure_ascii=False))
        return query, body, {200}
    if n % 2:
        plain = app_event_xml(corp_id=DEFAULT_CORP_ID, from_user="t1", event="enter_agent")
    else:
        plain = h.app_xml().replace(
            f"<AgentID>{DEFAULT_AGENT_ID}</AgentID>", "<AgentID>42</AgentID>"
        )
    query, body = signed(plain)
    return query, body, {200}


def fuzz_callback(h: Harness, path: str) -> None:
    seen = itertools.count(1)

    @FUZZ
    @given(draw=draws)
    def one(draw: Draw) -> None:
        if next(seen) % GOOD_EVERY == 0:
            h.good(path)
        query, body, expected = build_bad(h, path, draw)
        before = h.inbox()
        status = h.post(path, query, body)
        assert status in expected, (draw[0], status)
        assert h.inbox() == before, draw[0]

    one()
    h.good(path)
    h.check_all_goods_answered()


def test_fuzzed_smart_bot_callbacks_are_refused_and_good_ones_keep_flowing(h: Harness) -> None:
    fuzz_callback(h, "/wecom/aibot")


def test_fuzzed_app_callbacks_are_refused_and_good_ones_keep_flowing(h: Harness) -> None:
    fuzz_callback(h, "/wecom/app")


@pytest.fixture
def h(harness: Harness) -> Harness:
    return harness


# ------------------------------------------------------------------ long-connection frames

FRAME_KINDS = (
    "not_json",
    "json_not_object",
    "binary_junk",
    "unknown_cmd",
    "msg_without_fields",
    "msg_wrong_types",
    "msg_body_not_object",
    "msg_without_text",
    "answer_nobody_asked",
    "event_junk",
    "huge",
)


def build_frame(kind: str, junk: bytes, text: str, n: int) -> str | bytes:
    req = {"req_id": f"fz{n}"}
    if kind == "not_json":
        return "{" + text
    if kind == "json_not_object":
        return json.dumps([text, n])
    if kind == "binary_junk":
        return junk or b"\x00"
    if kind == "unknown_cmd":
        return json.dumps({"cmd": "aibot_" + text, "headers": req, "body": {"text": text}})
    if kind == "msg_without_fields":
        body: Any = {"msgtype": "text", "text": {"content": text}}
        if n % 2:
            body["msgid"] = str(n)  # still no sender
        else:
            body["from"] = {"userid": "t1"}  # still no msgid
        return json.dumps({"cmd": "aibot_msg_callback", "headers": req, "body": body})
    if kind == "msg_wrong_types":
        body = {
            "msgid": n,
            "from": {"userid": ["t1"]},
            "msgtype": "text",
            "text": {"content": text},
        }
        return json.dumps({"cmd": "aibot_msg_callback", "headers": req, "body": body})
    if kind == "msg_body_not_object":
        return json.dumps({"cmd": "aibot_msg_callback", "headers": req, "body": text})
    if kind == "msg_without_text":
        body = {"msgid": f"img{n}", "from": {"userid": "t1"}, "msgtype": "image", "image": {}}
        return json.dumps({"cmd": "aibot_msg_callback", "headers": req, "body": body})
    if kind == "answer_nobody_asked":
        return json.dumps({"headers": req, "errcode": n % 3, "errmsg": text})
    if kind == "event_junk":
        body = {"event": {"eventtype": "x" + text}, "from": text}
        return json.dumps({"cmd": "aibot_event_callback", "headers": req, "body": body})
    return "{" + "\u4e2d" * (50_000 + n % 50_000)  # a huge frame that is not JSON either


frame_draws = st.tuples(
    st.sampled_from(FRAME_KINDS),
    st.binary(max_size=200),
    st.text(max_size=120),
    st.integers(min_value=0, max_value=10**7),
)


def test_fuzzed_long_connection_frames_are_ignored_and_the_link_stays_up(h: Harness) -> None:
    ws = h.fake.ws
    connections = ws.connections
    goods = h.inbox()
    seen = itertools.count(1)

    def good_frame_arrives() -> None:
        nonlocal goods
        h.run(ws.push_message(userid="t2", text="@教研助手 签到 A1", chatid="wrkFuzzGroup"))
        goods += 1

        async def wait() -> None:
            for _ in range(100_000):
                if h.inbox() >= goods:
                    return
                await asyncio.sleep(0.001)
            raise AssertionError("a good frame was never stored")

        h.run(wait())
        assert h.inbox() == goods  # nothing from the bad frames before it

    @settings(FUZZ, max_examples=WS_EXAMPLES)
    @given(draw=frame_draws)
    def one(draw: tuple[str, bytes, str, int]) -> None:
        if next(seen) % GOOD_EVERY == 0:
            good_frame_arrives()
        h.run(ws.push_raw(build_frame(*draw)))

    one()
    good_frame_arrives()
    assert ws.connections == connections  # no frame broke the connection
    assert h.runtime.long_connection is not None and h.runtime.long_connection.is_connected
    h.run(h.runtime.app.pipeline.drain())
    assert h.runtime.app.outbox.pending_count() == h.inbox()  # every stored message answered
