"""Smart bot (智能机器人) in HTTP callback mode: `GET/POST /wecom/aibot` with encrypted JSON.

Protocol (docs 101039, 101033, 100719, 101027, 101138):
- URL verification by GET with echostr; the receive id is "" for an in-house smart bot.
- Messages arrive as `{"encrypt": ...}`; after decryption a JSON object with msgid, aibotid,
  chatid, chattype, from.userid, msgtype and a per-message `response_url`.
- The handler may "reply an empty packet" (直接回复空包) and answer later by POSTing a
  markdown message to `response_url` (valid 1 hour, usable once). That is what we do: the
  message goes to the durable inbox and the 200 leaves at once.
- Pictures and files (and the picture of a `mixed` message) come as a briefly valid `url`
  whose content is AES-256-CBC encrypted with the bot's own EncodingAESKey (IV = key[:16],
  PKCS#7 to 32 bytes; WeCom's sample for doc 101039 decrypts images that way). We only note
  the URL; `bot.pipeline.files.FileIntake` downloads and decrypts after the inbox write.
- The only passive reply we send is the optional welcome text for `enter_chat`, encrypted as
  `{encrypt, msgsignature, timestamp, nonce}` (passive text is allowed only for that event).
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Annotated, Any, Literal

import aiohttp
from aiohttp import web
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.channels.base import IncomingSink, SendError
from bot.channels.wecom.aibot_crypto import AibotCrypto, AibotCryptoError
from bot.channels.wecom.callback_security import (
    CallbackRejected,
    CallbackVerifier,
    empty_ack,
    json_envelope_encrypt,
    rejection_response,
    scan_json_encrypt,
    unavailable_response,
    unexpected_input_response,
    verified_ciphertext,
    verified_echostr,
)
from bot.core.clock import Clock
from bot.core.messages import Channel, ChatType, Incoming, Outgoing
from bot.core.settings import origin_of
from bot.pipeline.files import FILE_KEY_SOURCE, FILE_KIND, FILE_NAME, FILE_URL

logger = logging.getLogger(__name__)

PATH = "/wecom/aibot"
_CHANNEL = "aibot_http"
# FILE_KEY_SOURCE value: media of this channel are encrypted with the callback EncodingAESKey.
KEY_SOURCE_CALLBACK = "callback"
_MEDIA_KINDS = ("file", "image")


class _Content(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: str = ""


class _Sender(BaseModel):
    model_config = ConfigDict(extra="ignore")
    userid: str = Field(min_length=1)
    corpid: str | None = None


class _Media(BaseModel):
    """A picture or file: its encrypted download URL (and a name, should WeCom send one)."""

    model_config = ConfigDict(extra="ignore")
    url: str = ""
    filename: str = Field(default="", validation_alias=AliasChoices("filename", "file_name"))


class _MixedItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    msgtype: str
    text: _Content | None = None
    image: _Media | None = None


class _Mixed(BaseModel):
    model_config = ConfigDict(extra="ignore")
    msg_item: list[_MixedItem] = Field(default_factory=list)


def _json_string_to_object(value: Any) -> Any:
    """Some deliveries carry `mixed` as a JSON string; accept both shapes."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


_MixedField = Annotated[_Mixed | None, BeforeValidator(_json_string_to_object)]


class _Quote(BaseModel):
    model_config = ConfigDict(extra="ignore")
    msgtype: str = ""
    text: _Content | None = None
    mixed: _MixedField = None
    voice: _Content | None = None
    image: _Media | None = None
    file: _Media | None = None


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow")
    eventtype: str = Field(min_length=1)


class AibotMessage(BaseModel):
    """A decrypted smart-bot callback (message or event), validated before we trust it."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    msgid: str = Field(min_length=1, max_length=256)
    aibotid: str = Field(min_length=1)
    chatid: str | None = None
    chattype: Literal["single", "group"]
    sender: _Sender = Field(alias="from")
    msgtype: str = Field(min_length=1, max_length=64)
    text: _Content | None = None
    mixed: _MixedField = None
    voice: _Content | None = None
    image: _Media | None = None
    file: _Media | None = None
    quote: _Quote | None = None
    event: _Event | None = None
    response_url: str | None = None

    @field_validator("response_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("response_url must be an http(s) URL")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AibotMessage:
        if self.chattype == "group" and not self.chatid:
            raise ValueError("group message without chatid")
        if self.msgtype == "event" and self.event is None:
            raise ValueError("event without event body")
        return self


def _mixed_text(mixed: _Mixed | None) -> str:
    if mixed is None:
        return ""
    return "\n".join(item.text.content for item in mixed.msg_item if item.text is not None)


def _media_of(
    msgtype: str, image: _Media | None, file: _Media | None, mixed: _Mixed | None
) -> tuple[str, _Media] | None:
    """("file" | "image", media) carried by a message or quote; a mixed one's first picture."""
    own = {"image": image, "file": file}.get(msgtype)
    if own is not None and own.url:
        return msgtype, own
    if msgtype == "mixed" and mixed is not None:
        for item in mixed.msg_item:
            if item.image is not None and item.image.url:
                return "image", item.image
    return None


def _quote_media(quote: _Quote | None) -> tuple[str, _Media] | None:
    """A quoted picture or file: how a caption reaches a file (files alone carry no text)."""
    if quote is None:
        return None
    return _media_of(quote.msgtype, quote.image, quote.file, quote.mixed)


def _quote_text(quote: _Quote | None) -> str | None:
    if quote is None:
        return None
    if quote.msgtype == "text" and quote.text is not None:
        return quote.text.content
    if quote.msgtype == "mixed":
        return _mixed_text(quote.mixed) or None
    if quote.msgtype == "voice" and quote.voice is not None:
        return quote.voice.content or None
    return None


class AibotHttpCallback:
    """Receives smart-bot callbacks and hands messages to the sink; replies go via response_url.

    Message types: text → its content (with the @mention; the router strips it);
    mixed → its text parts joined by newlines, plus its first picture; voice → WeCom's
    transcript when present; image and file → their URL (and a caption, should one come
    along); a text quoting a picture or file carries that media, so `资源 标题` quoting a file
    shares it. Media go into `reply_context` for `bot.pipeline.files.FileIntake` (FILE_URL, FILE_KIND,
    FILE_KEY_SOURCE="callback", FILE_NAME when given). Any other type → empty text and
    `reply_context["unsupported"]` so the bot can answer kindly. Events are acknowledged;
    `enter_chat` gets `welcome_text` as a passive reply when one is configured.
    """

    def __init__(
        self,
        token: str,
        aes_key: str,
        sink: IncomingSink,
        clock: Clock,
        *,
        welcome_text: str | None = None,
    ) -> None:
        self._verifier = CallbackVerifier(token, clock)
        self._crypto = AibotCrypto(token, aes_key, receive_id="")
        self._sink = sink
        self._clock = clock
        self._welcome_text = welcome_text

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(PATH, self.handle_verify)
        app.router.add_post(PATH, self.handle_message)

    async def handle_verify(self, request: web.Request) -> web.Response:
        """URL verification: answer echostr's plaintext (no quotes, no BOM, no newline)."""
        try:
            _, echostr = verified_echostr(request, self._verifier)
            plain = self._decrypt(echostr)
        except CallbackRejected as exc:
            return rejection_response(_CHANNEL, request, exc)
        except Exception:
            return unexpected_input_response(_CHANNEL, request)
        logger.info("aibot callback URL verified")
        return web.Response(status=200, text=plain, content_type="text/plain")

    async def handle_message(self, request: web.Request) -> web.Response:
        """Verify, decrypt, validate, submit to the inbox, answer at once."""
        try:
            _, encrypted = await verified_ciphertext(
                request, self._verifier, scan_json_encrypt, json_envelope_encrypt
            )
            message = self._validate(self._decrypt(encrypted))
        except CallbackRejected as exc:
            return rejection_response(_CHANNEL, request, exc)
        except Exception:
            return unexpected_input_response(_CHANNEL, request)

        if message.msgtype == "event":
            return self._on_event(message)
        if message.msgtype == "stream":
            # Stream refreshes only follow a stream reply, which we never start.
            return empty_ack()
        incoming = self._to_incoming(message)
        try:
            accepted = await self._sink.submit(incoming)
        except Exception:
            return unavailable_response(_CHANNEL, request)
        logger.debug(
            "aibot callback %s msgid=%s type=%s",
            "accepted" if accepted else "duplicate",
            message.msgid,
            message.msgtype,
        )
        return empty_ack()

    def _decrypt(self, encrypted: str) -> str:
        try:
            return self._crypto.decrypt(encrypted)
        except AibotCryptoError as exc:
            raise CallbackRejected(400, f"cannot decrypt ({exc})") from exc

    @staticmethod
    def _validate(plain: str) -> AibotMessage:
        # Parsed and validated in one step by pydantic's own JSON reader: half the time of
        # json.loads followed by model_validate, on every callback.
        try:
            return AibotMessage.model_validate_json(plain)
        except ValidationError as exc:
            errors = exc.errors()
            if errors and errors[0]["type"] == "json_invalid":
                raise CallbackRejected(400, "malformed JSON") from exc
            fields = ",".join(".".join(str(p) for p in err["loc"]) for err in errors)
            raise CallbackRejected(400, f"invalid message ({fields or 'model'})") from exc

    def _on_event(self, message: AibotMessage) -> web.Response:
        eventtype = message.event.eventtype if message.event else "?"
        if eventtype == "enter_chat" and self._welcome_text:
            return self._passive_text(self._welcome_text)
        logger.debug("aibot event %s acknowledged", eventtype)
        return empty_ack()

    def _passive_text(self, text: str) -> web.Response:
        plain = json.dumps({"msgtype": "text", "text": {"content": text}}, ensure_ascii=False)
        timestamp = str(int(self._clock.now().timestamp()))
        reply = self._crypto.encrypt_reply(plain, timestamp, secrets.token_hex(8))
        return web.json_response(reply)

    def _to_incoming(self, message: AibotMessage) -> Incoming:
        reply_context: dict[str, str] = {}
        if message.response_url:
            reply_context["response_url"] = message.response_url
        media = _media_of(message.msgtype, message.image, message.file, message.mixed)
        caption = message.text.content if message.text else ""
        if message.msgtype == "text":
            text = caption
        elif message.msgtype == "mixed":
            text = _mixed_text(message.mixed)
        elif message.msgtype == "voice" and message.voice and message.voice.content:
            text = message.voice.content
        elif message.msgtype in _MEDIA_KINDS and media is not None:
            text = caption
        else:
            text = ""
            reply_context["unsupported"] = message.msgtype
        if media is None and text:
            media = _quote_media(message.quote)
        if media is not None:
            # Downloaded and decrypted later by bot.pipeline.files.FileIntake, after the inbox write.
            kind, content = media
            reply_context.update(
                {FILE_URL: content.url, FILE_KIND: kind, FILE_KEY_SOURCE: KEY_SOURCE_CALLBACK}
            )
            if content.filename.strip():
                reply_context[FILE_NAME] = content.filename.strip()
        group = message.chattype == "group"
        return Incoming(
            channel=Channel.AIBOT_HTTP,
            msgid=message.msgid,
            userid=message.sender.userid,
            text=text,
            chat_type=ChatType.GROUP if group else ChatType.SINGLE,
            chat_id=message.chatid if group else None,
            quote=_quote_text(message.quote),
            received_at=self._clock.now(),
            reply_context=reply_context,
        )


# errcodes after which trying the same response_url again can help.
_RETRYABLE_ERRCODES = frozenset({-1, 45009, 45033})


class AibotResponseSender:
    """Delivers replies for `Channel.AIBOT_HTTP` by POSTing markdown to the message's response_url.

    HTTP mode has no proactive push: without a response_url (reminders, digests) the
    long connection or a group webhook must be used, so that is a permanent error here.
    A response_url off WeCom's origins (`allowed_origins`) is never called: the reply is dropped
    with one WARNING and fails permanently. response_url takes no files or pictures, so an attachment is left out: the text says
    where to get it (e.g. the export's download link).
    """

    channel = Channel.AIBOT_HTTP

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        allowed_origins: frozenset[str],
        timeout_seconds: float = 10.0,
    ) -> None:
        self._session = session
        # Settings.reply_origins: a response_url elsewhere is never called (the message came
        # signed from WeCom, but its URL could still point anywhere, e.g. inside our network).
        self._allowed_origins = allowed_origins
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def send(self, message: Outgoing) -> None:
        url = message.reply_context.get("response_url", "")
        if not url:
            raise SendError(
                "aibot HTTP mode can only answer a user message through its response_url; "
                "proactive messages need the smart bot long connection or a group webhook",
                retryable=False,
            )
        origin = origin_of(url)
        if origin is None:
            raise SendError("response_url is not an http(s) URL", retryable=False)
        if origin not in self._allowed_origins:
            logger.warning("reply dropped: response_url on %s is not a WeCom origin", origin)
            raise SendError(
                f"response_url on {origin} is outside WECOM_API_BASE/WECOM_ALLOWED_ORIGINS",
                retryable=False,
            )
        # response_url accepts markdown and template cards only (doc 101138).
        payload = {"msgtype": "markdown", "markdown": {"content": message.text}}
        if message.attachment is not None:
            logger.info("aibot HTTP replies cannot carry attachments; sending the text only")
        try:
            async with self._session.post(url, json=payload, timeout=self._timeout) as resp:
                status = resp.status
                raw = await resp.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise SendError(f"response_url request failed: {type(exc).__name__}") from exc
        if status >= 500 or status == 429:
            raise SendError(f"response_url answered HTTP {status}")
        if status >= 400:
            raise SendError(f"response_url answered HTTP {status}", retryable=False)
        errcode, errmsg = _errcode(raw)
        if errcode:
            raise SendError(
                f"response_url errcode {errcode}: {errmsg}",
                retryable=errcode in _RETRYABLE_ERRCODES,
            )


def _errcode(raw: bytes) -> tuple[int, str]:
    """WeCom answers {"errcode": 0, "errmsg": "ok"}; an empty or non-JSON 200 counts as ok."""
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeError):
        return 0, ""
    if not isinstance(data, dict):
        return 0, ""
    try:
        code = int(data.get("errcode", 0) or 0)
    except (TypeError, ValueError):
        code = -1
    return code, str(data.get("errmsg", ""))[:200]
