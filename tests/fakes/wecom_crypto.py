"""What WeCom's servers do when they call our callbacks: encrypt, sign, build the request.

An independent, deliberately plain implementation of WeCom's documented scheme (doc 90968:
AES-256-CBC, IV = key[:16], PKCS#7 to 32 bytes, plaintext = 16 random bytes + 4-byte
big-endian length + msg + receive_id; msg_signature = sha1 of the sorted four strings),
so tests check the bot against the protocol rather than against its own code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def new_encoding_aes_key() -> str:
    """A fresh 43-character EncodingAESKey as the admin console would generate."""
    return base64.b64encode(os.urandom(32)).decode("ascii").rstrip("=")


@dataclass
class WeComSide:
    """One callback configuration (token, EncodingAESKey, receive id) as WeCom holds it."""

    token: str
    encoding_aes_key: str
    receive_id: str  # CorpID for apps, "" for smart bots

    @property
    def key(self) -> bytes:
        return base64.b64decode(self.encoding_aes_key + "=")

    def encrypt(self, message: str | bytes, *, receive_id: str | None = None) -> str:
        msg = message.encode("utf-8") if isinstance(message, str) else message
        rid = (self.receive_id if receive_id is None else receive_id).encode("utf-8")
        full = os.urandom(16) + struct.pack(">I", len(msg)) + msg + rid
        pad = 32 - len(full) % 32
        full += bytes([pad]) * pad
        enc = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(enc.update(full) + enc.finalize()).decode("ascii")

    def decrypt(self, encrypted: str) -> tuple[str, str]:
        """Return (msg, receive_id), as WeCom does with our passive replies."""
        dec = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        full = dec.update(base64.b64decode(encrypted)) + dec.finalize()
        full = full[: -full[-1]]
        (length,) = struct.unpack(">I", full[16:20])
        return full[20 : 20 + length].decode("utf-8"), full[20 + length :].decode("utf-8")

    def encrypt_media(self, plain: bytes) -> bytes:
        """A picture or file as the smart bot's HTTP mode serves it at the message's url:
        AES-256-CBC with the EncodingAESKey, IV = key[:16], PKCS#7 to 32 bytes, no framing."""
        pad = 32 - len(plain) % 32
        enc = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return enc.update(plain + bytes([pad]) * pad) + enc.finalize()

    def sign(self, timestamp: str, nonce: str, encrypted: str) -> str:
        joined = "".join(sorted([self.token, timestamp, nonce, encrypted]))
        return hashlib.sha1(joined.encode("utf-8")).hexdigest()

    def query(self, encrypted: str, timestamp: int, nonce: str = "1372623149") -> dict[str, str]:
        ts = str(timestamp)
        return {"msg_signature": self.sign(ts, nonce, encrypted), "timestamp": ts, "nonce": nonce}

    def verify_query(self, echo_plain: str, timestamp: int) -> dict[str, str]:
        """The GET WeCom sends when an admin saves the callback URL."""
        echostr = self.encrypt(echo_plain)
        return {**self.query(echostr, timestamp), "echostr": echostr}

    def raw_verify_query_with_plus(self, echo_plain: str, timestamp: int) -> str:
        """A verification query string whose echostr holds a '+' left unescaped, as some
        proxies pass it on: a form decoder reads that '+' as a space."""
        for _ in range(200):
            query = self.verify_query(echo_plain, timestamp)
            if "+" in query["echostr"]:
                return "&".join(f"{key}={value}" for key, value in query.items())
        raise AssertionError("no echostr with '+' in 200 tries")  # pragma: no cover

    # -- self-built app: XML ------------------------------------------------------------

    def app_post(self, message_xml: str, timestamp: int) -> tuple[dict[str, str], str]:
        """(query, body) for a POST to the app callback carrying `message_xml`."""
        encrypted = self.encrypt(message_xml)
        body = (
            f"<xml><ToUserName><![CDATA[{self.receive_id}]]></ToUserName>"
            f"<AgentID><![CDATA[1000002]]></AgentID>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        return self.query(encrypted, timestamp), body

    def read_app_reply(self, body: str) -> dict[str, str]:
        """What WeCom does with an app's passive reply: check the signature, decrypt, and
        return the plaintext XML's fields. Raises AssertionError for a forged reply."""
        envelope = {child.tag: child.text or "" for child in ElementTree.fromstring(body)}
        encrypted = envelope["Encrypt"]
        expected = self.sign(envelope["TimeStamp"], envelope["Nonce"], encrypted)
        assert envelope["MsgSignature"] == expected, "passive reply signature mismatch"
        plain, receive_id = self.decrypt(encrypted)
        assert receive_id == self.receive_id, f"reply encrypted for {receive_id!r}"
        return {child.tag: child.text or "" for child in ElementTree.fromstring(plain)}

    # -- smart bot: JSON ----------------------------------------------------------------

    def aibot_post(self, payload: dict[str, Any], timestamp: int) -> tuple[dict[str, str], str]:
        """(query, body) for a POST to the smart-bot callback carrying `payload`."""
        encrypted = self.encrypt(json.dumps(payload, ensure_ascii=False))
        return self.query(encrypted, timestamp), json.dumps({"encrypt": encrypted})


def _app_message_xml(
    corp_id: str,
    from_user: str,
    msgtype: str,
    create_time: int,
    body: str,
    msg_id: str,
    agent_id: str,
) -> str:
    """The plaintext XML of a member's message to an app (doc 90239) around its own fields."""
    return (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName>"
        f"<FromUserName><![CDATA[{from_user}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[{msgtype}]]></MsgType>"
        f"{body}<MsgId>{msg_id}</MsgId><AgentID>{agent_id}</AgentID></xml>"
    )


def app_text_xml(
    *,
    corp_id: str,
    from_user: str,
    content: str,
    msg_id: str = "4561255354251345929",
    create_time: int = 1409659813,
    agent_id: str = "1000002",
) -> str:
    """A plaintext text message as WeCom sends it to an app (doc 90239)."""
    body = f"<Content><![CDATA[{content}]]></Content>"
    return _app_message_xml(corp_id, from_user, "text", create_time, body, msg_id, agent_id)


def app_media_xml(
    *,
    corp_id: str,
    from_user: str,
    msgtype: str,
    msg_id: str = "4561255354251345930",
    create_time: int = 1409659813,
    agent_id: str = "1000002",
) -> str:
    """An image/voice/video/... message: only a MediaId, no text."""
    body = (
        "<PicUrl><![CDATA[http://127.0.0.1/pic]]></PicUrl>"
        "<MediaId><![CDATA[media_id]]></MediaId><Format><![CDATA[amr]]></Format>"
    )
    return _app_message_xml(corp_id, from_user, msgtype, create_time, body, msg_id, agent_id)


def app_image_xml(
    *,
    corp_id: str,
    from_user: str,
    pic_url: str,
    msg_id: str = "4561255354251345931",
    create_time: int = 1409659813,
    agent_id: str = "1000002",
) -> str:
    """A picture sent to an app (doc 90239): a plain PicUrl and a MediaId."""
    body = f"<PicUrl><![CDATA[{pic_url}]]></PicUrl><MediaId><![CDATA[media_id]]></MediaId>"
    return _app_message_xml(corp_id, from_user, "image", create_time, body, msg_id, agent_id)


def app_link_xml(
    *,
    corp_id: str,
    from_user: str,
    title: str,
    url: str,
    description: str = "",
    msg_id: str = "4561255354251345932",
    create_time: int = 1409659813,
    agent_id: str = "1000002",
) -> str:
    """A link shared to an app (doc 90239): Title, Description, Url and a cover PicUrl."""
    body = (
        f"<Title><![CDATA[{title}]]></Title>"
        f"<Description><![CDATA[{description}]]></Description>"
        f"<Url><![CDATA[{url}]]></Url><PicUrl><![CDATA[http://127.0.0.1/cover]]></PicUrl>"
    )
    return _app_message_xml(corp_id, from_user, "link", create_time, body, msg_id, agent_id)


def aibot_media_message(
    kind: str,
    url: str,
    *,
    userid: str,
    msgid: str,
    response_url: str,
    aibotid: str = "AIBOTID",
    chatid: str | None = None,
    caption: str | None = None,
    filename: str | None = None,
) -> dict[str, Any]:
    """A smart-bot `image` or `file` callback (doc 100719): `{kind: {"url": ...}}`, which
    the docs send in single chats. `caption` adds a text part and `filename` a name, as the
    long connection's frames may carry; the documented HTTP shape has neither."""
    media: dict[str, Any] = {"url": url}
    if filename is not None:
        media["filename"] = filename
    payload: dict[str, Any] = {
        "msgid": msgid,
        "aibotid": aibotid,
        "chattype": "group" if chatid else "single",
        "from": {"userid": userid},
        "response_url": response_url,
        "msgtype": kind,
        kind: media,
    }
    if chatid:
        payload["chatid"] = chatid
    if caption is not None:
        payload["text"] = {"content": caption}
    return payload


def app_event_xml(
    *,
    corp_id: str,
    from_user: str,
    event: str,
    create_time: int = 1409659813,
    event_key: str | None = None,
    agent_id: str = "1000002",
) -> str:
    """An event (subscribe, enter_agent, click, ...) as WeCom sends it (doc 90240)."""
    key = f"<EventKey><![CDATA[{event_key}]]></EventKey>" if event_key is not None else ""
    return (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName>"
        f"<FromUserName><![CDATA[{from_user}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event>{key}<AgentID>{agent_id}</AgentID></xml>"
    )


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n'
    "<!DOCTYPE lolz [\n"
    ' <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n<xml><Encrypt>&lol9;</Encrypt></xml>"
)
