"""A fake of WeCom's server API (qyapi) speaking the real JSON shapes, for aiohttp test servers.

Endpoints: gettoken, message/send (doc 90236), appchat/send (90248), media/upload (90253),
webhook/send and webhook/upload_media (group robot, 99110). Besides text and markdown, file and
image messages are accepted: by media_id of an earlier upload, or — group robot only — an image
as base64 with the md5 of its bytes (at most 2 MB before encoding). Time comes from an injected
clock, so token expiry and the robot's 20-per-minute quota are tested without sleeping.

Faults queued with `fail_next` are served before normal handling, in order: an HTTP error,
an errcode answer, a hang (the client must time out) or a dropped connection. A faulted
request is never processed, so nothing it carried is recorded.

The fake is stricter than WeCom in one place: over-long content is always refused with
errcode 40058, where WeCom may truncate app messages silently.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from aiohttp import BodyPartReader, web

from bot.core.clock import Clock

DEFAULT_CORP_ID = "wwfakecorp0001"
DEFAULT_APP_SECRET = "fake-app-secret"
DEFAULT_AGENT_ID = 1000002
DEFAULT_WEBHOOK_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"

TEXT_LIMIT = 2048
APP_MARKDOWN_LIMIT = 2048
WEBHOOK_MARKDOWN_LIMIT = 4096
WEBHOOK_IMAGE_LIMIT = 2 * 1024 * 1024
MEDIA_KINDS = ("image", "voice", "video", "file")

ERRMSG = {
    -1: "system busy",
    40001: "invalid credential",
    40005: "invalid media type",
    40006: "invalid file size",
    40007: "invalid media_id",
    40008: "invalid message type",
    40009: "invalid image size",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40050: "chatid not found",
    41001: "access_token missing",
    42001: "access_token expired",
    44004: "empty content",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    48002: "api forbidden",
    60011: "no privilege to access/modify contact/party/agent",
    60020: "not allow to access from your ip",
    81013: "user & party & tag all invalid",
    93000: "invalid webhook url",
    130101: "send too fast, exceed 20 times per minute",
    301002: "not allow operate another agent with this accesstoken.",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def webhook_url(base_url: str, key: str = DEFAULT_WEBHOOK_KEY) -> str:
    """The group robot URL WeCom shows to whoever adds the robot, under `base_url`."""
    return f"{base_url.rstrip('/')}/cgi-bin/webhook/send?key={key}"


@dataclass(frozen=True)
class Fault:
    """One injected failure, served to the next request (on `path`, or on any path)."""

    kind: str  # "http" | "errcode" | "hang" | "drop" | "redirect"
    status: int = 500
    errcode: int = 0
    path: str | None = None
    seconds: float = 30.0
    after: int = 0  # let this many matching requests through first
    location: str = ""  # where a "redirect" points

    @classmethod
    def http(cls, status: int = 500, *, path: str | None = None, after: int = 0) -> Fault:
        return cls("http", status=status, path=path, after=after)

    @classmethod
    def error(cls, errcode: int, *, path: str | None = None, after: int = 0) -> Fault:
        return cls("errcode", errcode=errcode, path=path, after=after)

    @classmethod
    def hang(cls, *, path: str | None = None, seconds: float = 30.0) -> Fault:
        """Never answer in time; released early when the server shuts down."""
        return cls("hang", path=path, seconds=seconds)

    @classmethod
    def redirect(cls, location: str, *, path: str | None = None) -> Fault:
        """Answer 307 to `location` (a proxy or a hijacked API host would)."""
        return cls("redirect", path=path, location=location)

    @classmethod
    def drop(cls, *, path: str | None = None) -> Fault:
        """Close the connection without any answer."""
        return cls("drop", path=path)


@dataclass(frozen=True)
class RecordedMessage:
    """A message WeCom accepted, as a member or group would receive it."""

    api: str  # "message/send" | "appchat/send" | "webhook/send"
    target: str  # touser ("a|b"), chatid, or the webhook key
    msgtype: str
    content: str | None
    mentioned_list: tuple[str, ...]
    payload: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class Upload:
    media_id: str
    kind: str
    filename: str
    data: bytes


@dataclass
class _Token:
    secret: str
    expires_at: datetime
    revoked: bool = False


@dataclass
class FakeWeComAPI:
    """State and handlers of the fake; `make_app()` gives the aiohttp application."""

    clock: Clock
    corp_id: str = DEFAULT_CORP_ID
    apps: dict[str, int] = field(default_factory=lambda: {DEFAULT_APP_SECRET: DEFAULT_AGENT_ID})
    webhook_keys: set[str] = field(default_factory=lambda: {DEFAULT_WEBHOOK_KEY})
    token_ttl: int = 7200
    users: set[str] | None = None  # None: every userid exists and is visible to the app
    chats: set[str] | None = None  # None: every chatid is a chat the app created
    webhook_per_minute: int = 20
    member_per_minute: int = 30

    messages: list[RecordedMessage] = field(default_factory=list)
    dropped: list[RecordedMessage] = field(default_factory=list)  # over the member quota
    uploads: list[Upload] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)  # every non-zero errcode answered
    token_requests: int = 0

    def __post_init__(self) -> None:
        self._faults: deque[Fault] = deque()
        self._tokens: dict[str, _Token] = {}
        self._ids = itertools.count(1)
        self._webhook_sent: dict[str, deque[datetime]] = {}
        self._member_sent: dict[str, deque[datetime]] = {}
        self._release = asyncio.Event()

    # ------------------------------------------------------------- control

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._fault_middleware])
        app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        app.router.add_post("/cgi-bin/message/send", self._message_send)
        app.router.add_post("/cgi-bin/appchat/send", self._appchat_send)
        app.router.add_post("/cgi-bin/media/upload", self._media_upload)
        app.router.add_post("/cgi-bin/webhook/send", self._webhook_send)
        app.router.add_post("/cgi-bin/webhook/upload_media", self._webhook_upload)
        app.on_shutdown.append(self._on_shutdown)
        return app

    def fail_next(self, *faults: Fault) -> None:
        self._faults.extend(faults)

    def expire_tokens(self) -> None:
        """Make every issued token expired now, as if 7200 s had passed on WeCom's side."""
        for token in self._tokens.values():
            token.revoked = True

    @property
    def pending_faults(self) -> int:
        return len(self._faults)

    def messages_for(self, target: str) -> list[RecordedMessage]:
        return [m for m in self.messages if m.target == target]

    def upload_of(self, media_id: str) -> Upload | None:
        return next((u for u in self.uploads if u.media_id == media_id), None)

    # ------------------------------------------------------------ plumbing

    async def _on_shutdown(self, _app: web.Application) -> None:
        self._release.set()

    def _take_fault(self, path: str) -> Fault | None:
        for index, fault in enumerate(self._faults):
            if fault.path is not None and fault.path != path:
                continue
            if fault.after > 0:
                self._faults[index] = replace(fault, after=fault.after - 1)
                return None
            del self._faults[index]
            return fault
        return None

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append(request.path)
        fault = self._take_fault(request.path)
        if fault is None:
            return await handler(request)
        if fault.kind == "http":
            return web.Response(status=fault.status, text="<html>server error</html>")
        if fault.kind == "errcode":
            return self._error(fault.errcode)
        if fault.kind == "redirect":
            return web.Response(status=307, headers={"Location": fault.location})
        if fault.kind == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), fault.seconds)
            return web.Response(status=504)
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=500)

    def _error(self, errcode: int) -> web.Response:
        self.errors.append(errcode)
        base = ERRMSG.get(errcode, "error")
        hint = next(self._ids)
        errmsg = (
            f"{base}, hint: [{hint:025d}], from ip: 127.0.0.1, "
            f"more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"
        )
        return web.json_response({"errcode": errcode, "errmsg": errmsg})

    def _check_token(self, request: web.Request) -> tuple[_Token | None, web.Response | None]:
        value = request.query.get("access_token")
        if not value:
            return None, self._error(41001)
        token = self._tokens.get(value)
        if token is None:
            return None, self._error(40014)
        if token.revoked or self.clock.now() >= token.expires_at:
            return None, self._error(42001)
        return token, None

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any] | None:
        try:
            data = await request.json()
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def _within(stamps: deque[datetime], now: datetime) -> int:
        while stamps and stamps[0] <= now - timedelta(minutes=1):
            stamps.popleft()
        return len(stamps)

    def _record(self, api: str, target: str, payload: dict[str, Any]) -> RecordedMessage:
        msgtype = str(payload.get("msgtype", ""))
        body = payload.get(msgtype)
        content = body.get("content") if isinstance(body, dict) else None
        mentions = body.get("mentioned_list", []) if isinstance(body, dict) else []
        return RecordedMessage(
            api=api,
            target=target,
            msgtype=msgtype,
            content=content if isinstance(content, str) else None,
            mentioned_list=tuple(str(m) for m in mentions),
            payload=payload,
            at=self.clock.now(),
        )

    def _content_error(
        self, payload: dict[str, Any], markdown_limit: int, *, webhook: bool = False
    ) -> int | None:
        """errcode for a bad text/markdown/file/image body, or None when it is acceptable."""
        msgtype = payload.get("msgtype")
        body = payload.get(msgtype) if isinstance(msgtype, str) else None
        if msgtype not in ("text", "markdown", "file", "image") or not isinstance(body, dict):
            return 40008
        if msgtype == "image" and webhook:
            return _webhook_image_error(body)
        if msgtype in ("file", "image"):
            upload = self.upload_of(str(body.get("media_id")))
            return None if upload is not None and upload.kind == msgtype else 40007
        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            return 44004
        limit = TEXT_LIMIT if msgtype == "text" else markdown_limit
        if len(content.encode("utf-8")) > limit:
            return 40058
        return None

    # ------------------------------------------------------------ handlers

    async def _gettoken(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        if request.query.get("corpid") != self.corp_id:
            return self._error(40013)
        secret = request.query.get("corpsecret", "")
        if secret not in self.apps:
            return self._error(40001)
        value = f"fake-token-{next(self._ids)}"
        expires_at = self.clock.now() + timedelta(seconds=self.token_ttl)
        self._tokens[value] = _Token(secret, expires_at)
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "access_token": value, "expires_in": self.token_ttl}
        )

    async def _message_send(self, request: web.Request) -> web.Response:
        token, failure = self._check_token(request)
        if failure is not None or token is None:
            return failure or self._error(40014)
        payload = await self._json(request)
        if payload is None:
            return self._error(40008)
        if payload.get("agentid") != self.apps[token.secret]:
            return self._error(301002)
        problem = self._content_error(payload, APP_MARKDOWN_LIMIT)
        if problem is not None:
            return self._error(problem)
        wanted = [u for u in str(payload.get("touser", "")).split("|") if u]
        invalid = [u for u in wanted if self.users is not None and u not in self.users]
        valid = [u for u in wanted if u not in invalid]
        if not valid:
            return self._error(81013)
        now = self.clock.now()
        for user in valid:
            stamps = self._member_sent.setdefault(user, deque())
            record = self._record("message/send", user, payload)
            if self._within(stamps, now) >= self.member_per_minute:
                self.dropped.append(record)  # WeCom drops the excess without an error
                continue
            stamps.append(now)
            self.messages.append(record)
        msgid = f"fake-msg-{next(self._ids)}"
        return web.json_response(
            {
                "errcode": 0,
                "errmsg": "ok",
                "invaliduser": "|".join(u.lower() for u in invalid),
                "msgid": msgid,
            }
        )

    async def _appchat_send(self, request: web.Request) -> web.Response:
        _token, failure = self._check_token(request)
        if failure is not None:
            return failure
        payload = await self._json(request)
        if payload is None:
            return self._error(40008)
        chatid = payload.get("chatid")
        if not isinstance(chatid, str) or (self.chats is not None and chatid not in self.chats):
            return self._error(40050)
        problem = self._content_error(payload, APP_MARKDOWN_LIMIT)
        if problem is not None:
            return self._error(problem)
        self.messages.append(self._record("appchat/send", chatid, payload))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _read_media(self, request: web.Request) -> tuple[str, bytes] | None:
        if not request.content_type.startswith("multipart/"):
            return None
        reader = await request.multipart()
        async for part in reader:
            if isinstance(part, BodyPartReader) and part.name == "media":
                return part.filename or "", bytes(await part.read())
        return None

    async def _store_upload(self, request: web.Request, kinds: Iterable[str]) -> web.Response:
        kind = request.query.get("type", "")
        if kind not in kinds:
            return self._error(40005)
        media = await self._read_media(request)
        if media is None or len(media[1]) <= 5:  # WeCom: every file must exceed 5 bytes
            return self._error(40006)
        media_id = f"fake-media-{next(self._ids)}"
        self.uploads.append(Upload(media_id, kind, media[0], media[1]))
        created_at = str(int(self.clock.now().timestamp()))
        return web.json_response(
            {
                "errcode": 0,
                "errmsg": "",
                "type": kind,
                "media_id": media_id,
                "created_at": created_at,
            }
        )

    async def _media_upload(self, request: web.Request) -> web.Response:
        _token, failure = self._check_token(request)
        if failure is not None:
            return failure
        return await self._store_upload(request, MEDIA_KINDS)

    async def _webhook_upload(self, request: web.Request) -> web.Response:
        if request.query.get("key") not in self.webhook_keys:
            return self._error(93000)
        return await self._store_upload(request, ("file", "voice"))

    async def _webhook_send(self, request: web.Request) -> web.Response:
        key = request.query.get("key", "")
        if key not in self.webhook_keys:
            return self._error(93000)
        payload = await self._json(request)
        if payload is None:
            return self._error(40008)
        problem = self._content_error(payload, WEBHOOK_MARKDOWN_LIMIT, webhook=True)
        if problem is not None:
            return self._error(problem)
        now = self.clock.now()
        stamps = self._webhook_sent.setdefault(key, deque())
        if self._within(stamps, now) >= self.webhook_per_minute:
            return self._error(130101)
        stamps.append(now)
        self.messages.append(self._record("webhook/send", key, payload))
        return web.json_response({"errcode": 0, "errmsg": "ok"})


def _webhook_image_error(body: dict[str, Any]) -> int | None:
    """A group robot picture: base64 of a JPG/PNG of at most 2 MB and the md5 of its bytes."""
    try:
        data = base64.b64decode(str(body.get("base64", "")), validate=True)
    except (binascii.Error, ValueError):
        return 40008
    if not data.startswith((b"\x89PNG", b"\xff\xd8")):
        return 40008
    if len(data) > WEBHOOK_IMAGE_LIMIT:
        return 40009  # invalid image size
    if hashlib.md5(data, usedforsecurity=False).hexdigest() != body.get("md5"):
        return 40008
    return None
