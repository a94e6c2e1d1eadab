"""Both fake WeCom servers as one "world", shared by the end-to-end tests, the reliability
suite and the benchmarks.

`FakeWeCom` bundles the fake API (`FakeWeComAPI`, plus a recorded `response_url` endpoint),
the fake long-connection server (`FakeWeComWS`) and WeCom's side of the HTTP callbacks
(`WeComSide`: real AES and signatures). `wecom_values` gives the settings (by their `.env`
names) that point a bot at it, so the same dict configures an in-process `Settings` or the
environment of a `jiaoyan-bot serve` subprocess.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.core.clock import Clock, FakeClock
from tests.fakes.wecom_api import (
    DEFAULT_AGENT_ID,
    DEFAULT_APP_SECRET,
    DEFAULT_CORP_ID,
    FakeWeComAPI,
)
from tests.fakes.wecom_crypto import WeComSide, new_encoding_aes_key
from tests.fakes.wecom_ws import DEFAULT_BOT_ID, DEFAULT_SECRET, FakeWeComWS

AIBOT_ID = "aibCALLBACKBOT01"
BOT_TOKEN = "aibotCallbackToken2026"
BOT_AES_KEY = new_encoding_aes_key()
APP_TOKEN = "appCallbackToken2026"
APP_AES_KEY = new_encoding_aes_key()
RESPONSE_PATH = "/cgi-bin/aibot/response"
MEDIA_PATH = "/media"

# Every setting a developer's shell might leak into a test run.
WECOM_ENV = (
    "JIAOYAN_DB",
    "JIAOYAN_TZ",
    "JIAOYAN_ADMINS",
    "JIAOYAN_PUBLIC_URL",
    "WECOM_API_BASE",
    "WECOM_CORP_ID",
    "WECOM_AGENT_ID",
    "WECOM_APP_SECRET",
    "WECOM_APP_TOKEN",
    "WECOM_APP_AES_KEY",
    "WECOM_BOT_ID",
    "WECOM_BOT_SECRET",
    "WECOM_BOT_WS_URL",
    "WECOM_BOT_TOKEN",
    "WECOM_BOT_AES_KEY",
)


class ClockSleep:
    """Injected sleep for API retries and rate limits: time passes on the FakeClock only."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


@dataclass
class FakeWeCom:
    """Both fake WeCom servers, the clock, and what response_url received.

    Build it with `new_fake_wecom`, serve `api_application(fake)` and `fake.ws.make_app()`,
    then fill in `api_base` and `ws_url` from the servers' addresses.
    """

    clock: Clock
    api: FakeWeComAPI
    ws: FakeWeComWS
    api_base: str = ""
    ws_url: str = ""
    responses: list[dict[str, Any]] = field(default_factory=list)
    response_codes: list[str] = field(default_factory=list)
    # WeCom's media host (on the API base's host here): name → (encrypted body, file name).
    media: dict[str, tuple[bytes, str | None]] = field(default_factory=dict)
    media_requests: list[str] = field(default_factory=list)

    def add_media(self, name: str, encrypted: bytes, filename: str | None = None) -> str:
        """Serve an (already encrypted) picture or file; its download URL."""
        self.media[name] = (encrypted, filename)
        return f"{self.api_base}{MEDIA_PATH}/{name}"

    @property
    def aibot(self) -> WeComSide:
        return WeComSide(BOT_TOKEN, BOT_AES_KEY, receive_id="")

    @property
    def app(self) -> WeComSide:
        return WeComSide(APP_TOKEN, APP_AES_KEY, receive_id=DEFAULT_CORP_ID)

    def response_url(self, code: str) -> str:
        return f"{self.api_base}{RESPONSE_PATH}?response_code={code}"

    def response_texts(self) -> list[str]:
        return [str(body.get("markdown", {}).get("content")) for body in self.responses]

    def app_texts(self, userid: str) -> list[str]:
        return [
            m.content or ""
            for m in self.api.messages
            if m.api == "message/send" and m.target == userid
        ]

    def webhook_texts(self) -> list[str]:
        return [m.content or "" for m in self.api.messages if m.api == "webhook/send"]


def new_fake_wecom(clock: Clock) -> FakeWeCom:
    return FakeWeCom(clock=clock, api=FakeWeComAPI(clock), ws=FakeWeComWS())


def api_application(fake: FakeWeCom) -> web.Application:
    """The fake API's application plus WeCom's response_url endpoint (recorded on `fake`)."""
    app = fake.api.make_app()

    async def response_url(request: web.Request) -> web.Response:
        # WeCom's response_url: one POST of a markdown (or template card) answer.
        fake.responses.append(await request.json())
        fake.response_codes.append(request.query.get("response_code", ""))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def media(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        fake.media_requests.append(name)
        if name not in fake.media:
            return web.Response(status=404, text="expired")
        body, filename = fake.media[name]
        headers = {}
        if filename:
            quoted = urllib.parse.quote(filename, safe="")
            headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quoted}"
        return web.Response(body=body, headers=headers)

    app.router.add_post(RESPONSE_PATH, response_url)
    app.router.add_get(MEDIA_PATH + "/{name}", media)
    return app


def wecom_values(
    db: Path | str, fake: FakeWeCom | None = None, *, long_connection: bool = True
) -> dict[str, Any]:
    """Settings as an admin would write them in .env (here: pointing at the fakes)."""
    values: dict[str, Any] = {"JIAOYAN_DB": db, "JIAOYAN_ADMINS": "admin1"}
    if fake is not None:
        values.update(
            WECOM_API_BASE=fake.api_base,
            WECOM_CORP_ID=DEFAULT_CORP_ID,
            WECOM_AGENT_ID=str(DEFAULT_AGENT_ID),
            WECOM_APP_SECRET=DEFAULT_APP_SECRET,
            WECOM_APP_TOKEN=APP_TOKEN,
            WECOM_APP_AES_KEY=APP_AES_KEY,
            WECOM_BOT_TOKEN=BOT_TOKEN,
            WECOM_BOT_AES_KEY=BOT_AES_KEY,
        )
        if long_connection:
            values.update(
                WECOM_BOT_ID=DEFAULT_BOT_ID,
                WECOM_BOT_SECRET=DEFAULT_SECRET,
                WECOM_BOT_WS_URL=fake.ws_url,
            )
    return values
