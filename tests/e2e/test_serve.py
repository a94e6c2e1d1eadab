"""`serve` as an administrator meets it: start-up lines, /healthz, clean stop, refusal to start."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.cli.launch import EXIT_CONFIG_ERROR, serve_command
from bot.core.clock import FakeClock
from bot.core.settings import Settings
from bot.runtime.serve import (
    EXIT_REPLACED,
    EXIT_UNAVAILABLE,
    RuntimeOptions,
    open_runtime,
    run_server,
)
from bot.runtime.web import create_web_app, server_options
from storage.dialect import is_postgres_url
from tests.fakes.world import (
    APP_AES_KEY,
    APP_TOKEN,
    BOT_AES_KEY,
    BOT_TOKEN,
    ClockSleep,
    FakeWeCom,
)

from .conftest import (
    BOT_NAME,
    GROUP_WS,
    Seeded,
    StartBot,
    make_settings,
    signin_reply,
)

NO_CHANNEL_LINES = [
    "智能机器人长连接：未启用（缺少 WECOM_BOT_ID、WECOM_BOT_SECRET）",
    "智能机器人回调（/wecom/aibot）：未启用（缺少 WECOM_BOT_TOKEN、WECOM_BOT_AES_KEY）",
    "自建应用（/wecom/app）：未启用（缺少 WECOM_CORP_ID、WECOM_AGENT_ID、WECOM_APP_SECRET、"
    "WECOM_APP_TOKEN、WECOM_APP_AES_KEY）",
    "群机器人 Webhook 推送：已启用（发往绑定时附了 webhook 地址的群）",
]


async def serve_in_background(
    settings: Settings, clock: FakeClock, lines: list[str]
) -> tuple[asyncio.Task[int], asyncio.Event, str]:
    """Start `run_server` on a free loopback port; return its task, stop event and base URL."""
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        run_server(
            settings,
            "127.0.0.1",
            0,
            stop=stop,
            clock=clock,
            options=RuntimeOptions(api_sleep=ClockSleep(clock)),
            announce=lines.append,
            on_ready=ready.set_result,
        )
    )
    waiting: set[asyncio.Future[Any]] = {task, ready}
    done, _ = await asyncio.wait(waiting, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    assert ready in done, lines
    return task, stop, ready.result()


async def test_serve_starts_without_any_wecom_settings(tmp_path: Path, clock: FakeClock) -> None:
    settings = make_settings(tmp_path / "bot.db")
    lines: list[str] = []
    task, stop, base_url = await serve_in_background(settings, clock, lines)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base_url}/healthz") as resp:
            assert resp.status == 200
            assert await resp.json() == {
                "status": "ok",
                "channels": {"aibot_ws": "off", "aibot_http": "off", "app": "off", "webhook": "on"},
                "outbox": {"pending": 0, "failed": 0},
            }
        async with session.post(f"{base_url}/wecom/aibot", data="{}") as resp:
            assert resp.status == 404  # the callback is off, so its route does not exist
    stop.set()
    assert await asyncio.wait_for(task, timeout=10) == 0
    assert lines[0] == f"HTTP 服务已启动：{base_url}（健康检查 {base_url}/healthz）"
    assert lines[-2:] == ["正在停止服务……", "服务已停止。"]


def test_serve_command_explains_which_channels_are_off_and_refuses_a_broken_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bot.db"
    broken = make_settings(db, WECOM_BOT_TOKEN=BOT_TOKEN, WECOM_BOT_AES_KEY=BOT_AES_KEY[:-1])
    assert serve_command(broken, host="127.0.0.1", port=0) == EXIT_CONFIG_ERROR
    out = capsys.readouterr().out.splitlines()
    assert out[1:5] == [
        NO_CHANNEL_LINES[0],
        "智能机器人回调（/wecom/aibot）：已启用",
        NO_CHANNEL_LINES[2],
        NO_CHANNEL_LINES[3],
    ]
    assert any("WECOM_BOT_AES_KEY 长度不对" in line and "现在是 42 个" in line for line in out)
    assert out[-1].startswith("配置有错误，服务没有启动")
    assert BOT_AES_KEY[:-1] not in "\n".join(out) and BOT_TOKEN not in "\n".join(out)
    assert not db.exists()  # nothing was started


async def test_full_service_answers_through_the_background_worker_and_stops_cleanly(
    settings: Settings, fake: FakeWeCom, seeded: Seeded, clock: FakeClock
) -> None:
    lines: list[str] = []
    task, stop, base_url = await serve_in_background(settings, clock, lines)
    await asyncio.wait_for(fake.ws.wait_subscribed(), timeout=10)

    await fake.ws.push_message(userid="t1", text=f"{BOT_NAME} 签到", chatid=GROUP_WS)
    # No run_once here: the outbox worker of the service delivers on its own.
    [reply] = await asyncio.wait_for(fake.ws.wait_sent("aibot_respond_msg", 1), timeout=10)
    assert reply.body["stream"]["content"] == signin_reply("王芳")

    async with aiohttp.ClientSession() as session, session.get(f"{base_url}/healthz") as resp:
        text = await resp.text()
    health = json.loads(text)
    on_postgres = is_postgres_url(settings.db)
    # On PostgreSQL several instances may share the database: the one alone here leads.
    assert set(health) == {"status", "channels", "outbox", "long_connection"} | (
        {"role"} if on_postgres else set()
    )
    assert health.get("role") == ("leader" if on_postgres else None)
    assert health["status"] == "ok"
    assert health["channels"] == {
        "aibot_ws": "on",
        "aibot_http": "on",
        "app": "on",
        "webhook": "on",
    }
    assert health["long_connection"] == "connected"
    assert health["outbox"] == {"pending": 0, "failed": 0}
    for secret in (APP_TOKEN, APP_AES_KEY, BOT_TOKEN, BOT_AES_KEY, "fake-app-secret"):
        assert secret not in text

    stop.set()
    assert await asyncio.wait_for(task, timeout=10) == 0
    await asyncio.wait_for(fake.ws.wait_disconnected(), timeout=10)


async def test_serve_exits_3_when_its_long_connection_is_taken_over(
    settings: Settings, fake: FakeWeCom, seeded: Seeded, clock: FakeClock
) -> None:
    """WeCom keeps one long connection per BotID: a process left without one exits, so the
    restart policy (systemd, Docker) brings it back connected, with no one restarting it."""
    lines: list[str] = []
    task, _, _ = await serve_in_background(settings, clock, lines)
    await asyncio.wait_for(fake.ws.wait_subscribed(), timeout=10)
    await fake.ws.send_disconnected_event()  # e.g. `check --online` connected meanwhile
    assert await asyncio.wait_for(task, timeout=10) == EXIT_REPLACED
    assert "取代" in lines[-1] and "重新启动后会重新连接" in lines[-1]


@pytest.mark.parametrize("problem", ["folder", "not a database"])
async def test_serve_exits_non_zero_when_the_database_cannot_be_opened(
    tmp_path: Path, clock: FakeClock, problem: str
) -> None:
    db = tmp_path / "bot.db"
    if problem == "folder":
        db.mkdir()  # e.g. a volume mounted where the file should be
    else:
        db.write_bytes(b"this is not an SQLite file" * 100)
    lines: list[str] = []
    code = await asyncio.wait_for(
        run_server(
            make_settings(db), "127.0.0.1", 0, stop=asyncio.Event(), clock=clock,
            announce=lines.append,
        ),
        timeout=10,
    )  # fmt: skip
    assert code == EXIT_UNAVAILABLE
    assert lines[-1].startswith(f"无法打开数据库 {db}")
    assert "由 systemd 或 Docker 稍后重新启动" in lines[-1]


async def test_healthz_says_so_when_the_database_is_gone(
    start_bot: StartBot, seeded: Seeded
) -> None:
    bot = await start_bot()
    bot.storage.close()
    async with bot.client.get("/healthz") as resp:
        assert resp.status == 503
        assert await resp.json() == {"status": "error"}


async def test_healthz_reports_a_replaced_long_connection(
    start_bot: StartBot, seeded: Seeded
) -> None:
    bot = await start_bot()
    await bot.fake.ws.send_disconnected_event()  # the same BotID connected somewhere else
    await asyncio.wait_for(bot.fake.ws.wait_disconnected(), timeout=10)
    async with bot.client.get("/healthz") as resp:
        body = await resp.json()
    assert body["long_connection"] == "replaced"


async def test_open_runtime_closes_the_database_and_session(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "bot.db")
    async with open_runtime(settings) as runtime:
        await runtime.start()
        storage = runtime.app.storage
        assert runtime.health()["status"] == "ok"
    with pytest.raises(Exception, match="closed"):
        storage.db.execute("SELECT 1")


async def test_access_log_shows_route_patterns_never_tokens_or_queries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def page(_request: web.Request) -> web.Response:
        return web.Response(text="dashboard")

    async def callback(request: web.Request) -> web.Response:
        return web.Response(status=200 if await request.read() == b"good" else 400)

    def dashboard_routes(app: web.Application) -> None:
        app.router.add_get("/reports/{token}/", page)
        app.router.add_post("/wecom/aibot", callback)

    app = create_web_app(lambda: {"status": "ok"}, [dashboard_routes])
    caplog.set_level(logging.DEBUG, logger="aiohttp.access")
    server = TestServer(app)
    await server.start_server(**server_options())  # as run_server does
    async with TestClient(server) as client:
        async with client.get(
            f"/reports/SIGNEDTOKEN123{TOKEN}/", params={"key": "QUERYSECRET"}
        ) as resp:
            assert resp.status == 200
        async with client.get("/healthz") as resp:
            assert resp.status == 200
        for body in (b"good", b"bad"):
            async with client.post("/wecom/aibot", data=body, params={"msg_signature": "S"}):
                pass
        # A dashboard link with a wrong page (404) or method (405) keeps its token out too.
        async with client.get(f"/reports/{TOKEN}/nothing-here") as resp:
            assert resp.status == 404
        async with client.post(f"/reports/{TOKEN}/") as resp:
            assert resp.status == 405
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "aiohttp.access"]
    assert any(level == logging.INFO and "GET /reports/{token}/ 200" in m for level, m in lines)
    assert any(level == logging.DEBUG and "GET /healthz 200" in m for level, m in lines)
    # An accepted callback is logged by its channel; a refused one stays visible here.
    assert any(level == logging.DEBUG and "POST /wecom/aibot 200" in m for level, m in lines)
    assert any(level == logging.INFO and "POST /wecom/aibot 400" in m for level, m in lines)
    assert any("GET /reports/{redacted}/nothing-here 404" in m for _, m in lines)
    assert any("POST /reports/{redacted}/ 405" in m for _, m in lines)
    assert not any("SIGNEDTOKEN123" in m or "QUERYSECRET" in m or TOKEN[:12] in m for _, m in lines)


# What a dashboard token looks like (reports.links.sign): base64url payload "." base64url MAC.
TOKEN = "eyJhIjoxLCJ1IjoibGVhZGVyMSIsImUiOjE3OTB9.c2lnbmF0dXJlLW9mLXRoaXJ0eS10d28tYnl0ZXMtbWFjLXg"


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # over-long URL
        b"GET / HTTP/1.1 junk\r\nHost: x\r\n\r\n",  # malformed request line
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * 9000 + b"\r\n\r\n",  # long header
    ],
)
async def test_unparsable_requests_are_refused_with_one_warning_and_no_traceback(
    caplog: pytest.LogCaptureFixture, raw: bytes
) -> None:
    server = TestServer(create_web_app(lambda: {"status": "ok"}))
    await server.start_server(**server_options())
    try:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(raw)
        answer = await reader.read(64)
        writer.close()
    finally:
        await server.close()
    assert answer.startswith(b"HTTP/1.0 400 Bad Request")
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].levelno == logging.WARNING
    assert warnings[0].exc_info is None
    assert "unparsable HTTP request from 127.0.0.1 refused with 400" in warnings[0].getMessage()
