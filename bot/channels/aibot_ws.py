"""The smart-bot long connection (智能机器人长连接): receive messages and answer over one WebSocket.

One `AibotLongConnection` keeps the WebSocket to WeCom alive (subscribe, heartbeat, reconnect
with jittered exponential backoff), hands every user message to the `IncomingSink`, and acts as
the `Sender` for `Channel.AIBOT_WS`: replies go back on the req_id of the message they answer,
everything else is pushed to a chat. Frame shapes live in `aibot_ws_frames`.

aiohttp's WebSocket client is used rather than the official SDK: the SDK sleeps on its own
clock, gives no way to inject time, has no jitter, and would add websockets and pyee.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import json
import logging
import random
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from pydantic import SecretStr, ValidationError

from bot.channels.aibot_ws_frames import (
    CMD_EVENT_CALLBACK,
    CMD_MSG_CALLBACK,
    CMD_PING,
    CMD_SEND,
    CMD_SUBSCRIBE,
    CMD_UPLOAD_CHUNK,
    CMD_UPLOAD_FINISH,
    CMD_UPLOAD_INIT,
    ERRCODE_BAD_CREDENTIALS,
    ERRCODE_OK,
    EVENT_DISCONNECTED,
    PUSH_MAX_BYTES,
    REPLY_GONE_ERRCODES,
    REPLY_MAX_BYTES,
    UPLOAD_CHUNK_BYTES,
    UPLOAD_MAX_CHUNKS,
    EventBody,
    InboundFrame,
    MessageBody,
    is_retryable_errcode,
    markdown_push_frame,
    media_push_frame,
    new_req_id,
    ping_frame,
    stream_reply_frame,
    subscribe_frame,
    upload_chunk_frame,
    upload_finish_frame,
    upload_init_frame,
)
from bot.channels.attachments import (
    APP_IMAGE_MAX_BYTES,
    MediaCache,
    media_kind,
    read_attachment,
)
from bot.channels.base import IncomingSink, SendError
from bot.core.clock import Clock
from bot.core.messages import Attachment, Channel, ChatType, Incoming, Outgoing
from bot.pipeline.files import FILE_AES_KEY, FILE_KIND, FILE_URL
from bot.text.split import split_text

logger = logging.getLogger(__name__)

SleepFn = Callable[[float], Awaitable[Any]]

_PROGRESS_LIMIT = 256


class _Ending(enum.Enum):
    """Why one connection attempt ended; decides what `run()` does next."""

    STOPPED = "stopped"
    REPLACED = "replaced"
    BAD_CREDENTIALS = "bad_credentials"
    SUBSCRIBE_FAILED = "subscribe_failed"
    DROPPED = "dropped"


class _Rejected(Exception):
    """WeCom answered a request with a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"errcode={errcode} errmsg={errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class _KeyedLocks:
    """One lock per req_id: replies on the same req_id must wait for each other's answer."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class AibotLongConnection:
    """Long connection to WeCom for one smart bot; also the `Sender` of `Channel.AIBOT_WS`."""

    channel = Channel.AIBOT_WS

    def __init__(
        self,
        url: str,
        bot_id: str,
        secret: str | SecretStr,
        sink: IncomingSink,
        *,
        session: aiohttp.ClientSession,
        clock: Clock,
        sleep: SleepFn = asyncio.sleep,
        rng: random.Random | None = None,
        heartbeat_interval: float = 30.0,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        auth_backoff_base: float = 300.0,
        auth_backoff_max: float = 3600.0,
        response_timeout: float = 10.0,
    ) -> None:
        if backoff_base <= 0 or backoff_max < backoff_base:
            raise ValueError("need 0 < backoff_base <= backoff_max")
        if auth_backoff_base <= 0 or auth_backoff_max < auth_backoff_base:
            raise ValueError("need 0 < auth_backoff_base <= auth_backoff_max")
        self._url = url
        self._bot_id = bot_id
        self._secret = secret if isinstance(secret, SecretStr) else SecretStr(secret)
        self._sink = sink
        self._session = session
        self._clock = clock
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._heartbeat_interval = heartbeat_interval
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._auth_backoff_base = auth_backoff_base
        self._auth_backoff_max = auth_backoff_max
        self._response_timeout = response_timeout

        self.connected = asyncio.Event()
        self._stop = asyncio.Event()
        self._replaced = False
        self._running = False
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._pending: dict[str, asyncio.Future[InboundFrame]] = {}
        self._req_locks = _KeyedLocks()
        self._ping_outstanding: str | None = None
        self._healthy = False
        self._reconnects = 0
        self._auth_failures = 0
        # How much of a message's text already reached WeCom, so a retried send resumes
        # where it failed instead of repeating the first pieces.
        self._progress: OrderedDict[str, int] = OrderedDict()
        # media_ids of attachments uploaded for messages not yet fully delivered.
        self._media = MediaCache()

    @property
    def is_connected(self) -> bool:
        return self.connected.is_set()

    @property
    def replaced(self) -> bool:
        """True once WeCom said another connection took over this bot."""
        return self._replaced

    def stop(self) -> None:
        """Ask `run()` to close the connection and return."""
        self._stop.set()

    def resume(self) -> None:
        """Let `run()` connect again after `stop()` (this instance leads again)."""
        self._stop.clear()

    async def run(self) -> None:
        """Keep the connection up until `stop()` or until another connection replaces it."""
        if self._running:
            raise RuntimeError("AibotLongConnection.run() is already running")
        self._running = True
        try:
            while not self._stop.is_set() and not self._replaced:
                ending = await self._connect_once()
                if ending in (_Ending.STOPPED, _Ending.REPLACED) or self._stop.is_set():
                    return
                await self._pause(self._next_delay(ending))
        finally:
            self._running = False

    # -- connection lifecycle -------------------------------------------------------------

    def _next_delay(self, ending: _Ending) -> float:
        if ending is _Ending.BAD_CREDENTIALS:
            delay = self._jittered(
                self._auth_backoff_base, self._auth_backoff_max, self._auth_failures
            )
            self._auth_failures += 1
            logger.error(
                "企业微信智能机器人认证失败：BotID 或 Secret 不正确，请检查 WECOM_BOT_ID / "
                "WECOM_BOT_SECRET；%.0f 秒后再试 / aibot subscribe rejected (bad bot_id or "
                "secret), retrying in %.0fs",
                delay,
                delay,
            )
            return delay
        if self._healthy:
            self._reconnects = 0
        delay = self._jittered(self._backoff_base, self._backoff_max, self._reconnects)
        self._reconnects += 1
        logger.warning(
            "企业微信长连接已断开，%.1f 秒后第 %d 次重连 / aibot connection lost, "
            "reconnect attempt %d in %.1fs",
            delay,
            self._reconnects,
            self._reconnects,
            delay,
        )
        return delay

    def _jittered(self, base: float, cap: float, attempt: int) -> float:
        """Exponential backoff with full jitter, never below `base` nor above `cap`."""
        ceiling = min(cap, base * (2 ** min(attempt, 32)))
        return self._rng.uniform(base, ceiling)

    async def _pause(self, delay: float) -> None:
        """Sleep with the injected sleep, but wake up at once on `stop()`."""
        sleeper = asyncio.ensure_future(self._sleep(delay))
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                task.cancel()
            await asyncio.gather(sleeper, stopper, return_exceptions=True)

    async def _connect_once(self) -> _Ending:
        self._healthy = False
        self._ping_outstanding = None
        try:
            async with asyncio.timeout(self._response_timeout):
                ws = await self._session.ws_connect(self._url, autoping=True)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            logger.warning(
                "无法连接企业微信长连接 / cannot open aibot WebSocket to %s: %s", self._url, exc
            )
            return _Ending.DROPPED

        self._ws = ws
        reader = asyncio.create_task(self._read_loop(ws))
        stopper = asyncio.create_task(self._stop.wait())
        heartbeat: asyncio.Task[None] | None = None
        try:
            failure = await self._subscribe(ws, reader, stopper)
            if failure is not None:
                return failure
            self.connected.set()
            logger.info(
                "企业微信长连接已就绪 / aibot long connection subscribed (bot %s)", self._bot_id
            )
            heartbeat = asyncio.create_task(self._heartbeat_loop(ws))
            await asyncio.wait({reader, heartbeat, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if self._replaced:
                return _Ending.REPLACED
            if self._stop.is_set():
                return _Ending.STOPPED
            return _Ending.DROPPED
        finally:
            self.connected.clear()
            self._ws = None
            for task in (heartbeat, stopper):
                if task is not None:
                    task.cancel()
            await ws.close()
            # The reader ends by itself once the socket is closed; it is not cancelled so an
            # inbox write in progress is not cut in half.
            await asyncio.gather(reader, return_exceptions=True)
            await asyncio.gather(
                *(t for t in (heartbeat, stopper) if t is not None), return_exceptions=True
            )
            self._fail_pending("connection closed")

    async def _subscribe(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        reader: asyncio.Task[None],
        stopper: asyncio.Task[bool],
    ) -> _Ending | None:
        """Send the subscribe frame and wait for its answer; None means subscribed."""
        req_id = new_req_id(CMD_SUBSCRIBE)
        answer: asyncio.Future[InboundFrame] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = answer
        try:
            await ws.send_str(
                json.dumps(subscribe_frame(req_id, self._bot_id, self._secret.get_secret_value()))
            )
            waiting: set[asyncio.Future[Any]] = {answer, reader, stopper}
            done, _ = await asyncio.wait(
                waiting,
                timeout=self._response_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        except (ConnectionError, aiohttp.ClientError) as exc:
            logger.warning("发送订阅请求失败 / could not send aibot subscribe: %s", exc)
            return _Ending.DROPPED
        finally:
            self._pending.pop(req_id, None)
        if stopper in done:
            return _Ending.STOPPED
        if answer not in done:
            logger.warning(
                "订阅请求没有得到应答 / aibot subscribe got no answer (%s)",
                "connection closed" if reader.done() else f"{self._response_timeout:.0f}s timeout",
            )
            return _Ending.DROPPED
        frame = answer.result()
        if frame.result_code == ERRCODE_BAD_CREDENTIALS:
            return _Ending.BAD_CREDENTIALS
        if frame.result_code != ERRCODE_OK:
            logger.error(
                "企业微信长连接订阅失败 / aibot subscribe failed: errcode=%s errmsg=%s",
                frame.result_code,
                frame.errmsg,
            )
            return _Ending.SUBSCRIBE_FAILED
        self._auth_failures = 0
        return None

    async def _heartbeat_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Ping every interval; a ping still unanswered at the next tick means the link is dead."""
        while True:
            await self._sleep(self._heartbeat_interval)
            if self._ping_outstanding is not None:
                logger.warning(
                    "心跳无应答，判定连接已断开 / aibot heartbeat unanswered, reconnecting"
                )
                return
            req_id = new_req_id(CMD_PING)
            self._ping_outstanding = req_id
            try:
                await ws.send_str(json.dumps(ping_frame(req_id)))
            except (ConnectionError, aiohttp.ClientError):
                return

    def _fail_pending(self, reason: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError(reason))
        self._pending.clear()

    # -- inbound frames -------------------------------------------------------------------

    async def _read_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                raw = message.data
            elif message.type is aiohttp.WSMsgType.BINARY:
                raw = message.data.decode("utf-8", errors="replace")
            else:
                break
            await self._dispatch(raw)
            if self._replaced:
                return

    async def _dispatch(self, raw: str) -> None:
        try:
            frame = InboundFrame.model_validate_json(raw)
        except ValidationError:
            logger.warning("收到无法解析的帧 / unparseable aibot frame (%d bytes)", len(raw))
            return
        if frame.cmd == CMD_MSG_CALLBACK:
            await self._on_message(frame)
        elif frame.cmd == CMD_EVENT_CALLBACK:
            self._on_event(frame)
        elif frame.req_id in self._pending:
            future = self._pending.pop(frame.req_id)
            if not future.done():
                future.set_result(frame)
        elif frame.req_id and frame.req_id == self._ping_outstanding:
            if frame.result_code == ERRCODE_OK:
                self._ping_outstanding = None
                self._healthy = True
            else:
                logger.warning(
                    "心跳应答异常 / aibot heartbeat answered errcode=%s errmsg=%s",
                    frame.result_code,
                    frame.errmsg,
                )
        else:
            logger.debug("ignored aibot frame cmd=%s req_id=%s", frame.cmd, frame.req_id)

    async def _on_message(self, frame: InboundFrame) -> None:
        try:
            body = MessageBody.model_validate(frame.body or {})
        except ValidationError:
            logger.warning(
                "消息回调缺少必要字段 / aibot message callback without msgid/from, ignored"
            )
            return
        text = body.readable_text()
        media = body.media()
        if text is None and media is None:
            logger.info(
                "暂不支持的消息类型 / ignored aibot %s message msgid=%s", body.msgtype, body.msgid
            )
            return
        reply_context = {"req_id": frame.req_id}
        if media is not None:
            # Downloaded later by bot.pipeline.files.FileIntake, after the inbox write.
            kind, content = media
            reply_context.update({FILE_URL: content.url, FILE_KIND: kind})
            if content.aeskey:
                reply_context[FILE_AES_KEY] = content.aeskey
            if text is None:
                reply_context["unsupported"] = body.msgtype
        incoming = Incoming(
            channel=Channel.AIBOT_WS,
            msgid=body.msgid,
            userid=body.sender.userid,
            text=text or "",
            chat_type=ChatType.GROUP if body.is_group else ChatType.SINGLE,
            chat_id=body.chatid if body.is_group else None,
            quote=body.quote_text(),
            received_at=self._clock.now(),
            reply_context=reply_context,
        )
        try:
            fresh = await self._sink.submit(incoming)
        except Exception:
            logger.exception("写入收件箱失败 / inbox write failed for aibot msgid=%s", body.msgid)
            return
        if fresh:
            logger.debug("aibot message msgid=%s accepted", body.msgid)
        else:
            logger.debug("duplicate aibot msgid=%s ignored", body.msgid)

    def _on_event(self, frame: InboundFrame) -> None:
        try:
            body = EventBody.model_validate(frame.body or {})
        except ValidationError:
            logger.warning("事件回调无法解析 / unparseable aibot event callback")
            return
        if body.event.eventtype == EVENT_DISCONNECTED:
            self._replaced = True
            logger.error(
                "该机器人已在别处建立了新的长连接，本连接退出且不再重连，以免与新连接互相抢占；"
                "如非预期，请检查是否有另一个进程在使用同一个 BotID / aibot connection replaced "
                "by a newer one (disconnected_event); not reconnecting"
            )
            return
        logger.debug("aibot event %s ignored", body.event.eventtype)

    # -- Sender ---------------------------------------------------------------------------

    async def send(self, message: Outgoing) -> None:
        """Deliver one message: a stream reply on its req_id, else a markdown push to the chat;
        then its attachment, uploaded over the socket and pushed to the chat as file/image."""
        if message.channel is not Channel.AIBOT_WS:
            raise SendError(f"not an aibot_ws message: {message.channel}", retryable=False)
        if not message.text.strip() and message.attachment is None:
            return
        key = self._progress_key(message)
        delivered = self._progress.get(key, 0)
        req_id = message.reply_context.get("req_id") or None
        while delivered < len(message.text):
            limit = REPLY_MAX_BYTES if req_id else PUSH_MAX_BYTES
            piece = split_text(message.text[delivered:], limit)[0]
            content = piece.rstrip("\n")
            try:
                if content.strip():
                    if req_id:
                        await self._reply(req_id, content)
                    else:
                        await self._push(message.target, content)
            except _Rejected as exc:
                if req_id and exc.errcode in REPLY_GONE_ERRCODES:
                    logger.info(
                        "回复已过期，改为主动推送 / aibot reply req_id expired (errcode=%s), "
                        "pushing to %s instead",
                        exc.errcode,
                        message.target,
                    )
                    req_id = None
                    continue
                self._remember(key, delivered)
                raise SendError(
                    f"企业微信拒绝了消息 / aibot rejected message: {exc}",
                    retryable=is_retryable_errcode(exc.errcode),
                ) from exc
            except SendError:
                self._remember(key, delivered)
                raise
            delivered += len(piece)
        if message.attachment is not None:
            await self._deliver_attachment(message, message.attachment, key)
        self._progress.pop(key, None)
        self._media.forget(key)

    async def _deliver_attachment(
        self, message: Outgoing, attachment: Attachment, key: str
    ) -> None:
        """Retryable failures keep the text as delivered; a permanent refusal skips the
        attachment (the text, with its link, went) unless there was no text at all."""
        try:
            await self._send_attachment(message.target, attachment, key)
        except _Rejected as exc:
            retryable = is_retryable_errcode(exc.errcode)
            if retryable or not message.text.strip():
                self._remember(key, len(message.text))
                raise SendError(
                    f"企业微信拒绝了附件 / aibot rejected the attachment: {exc}",
                    retryable=retryable,
                ) from exc
            logger.warning(
                "附件未发送，文字已送达 / aibot attachment skipped, the text went: %s", exc
            )
        except SendError:
            self._remember(key, len(message.text))
            raise

    async def _send_attachment(self, chatid: str, attachment: Attachment, key: str) -> None:
        data = read_attachment(attachment)
        if data is None:
            return
        kind = media_kind(attachment, len(data), APP_IMAGE_MAX_BYTES).value
        media_id = self._media.get(key)
        if media_id is None:
            media_id = await self._upload(kind, attachment.name, data)
            self._media.put(key, media_id)
        req_id = new_req_id(CMD_SEND)
        await self._request(req_id, media_push_frame(req_id, chatid, kind, media_id))

    async def _upload(self, kind: str, name: str, data: bytes) -> str:
        """The three-step upload (init, chunks, finish) of doc 101463; returns the media_id."""
        pieces = [
            data[start : start + UPLOAD_CHUNK_BYTES]
            for start in range(0, len(data), UPLOAD_CHUNK_BYTES)
        ]
        if len(pieces) > UPLOAD_MAX_CHUNKS:
            raise _Rejected(-2, f"{len(data)} bytes need more than {UPLOAD_MAX_CHUNKS} chunks")
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        req_id = new_req_id(CMD_UPLOAD_INIT)
        answer = await self._request(
            req_id, upload_init_frame(req_id, kind, name, len(data), len(pieces), md5)
        )
        upload_id = (answer.body or {}).get("upload_id")
        if not isinstance(upload_id, str) or not upload_id:
            raise _Rejected(-2, "upload init answered without upload_id")
        for index, piece in enumerate(pieces):
            req_id = new_req_id(CMD_UPLOAD_CHUNK)
            await self._request(req_id, upload_chunk_frame(req_id, upload_id, index, piece))
        req_id = new_req_id(CMD_UPLOAD_FINISH)
        answer = await self._request(req_id, upload_finish_frame(req_id, upload_id))
        media_id = (answer.body or {}).get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise _Rejected(-2, "upload finish answered without media_id")
        return media_id

    async def _reply(self, req_id: str, content: str) -> None:
        await self._request(req_id, stream_reply_frame(req_id, uuid.uuid4().hex, content))

    async def _push(self, chatid: str, content: str) -> None:
        req_id = new_req_id(CMD_SEND)
        await self._request(req_id, markdown_push_frame(req_id, chatid, content))

    async def _request(self, req_id: str, frame: dict[str, Any]) -> InboundFrame:
        """Send a frame and wait for the answer carrying the same req_id."""
        async with self._req_locks.hold(req_id):
            ws = self._ws
            if ws is None or ws.closed or not self.connected.is_set():
                reason = "已被新连接取代 / replaced" if self._replaced else "未连接 / not connected"
                raise SendError(f"企业微信长连接{reason}", retryable=True)
            answer: asyncio.Future[InboundFrame] = asyncio.get_running_loop().create_future()
            self._pending[req_id] = answer
            try:
                await ws.send_str(json.dumps(frame, ensure_ascii=False))
                async with asyncio.timeout(self._response_timeout):
                    result = await answer
            except TimeoutError as exc:
                raise SendError(
                    f"企业微信 {self._response_timeout:.0f} 秒内未应答 / aibot answer timed out",
                    retryable=True,
                ) from exc
            except (ConnectionError, aiohttp.ClientError) as exc:
                raise SendError(f"连接中断 / aibot connection lost: {exc}", retryable=True) from exc
            finally:
                if self._pending.get(req_id) is answer:
                    del self._pending[req_id]
        if result.result_code != ERRCODE_OK:
            logger.warning(
                "企业微信拒绝了请求 / aibot %s rejected: errcode=%s errmsg=%s",
                frame.get("cmd"),
                result.result_code,
                result.errmsg,
            )
            raise _Rejected(result.result_code, result.errmsg or "")
        return result

    def _progress_key(self, message: Outgoing) -> str:
        if message.dedup_key:
            return message.dedup_key
        digest = hashlib.sha256(message.text.encode("utf-8")).hexdigest()
        return f"{message.target}|{message.reply_context.get('req_id', '')}|{digest}"

    def _remember(self, key: str, delivered: int) -> None:
        if delivered <= 0:
            self._progress.pop(key, None)
            return
        self._progress[key] = delivered
        self._progress.move_to_end(key)
        while len(self._progress) > _PROGRESS_LIMIT:
            self._progress.popitem(last=False)
