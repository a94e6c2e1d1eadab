"""A fake of WeCom's smart-bot long-connection server (智能机器人长连接, doc 101463).

Mount `FakeWeComWS.make_app()` on an aiohttp test server and point the client at it. The
fake speaks the wire protocol as the official SDKs do — `{"cmd", "headers": {"req_id"},
"body"}` frames, answers `{"headers": {"req_id"}, "errcode", "errmsg"}` without a cmd — and
deliberately spells every command with its own literals instead of importing ours, so a
mistake in the client is not mirrored here.

Tests drive it: push message/event frames, replay a frame after a reconnect, drop the socket
abruptly, announce that another connection took over, stop answering pings, or answer the
next reply/push with an errcode. Every frame the client sent is recorded in order; waiting
helpers use a condition, never a timer. Media uploads (aibot_upload_media_init/chunk/finish)
are checked — chunk indexes, size and md5 — and kept in `uploads`; a pushed file or image must
name an uploaded media_id of its kind. Chunks may come in any order, as the official Node
client sends up to four at once; a resent chunk replaces the earlier copy.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

DEFAULT_BOT_ID = "aibFAKEBOT0001"
DEFAULT_SECRET = "fake-bot-secret"

BAD_CREDENTIALS = (853000, "invalid bot_id or secret")
NOT_SUBSCRIBED = (853001, "not subscribed")  # invented: the fake's answer before subscribe
UNKNOWN_CMD = (40008, "invalid cmd")
BAD_MEDIA = (40007, "invalid media_id")
BAD_UPLOAD = (40006, "invalid upload")


@dataclass(frozen=True)
class ClientFrame:
    """One frame the client sent, as the fake received it."""

    connection: int
    cmd: str
    req_id: str
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WSUpload:
    media_id: str
    kind: str
    filename: str
    data: bytes


@dataclass
class _PendingUpload:
    kind: str
    filename: str
    total_size: int
    total_chunks: int
    md5: str
    chunks: dict[int, bytes] = field(default_factory=dict)


@dataclass
class _Connection:
    number: int
    request: web.Request
    ws: web.WebSocketResponse
    subscribed: bool = False
    closed: bool = False


class FakeWeComWS:
    """In-process WeCom long-connection endpoint; one live connection at a time."""

    def __init__(self, *, bot_id: str = DEFAULT_BOT_ID, secret: str = DEFAULT_SECRET) -> None:
        self.bot_id = bot_id
        self.secret = secret
        self.connections = 0
        self.subscriptions = 0
        self.frames: list[ClientFrame] = []
        self.pushed: list[dict[str, Any]] = []
        self.uploads: list[WSUpload] = []
        self._open_uploads: dict[str, _PendingUpload] = {}
        self.answer_pings = True
        # Per cmd, the answers to come: None answers ok, a pair answers with that errcode.
        self._faults: dict[str, deque[tuple[int, str] | None]] = {}
        self._current: _Connection | None = None
        self._changed = asyncio.Condition()

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._handle)
        return app

    # -- what the client did -----------------------------------------------------------

    def sent(self, cmd: str) -> list[ClientFrame]:
        return [frame for frame in self.frames if frame.cmd == cmd]

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        async with self._changed:
            await self._changed.wait_for(predicate)

    async def wait_subscribed(self, count: int = 1) -> None:
        """Wait until `count` connections in total have subscribed successfully."""
        await self.wait_until(
            lambda: (
                self.subscriptions >= count
                and self._current is not None
                and self._current.subscribed
            )
        )

    async def wait_connections(self, count: int) -> None:
        await self.wait_until(lambda: self.connections >= count)

    async def wait_sent(self, cmd: str, count: int = 1) -> list[ClientFrame]:
        await self.wait_until(lambda: len(self.sent(cmd)) >= count)
        return self.sent(cmd)

    async def wait_disconnected(self) -> None:
        """Wait until no connection is open."""
        await self.wait_until(lambda: self._current is None)

    # -- what the server does ----------------------------------------------------------

    def fail_next(
        self, cmd: str, errcode: int, errmsg: str = "fake failure", *, after: int = 0
    ) -> None:
        """Answer a coming frame with this cmd (e.g. aibot_respond_msg) with an errcode.

        `after` lets that many frames of the cmd succeed first.
        """
        queue = self._faults.setdefault(cmd, deque())
        queue.extend([None] * after)
        queue.append((errcode, errmsg))

    async def push_message(
        self,
        *,
        userid: str,
        text: str,
        chatid: str | None = None,
        msgid: str | None = None,
        quote: str | None = None,
        req_id: str | None = None,
    ) -> dict[str, Any]:
        """Deliver a text message callback; a chatid makes it a group message."""
        body: dict[str, Any] = {
            "msgid": msgid or uuid.uuid4().hex,
            "aibotid": self.bot_id,
            "chattype": "group" if chatid else "single",
            "from": {"userid": userid},
            "msgtype": "text",
            "text": {"content": text},
        }
        if chatid:
            body["chatid"] = chatid
        if quote is not None:
            body["quote"] = {"msgtype": "text", "text": {"content": quote}}
        frame = {
            "cmd": "aibot_msg_callback",
            "headers": {"req_id": req_id or uuid.uuid4().hex},
            "body": body,
        }
        await self._push(frame)
        return frame

    async def push_event(self, eventtype: str, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "msgid": uuid.uuid4().hex,
            "aibotid": self.bot_id,
            "msgtype": "event",
            "event": {"eventtype": eventtype},
            **extra,
        }
        frame = {
            "cmd": "aibot_event_callback",
            "headers": {"req_id": uuid.uuid4().hex},
            "body": body,
        }
        await self._push(frame)
        return frame

    async def send_disconnected_event(self) -> dict[str, Any]:
        """Tell the client a newer connection took over; like WeCom, do not close yet."""
        return await self.push_event("disconnected_event")

    async def replay(self, frame: dict[str, Any], *, new_req_id: bool = True) -> dict[str, Any]:
        """Deliver an earlier frame again (same msgid), as WeCom may after a reconnect."""
        again = json.loads(json.dumps(frame))
        if new_req_id:
            again["headers"]["req_id"] = uuid.uuid4().hex
        await self._push(again)
        return again

    async def push_raw(self, data: str | bytes) -> None:
        """Send any text or binary frame as it is (malformed ones too), for robustness tests."""
        connection = self._require_connection()
        if isinstance(data, bytes):
            await connection.ws.send_bytes(data)
        else:
            await connection.ws.send_str(data)

    async def drop(self) -> None:
        """Cut the TCP connection without a close frame."""
        connection = self._require_connection()
        transport = connection.request.transport
        if transport is not None:
            transport.close()
        await self.wait_until(lambda: connection.closed)

    # -- internals -----------------------------------------------------------------------

    def _require_connection(self) -> _Connection:
        if self._current is None or self._current.closed:
            raise RuntimeError("no client is connected to the fake")
        return self._current

    async def _push(self, frame: dict[str, Any]) -> None:
        connection = self._require_connection()
        await connection.ws.send_str(json.dumps(frame, ensure_ascii=False))
        self.pushed.append(frame)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _answer(
        self,
        ws: web.WebSocketResponse,
        req_id: str,
        errcode: int = 0,
        errmsg: str = "ok",
        body: dict[str, Any] | None = None,
    ) -> None:
        answer: dict[str, Any] = {"headers": {"req_id": req_id}, "errcode": errcode}
        answer["errmsg"] = errmsg
        if body is not None:
            answer["body"] = body
        await ws.send_str(json.dumps(answer))

    def _upload_step(self, cmd: str, body: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
        """(errcode, errmsg, answer body) for one step of the three-step media upload."""
        if cmd == "aibot_upload_media_init":
            pending = _PendingUpload(
                kind=str(body.get("type", "")),
                filename=str(body.get("filename", "")),
                total_size=int(body.get("total_size", 0)),
                total_chunks=int(body.get("total_chunks", 0)),
                md5=str(body.get("md5", "")),
            )
            if pending.kind not in ("file", "image", "voice", "video") or not (
                1 <= pending.total_chunks <= 100 and pending.total_size > 5
            ):
                return (*BAD_UPLOAD, {})
            upload_id = f"upload-{uuid.uuid4().hex[:8]}"
            self._open_uploads[upload_id] = pending
            return 0, "ok", {"upload_id": upload_id}
        pending_or_none = self._open_uploads.get(str(body.get("upload_id", "")))
        if pending_or_none is None:
            return (*BAD_UPLOAD, {})
        pending = pending_or_none
        if cmd == "aibot_upload_media_chunk":
            data = base64.b64decode(str(body.get("base64_data", "")))
            index = body.get("chunk_index")
            if not isinstance(index, int) or not 0 <= index < pending.total_chunks:
                return (*BAD_UPLOAD, {})
            if len(data) > 512 * 1024:
                return (*BAD_UPLOAD, {})
            pending.chunks[index] = data
            return 0, "ok", {}
        data = b"".join(pending.chunks[i] for i in sorted(pending.chunks))
        del self._open_uploads[str(body["upload_id"])]
        if (
            len(pending.chunks) != pending.total_chunks
            or len(data) != pending.total_size
            or hashlib.md5(data, usedforsecurity=False).hexdigest() != pending.md5
        ):
            return (*BAD_UPLOAD, {})
        media_id = f"ws-media-{len(self.uploads) + 1}"
        self.uploads.append(WSUpload(media_id, pending.kind, pending.filename, data))
        return 0, "ok", {"type": pending.kind, "media_id": media_id}

    def _media_error(self, body: dict[str, Any]) -> tuple[int, str] | None:
        kind = body.get("msgtype")
        if kind not in ("file", "image"):
            return None
        media = body.get(kind)
        if not isinstance(media, dict):
            return BAD_MEDIA
        known = {u.media_id: u.kind for u in self.uploads}
        return None if known.get(str(media.get("media_id"))) == kind else BAD_MEDIA

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        connection = _Connection(number=self.connections, request=request, ws=ws)
        self._current = connection
        await self._notify()
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                if not await self._on_frame(connection, json.loads(message.data)):
                    break
        finally:
            connection.closed = True
            if self._current is connection:
                self._current = None
            await self._notify()
        return ws

    async def _on_frame(self, connection: _Connection, frame: dict[str, Any]) -> bool:
        """Answer one client frame; False closes the connection."""
        cmd = str(frame.get("cmd", ""))
        req_id = str(frame.get("headers", {}).get("req_id", ""))
        body = frame.get("body") or {}
        ws = connection.ws
        keep_open = True
        if cmd == "aibot_subscribe":
            if body.get("bot_id") == self.bot_id and body.get("secret") == self.secret:
                connection.subscribed = True
                self.subscriptions += 1
                await self._answer(ws, req_id)
            else:
                await self._answer(ws, req_id, *BAD_CREDENTIALS)
                keep_open = False
        elif not connection.subscribed:
            await self._answer(ws, req_id, *NOT_SUBSCRIBED)
        elif cmd == "ping":
            if self.answer_pings:
                await self._answer(ws, req_id)
        elif cmd in (
            "aibot_respond_msg",
            "aibot_send_msg",
            "aibot_upload_media_init",
            "aibot_upload_media_chunk",
            "aibot_upload_media_finish",
        ):
            faults = self._faults.get(cmd)
            fault = faults.popleft() if faults else None
            if fault is not None:
                await self._answer(ws, req_id, *fault)
            elif cmd.startswith("aibot_upload_media_"):
                errcode, errmsg, answer = self._upload_step(cmd, body)
                await self._answer(ws, req_id, errcode, errmsg, answer)
            else:
                problem = self._media_error(body)
                await self._answer(ws, req_id, *(problem or (0, "ok")))
        else:
            await self._answer(ws, req_id, *UNKNOWN_CMD)
        # Recorded after answering, so a test that saw the frame knows the answer is on its way.
        self.frames.append(ClientFrame(connection.number, cmd, req_id, body))
        await self._notify()
        if not keep_open:
            await ws.close()
        return keep_open
