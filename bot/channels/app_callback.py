"""Self-built app (自建应用) callback: `GET/POST /wecom/app` with encrypted XML.

WeCom retries a callback that is not answered within 5 seconds, so the POST handler only
verifies, decrypts, parses and hands the message to the sink (a fast durable inbox write)
and answers an empty 200 at once; replies go out later through `message/send`.

Decryption and parsing use wechatpy's enterprise crypto and parser, but only after our own
constant-time signature check, timestamp window and a DTD/entity-free XML parse.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from wechatpy.enterprise import parse_message
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.channels.base import IncomingSink
from bot.clock import Clock
from bot.messages import Channel, ChatType, Incoming
from bot.wecom.callback_security import (
    CallbackRejected,
    CallbackVerifier,
    empty_ack,
    parse_xml_fields,
    read_body,
    rejection_response,
    signed_query,
    unavailable_response,
    unexpected_input_response,
)

logger = logging.getLogger(__name__)

PATH = "/wecom/app"
_CHANNEL = "app"
# A member who starts following the app gets the help text, as if they had typed it.
_SUBSCRIBE_TEXT = "帮助"


class AppCallback:
    """Receives the app's callbacks and turns them into `Incoming` messages."""

    def __init__(
        self,
        token: str,
        aes_key: str,
        corp_id: str,
        agent_id: str,
        sink: IncomingSink,
        clock: Clock,
    ) -> None:
        if not corp_id:
            raise ValueError("corp_id is required for the app callback")
        self._verifier = CallbackVerifier(token, clock)
        self._crypto = WeChatCrypto(token, aes_key, corp_id)
        self._agent_id = str(agent_id).strip()
        self._sink = sink
        self._clock = clock

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(PATH, self.handle_verify)
        app.router.add_post(PATH, self.handle_message)

    async def handle_verify(self, request: web.Request) -> web.Response:
        """URL verification: check the signature, decrypt echostr, answer its plaintext."""
        try:
            query = signed_query(request)
            # Base64 has no spaces: a space here is a '+' that was form-decoded on the way.
            echostr = request.query.get("echostr", "").replace(" ", "+")
            if not echostr:
                raise CallbackRejected(400, "missing query parameter echostr")
            self._verifier.check(query, echostr)
            plain = self._decrypt(
                lambda: self._crypto.check_signature(
                    query.signature, query.timestamp, query.nonce, echostr
                )
            )
        except CallbackRejected as exc:
            return rejection_response(_CHANNEL, request, exc)
        except Exception:
            return unexpected_input_response(_CHANNEL, request)
        logger.info("app callback URL verified")
        return web.Response(status=200, text=plain, content_type="text/plain")

    async def handle_message(self, request: web.Request) -> web.Response:
        """Verify, decrypt, parse, submit to the inbox, answer empty at once."""
        try:
            body = await read_body(request)
            query = signed_query(request)
            self._verifier.check_timestamp(query.timestamp)
            envelope = parse_xml_fields(body)
            encrypted = envelope.get("Encrypt", "").strip()
            if not encrypted:
                raise CallbackRejected(400, "envelope has no Encrypt element")
            self._verifier.check(query, encrypted)
            plain = self._decrypt(
                lambda: self._crypto.decrypt_message(
                    {"Encrypt": encrypted}, query.signature, query.timestamp, query.nonce
                )
            )
            fields = parse_xml_fields(plain)  # safety first: no DTD/entities reach wechatpy
            message = self._parse(plain)
            incoming = self._to_incoming(message, fields)
        except CallbackRejected as exc:
            return rejection_response(_CHANNEL, request, exc)
        except Exception:
            return unexpected_input_response(_CHANNEL, request)
        if incoming is None:
            return empty_ack()
        try:
            accepted = await self._sink.submit(incoming)
        except Exception:
            return unavailable_response(_CHANNEL, request)
        logger.info(
            "app callback %s msgid=%s kind=%s",
            "accepted" if accepted else "duplicate",
            incoming.msgid,
            incoming.reply_context.get("unsupported", "text or event"),
        )
        return empty_ack()

    @staticmethod
    def _decrypt(decrypt: Callable[[], object]) -> str:
        # wechatpy raises many kinds of errors on hostile ciphertext (base64, padding,
        # unicode, corp id); all of them mean "not a message for us".
        try:
            plain = decrypt()
        except Exception as exc:
            raise CallbackRejected(400, f"cannot decrypt ({type(exc).__name__})") from exc
        if not isinstance(plain, str):
            raise CallbackRejected(400, "cannot decrypt (no text)")
        return plain

    @staticmethod
    def _parse(plain: str) -> Any:
        try:
            message = parse_message(plain)
        except Exception as exc:
            raise CallbackRejected(400, f"unparseable message ({type(exc).__name__})") from exc
        if message is None:
            raise CallbackRejected(400, "empty message")
        return message

    def _to_incoming(self, message: Any, fields: dict[str, str]) -> Incoming | None:
        """Map a wechatpy message to `Incoming`; None means 'acknowledge and ignore'."""
        agent = fields.get("AgentID", "").strip()
        if self._agent_id and agent and agent != self._agent_id:
            logger.warning(
                "app callback for agent %s ignored (configured %s)", agent, self._agent_id
            )
            return None
        userid = fields.get("FromUserName", "").strip()
        msgtype = fields.get("MsgType", "").strip().lower()
        if not userid or not msgtype:
            raise CallbackRejected(400, "message lacks FromUserName or MsgType")
        if msgtype == "event":
            return self._event_to_incoming(userid, fields)
        msgid = fields.get("MsgId", "").strip()
        if not msgid:
            raise CallbackRejected(400, f"{msgtype} message lacks MsgId")
        if msgtype == "text":
            return self._incoming(msgid, userid, str(message.content or ""))
        return self._incoming(msgid, userid, "", {"unsupported": msgtype})

    def _event_to_incoming(self, userid: str, fields: dict[str, str]) -> Incoming | None:
        """Events carry no MsgId: WeCom says dedup them by FromUserName + CreateTime (+ Event)."""
        event = fields.get("Event", "").strip().lower()
        msgid = f"{userid}:{fields.get('CreateTime', '').strip()}:{event}"
        if event == "subscribe":
            return self._incoming(msgid, userid, _SUBSCRIBE_TEXT)
        if event == "click" and fields.get("EventKey", "").strip():
            # A custom menu entry whose key is a command (e.g. "签到") acts as typed text.
            return self._incoming(msgid, userid, fields["EventKey"].strip())
        # enter_agent fires every time the app is opened: answering would be noise.
        logger.debug("app callback event %s ignored", event or "?")
        return None

    def _incoming(
        self, msgid: str, userid: str, text: str, reply_context: dict[str, str] | None = None
    ) -> Incoming:
        return Incoming(
            channel=Channel.APP,
            msgid=msgid,
            userid=userid,
            text=text,
            chat_type=ChatType.SINGLE,
            received_at=self._clock.now(),
            reply_context=reply_context or {},
        )
