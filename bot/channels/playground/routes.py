"""The playground's HTTP side: the page, its JSON API and the WebSocket that pushes messages.

What a member types is handed to `deliver` (the pipeline, as every channel does); how the
clock moves is `ClockControl`'s business (the playground command's simulated clock), and
who can be chosen is the `Directory`'s: this module knows none of handlers, scheduler or SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import WSMsgType, web

from bot.channels.playground.hub import PlaygroundHub, incoming_from_page, time_label
from bot.core.clock import Clock
from bot.core.messages import Incoming

log = logging.getLogger(__name__)

PREFIX = "/playground"
MAX_TEXT = 4000
MAX_JUMP = timedelta(days=31)
FRIDAY = 4

Deliver = Callable[[Incoming], Awaitable[None]]


@dataclass(frozen=True)
class Choice:
    """One entry of a select on the page: a member to speak as, or a group."""

    value: str
    label: str


class Directory(Protocol):
    def members(self) -> list[Choice]:
        """Everyone who can speak, labelled `姓名（学校，角色）`."""
        ...

    def groups(self) -> list[Choice]:
        """The groups shown on the page (bound to a local channel)."""
        ...


class ClockControl(Protocol):
    async def jump(self, target: datetime) -> None:
        """Move the clock to `target`, sending everything due on the way at its own time."""
        ...


class PlaygroundError(Exception):
    """A request the page made that cannot be done; the message is shown to the person."""


@dataclass
class PlaygroundRoutes:
    hub: PlaygroundHub
    directory: Directory
    deliver: Deliver
    clock: Clock
    zone: ZoneInfo
    # None: the clock is the real one (`serve`), the page shows no clock buttons.
    clock_control: ClockControl | None = None
    # Only requests from this machine (serve listens on all addresses by default).
    local_only: bool = False

    def __post_init__(self) -> None:
        self._lock = asyncio.Lock()  # one message or clock jump at a time, in order

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(PREFIX, self._to_page)
        app.router.add_get(f"{PREFIX}/", self._page)
        app.router.add_get(f"{PREFIX}/api/state", self._state)
        app.router.add_post(f"{PREFIX}/api/send", self._send)
        app.router.add_post(f"{PREFIX}/api/clock", self._clock)
        app.router.add_get(f"{PREFIX}/ws", self._socket)
        app.router.add_get(f"{PREFIX}/files/{{event_id:\\d+}}", self._file)

    # state ------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything the page needs to draw itself: people, groups, clock, messages so far."""
        return {
            "members": [vars(choice) for choice in self.directory.members()],
            "groups": [vars(choice) for choice in self.directory.groups()],
            "clock": self._clock_state(),
            "messages": self.hub.history(),
        }

    def _clock_state(self) -> dict[str, Any]:
        now = self.clock.now()
        local = now.astimezone(self.zone)
        return {
            "now": local.isoformat(timespec="minutes"),
            "input": local.strftime("%Y-%m-%dT%H:%M"),
            "label": time_label(now, self.zone),
            "movable": self.clock_control is not None,
        }

    # handlers ---------------------------------------------------------------------
    async def _to_page(self, request: web.Request) -> web.StreamResponse:
        self._check_origin(request)
        raise web.HTTPFound(f"{PREFIX}/")

    async def _page(self, request: web.Request) -> web.Response:
        self._check_origin(request)
        return web.Response(
            text=render_page(self.state()),
            content_type="text/html",
            headers={"Cache-Control": "no-store", **SECURITY_HEADERS},
        )

    async def _state(self, request: web.Request) -> web.Response:
        self._check_origin(request)
        return web.json_response(self.state())

    async def _send(self, request: web.Request) -> web.Response:
        self._check_origin(request)
        try:
            body = await _json_body(request)
            incoming = self._incoming(body)
        except PlaygroundError as error:
            return _refused(str(error))
        async with self._lock:
            self.hub.said(incoming)
            await self.deliver(incoming)
        return web.json_response({"ok": True})

    async def _clock(self, request: web.Request) -> web.Response:
        self._check_origin(request)
        control = self.clock_control
        if control is None:
            return _refused("这里按真实时间运行，不能拨动时钟；请用 jiaoyan-bot playground 试用。")
        try:
            body = await _json_body(request)
            async with self._lock:
                target = jump_target(body, self.clock.now(), self.zone)
                await control.jump(target)
        except PlaygroundError as error:
            return _refused(str(error))
        clock = self._clock_state()
        self.hub.publish({"type": "clock", "clock": clock})
        return web.json_response({"ok": True, "clock": clock})

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        self._check_origin(request)
        socket = web.WebSocketResponse(heartbeat=30)
        await socket.prepare(request)
        queue = self.hub.subscribe()

        async def forward() -> None:
            while True:
                update = await queue.get()
                await socket.send_json(update)
                if update["type"] == "resync":
                    await socket.close()
                    return

        writer = asyncio.create_task(forward(), name="playground-push")
        try:
            async for message in socket:
                if message.type is WSMsgType.ERROR:
                    break
        finally:
            self.hub.unsubscribe(queue)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await writer
        return socket

    async def _file(self, request: web.Request) -> web.StreamResponse:
        self._check_origin(request)
        attachment = self.hub.attachment(int(request.match_info["event_id"]))
        if attachment is None or not Path(attachment.path).is_file():
            raise web.HTTPNotFound(text="文件不存在或已被清理。")
        disposition = "inline" if attachment.kind.value == "image" else "attachment"
        return web.FileResponse(
            attachment.path,
            headers={
                "Content-Disposition": f"{disposition}; filename*=UTF-8''{_quoted(attachment.name)}",
                **SECURITY_HEADERS,
            },
        )

    # helpers ----------------------------------------------------------------------
    def _check_origin(self, request: web.Request) -> None:
        if not self.local_only:
            return
        try:
            loopback = ipaddress.ip_address(request.remote or "").is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise web.HTTPForbidden(text="体验页只对本机开放（http://127.0.0.1）。")

    def _incoming(self, body: dict[str, Any]) -> Incoming:
        userid = body.get("userid")
        chat = body.get("chat") or None
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise PlaygroundError("消息是空的。")
        if len(text) > MAX_TEXT:
            raise PlaygroundError(f"消息太长了（最多 {MAX_TEXT} 字）。")
        if not isinstance(userid, str) or userid not in {m.value for m in self.directory.members()}:
            raise PlaygroundError("请先从名册里选一个发言人。")
        if chat is not None and chat not in {g.value for g in self.directory.groups()}:
            raise PlaygroundError("没有这个群。")
        return incoming_from_page(userid, text, chat, self.clock.now())


SECURITY_HEADERS = {
    # Everything the page needs is inline; nothing may be loaded from elsewhere.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}


def jump_target(body: dict[str, Any], now: datetime, zone: ZoneInfo) -> datetime:
    """Where a clock button moves to: `{"hours": n}`, `{"days": n}`, `{"to": "2026-12-11T17:00"}`
    (local time) or `{"next": "friday17"}` (the next Friday 17:00, when the digest goes)."""
    if "hours" in body or "days" in body:
        try:
            delta = timedelta(hours=int(body.get("hours", 0)), days=int(body.get("days", 0)))
        except (TypeError, ValueError):
            raise PlaygroundError("要拨多久？请写整数。") from None
        target = now + delta
    elif body.get("next") == "friday17":
        target = next_weekday_at(now, zone, FRIDAY, time(17, 0))
    elif isinstance(body.get("to"), str):
        try:
            local = datetime.fromisoformat(body["to"])
        except ValueError:
            raise PlaygroundError("时间看不懂，请写成 2026-12-11T17:00。") from None
        target = local.replace(tzinfo=zone) if local.tzinfo is None else local
    else:
        raise PlaygroundError("要把时钟拨到什么时候？")
    if target <= now:
        raise PlaygroundError(f"时钟只能往前拨（现在是 {time_label(now, zone)}）。")
    if target - now > MAX_JUMP:
        raise PlaygroundError("一次最多往前拨 31 天。")
    return target


def next_weekday_at(now: datetime, zone: ZoneInfo, weekday: int, at: time) -> datetime:
    """The first `weekday` `at` o'clock (local) after `now`."""
    today: date = now.astimezone(zone).date()
    day = today + timedelta(days=(weekday - today.weekday()) % 7)
    moment = datetime.combine(day, at, tzinfo=zone)
    return moment if moment > now else moment + timedelta(days=7)


def render_page(state: dict[str, Any]) -> str:
    """The page with its first state inlined, so it shows the conversation without a request
    (and `<`/`>`/`&` escaped so no message text can close the script element)."""
    data = (
        json.dumps(state, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return _template().replace("/*STATE*/null", data, 1)


def _template() -> str:
    return resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise PlaygroundError("请求格式不对。") from None
    if not isinstance(body, dict):
        raise PlaygroundError("请求格式不对。")
    return body


def _refused(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


def _quoted(name: str) -> str:
    return quote(name, safe="")
