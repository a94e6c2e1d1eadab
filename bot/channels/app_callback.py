"""Self-built app (自建应用) callback: `GET/POST /wecom/app` with encrypted XML.

WeCom retries a callback that is not answered within 5 seconds, so the POST handler only
verifies, decrypts, parses and hands the message to the sink (a fast durable inbox write)
and answers an empty 200 at once; replies go out later through `message/send`.

After our own constant-time signature check and timestamp window, a message is decrypted with
`AibotCrypto` (WeCom's scheme, receive id = corp id, strict checks); wechatpy's enterprise
crypto answers the URL verification and encrypts the one passive reply. The envelope is not
parsed before the signature check: its `Encrypt` is found by a bounded scan, so junk costs
microseconds; only a signed envelope is then parsed. The decrypted XML is parsed once, DTD/entity-free (`parse_xml_fields`); a
message is flat, so its fields are all we need (wechatpy's parser would parse it again).

Message types an app receives (docs 90239/96467): text, image, voice, video, location, link.
A picture's PicUrl is a plain URL (no decryption) and a link has Title/Description/Url; both
go to `bot.pipeline.files.FileIntake` through `reply_context`, so a picture or link can become a
resource. Apps get no file URL (at most a MediaId needing `media/get` with an access token,
which the intake does not do), so a `file` gets an immediate passive text reply pointing to
the smart bot or a shared link instead of a half-working download.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.channels.base import IncomingSink
from bot.channels.wecom.aibot_crypto import AibotCrypto, AibotCryptoError
from bot.channels.wecom.callback_security import (
    CallbackRejected,
    CallbackVerifier,
    empty_ack,
    parse_xml_fields,
    rejection_response,
    scan_xml_encrypt,
    unavailable_response,
    unexpected_input_response,
    verified_ciphertext,
    verified_echostr,
    xml_envelope_encrypt,
)
from bot.core.clock import Clock
from bot.core.messages import Channel, ChatType, Incoming
from bot.pipeline.files import FILE_KIND, FILE_URL, LINK_TITLE, LINK_URL

logger = logging.getLogger(__name__)

PATH = "/wecom/app"
_CHANNEL = "app"
# A member who starts following the app gets the help text, as if they had typed it.
_SUBSCRIBE_TEXT = "帮助"
# The passive answer to a file sent to the app (see the module docstring).
FILE_HINT = (
    "应用这里暂时收不了文件。想把文件分享到资源库，请单聊发给「教研助手」智能机器人；"
    "或上传网盘后发送：资源 标题 链接，"
    "例如：资源 《秋天的雨》教学设计 https://pan.example.com/s/abc #三年级"
)


_HTTP = ("https://", "http://")


@dataclass(frozen=True)
class PassiveAnswer:
    """A text answered in the HTTP response itself, without going through the inbox."""

    userid: str
    text: str


class AppCallback:
    """Receives the app's callbacks and turns them into `Incoming` messages.

    text → its content; image → empty text with the PicUrl as FILE_URL (FILE_KIND "image");
    link → empty text with LINK_URL/LINK_TITLE (the intake shares it as a resource); file →
    a passive answer (`FILE_HINT`); other types → empty text and
    `reply_context["unsupported"]` for a kind answer through the router.
    """

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
        # Messages: the same scheme with strict padding/length checks, and no second signature
        # check (verified_ciphertext did it in constant time); half wechatpy's time per callback.
        self._message_crypto = AibotCrypto(token, aes_key, receive_id=corp_id)
        self._corp_id = corp_id
        self._agent_id = str(agent_id).strip()
        self._sink = sink
        self._clock = clock

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(PATH, self.handle_verify)
        app.router.add_post(PATH, self.handle_message)

    async def handle_verify(self, request: web.Request) -> web.Response:
        """URL verification: check the signature, decrypt echostr, answer its plaintext."""
        try:
            query, echostr = verified_echostr(request, self._verifier)
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
            _, encrypted = await verified_ciphertext(
                request, self._verifier, scan_xml_encrypt, xml_envelope_encrypt
            )
            incoming = self._to_incoming(parse_xml_fields(self._decrypt_message(encrypted)))
        except CallbackRejected as exc:
            return rejection_response(_CHANNEL, request, exc)
        except Exception:
            return unexpected_input_response(_CHANNEL, request)
        if incoming is None:
            return empty_ack()
        if isinstance(incoming, PassiveAnswer):
            logger.info("app callback: file answered passively with a hint")
            return self._passive_text(incoming.userid, incoming.text)
        try:
            accepted = await self._sink.submit(incoming)
        except Exception:
            return unavailable_response(_CHANNEL, request)
        logger.debug(
            "app callback %s msgid=%s kind=%s",
            "accepted" if accepted else "duplicate",
            incoming.msgid,
            _kind(incoming),
        )
        return empty_ack()

    def _passive_text(self, userid: str, text: str) -> web.Response:
        """An encrypted passive text reply (doc 90241): to the member, from the corp."""
        timestamp = str(int(self._clock.now().timestamp()))
        plain = (
            f"<xml><ToUserName>{_cdata(userid)}</ToUserName>"
            f"<FromUserName>{_cdata(self._corp_id)}</FromUserName>"
            f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{_cdata(text)}</Content></xml>"
        )
        body = self._crypto.encrypt_message(plain, secrets.token_hex(8), timestamp)
        return web.Response(status=200, text=body, content_type="text/xml")

    def _decrypt_message(self, encrypted: str) -> str:
        try:
            return self._message_crypto.decrypt(encrypted)
        except AibotCryptoError as exc:
            raise CallbackRejected(400, f"cannot decrypt ({exc})") from exc

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

    def _to_incoming(self, fields: dict[str, str]) -> Incoming | PassiveAnswer | None:
        """Map a message's fields to `Incoming`; None means 'acknowledge and ignore'."""
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
            return self._incoming(msgid, userid, fields.get("Content", ""))
        if msgtype == "file":
            return PassiveAnswer(userid, FILE_HINT)
        return self._incoming(msgid, userid, "", _media_context(msgtype, fields))

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


def _media_context(msgtype: str, fields: dict[str, str]) -> dict[str, str]:
    """reply_context for a message without text: a picture or link for the intake, or
    `unsupported` so the router answers kindly."""
    if msgtype == "image":
        url = fields.get("PicUrl", "").strip()
        if url.startswith(_HTTP):
            # A plain URL: FileIntake downloads it without decryption.
            return {FILE_URL: url, FILE_KIND: "image"}
    if msgtype == "link":
        url = fields.get("Url", "").strip()
        if url.startswith(_HTTP):
            title = fields.get("Title", "").strip() or fields.get("Description", "").strip()
            return {LINK_URL: url, LINK_TITLE: " ".join(title.split())}
    return {"unsupported": msgtype}


def _kind(incoming: Incoming) -> str:
    """A short label for the log line (never the message body)."""
    context = incoming.reply_context
    if "unsupported" in context:
        return context["unsupported"]
    if FILE_URL in context:
        return "image"
    if LINK_URL in context:
        return "link"
    return "text or event"


def _cdata(text: str) -> str:
    """Wrap in CDATA; a "]]>" inside is split across two sections."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"
