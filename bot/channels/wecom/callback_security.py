"""Request checks shared by the WeCom HTTP callbacks (self-built app and smart bot).

WeCom signs every callback with msg_signature = sha1(sorted(token, timestamp, nonce, encrypt))
(document 90968/101033). Everything here turns hostile input into a `CallbackRejected` with a
4xx status, so handlers answer quickly with a short body and one log line, never a crash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn
from xml.parsers import expat

from aiohttp import web

from bot.core.clock import Clock

logger = logging.getLogger(__name__)

# The largest real callback is a text message: at most 2048 bytes of content (WeCom's text
# limit), i.e. up to ~6 KiB of UTF-8 for 2048 characters, wrapped in the message XML/JSON,
# encrypted (+32 bytes) and base64'd (x4/3), then put in the envelope: well under 16 KiB.
# 64 KiB leaves a wide margin for fields WeCom may add, and caps the work an unauthenticated
# request can cause.
MAX_BODY_BYTES = 64 * 1024
TIMESTAMP_WINDOW = timedelta(minutes=5)
_READ_CHUNK = 64 * 1024

# Short public bodies: never echo details an attacker could use, never a stack trace.
_PUBLIC_TEXT = {
    400: "bad request",
    403: "forbidden",
    413: "payload too large",
    503: "temporarily unavailable",
}


class CallbackRejected(Exception):
    """A callback request we refuse. `reason` is a short English phrase for the log only."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class SignedQuery:
    """The query parameters WeCom adds to every callback request."""

    signature: str
    timestamp: str
    nonce: str


def compute_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """WeCom's msg_signature: sha1 over the four strings sorted and concatenated."""
    parts = sorted(part.encode("utf-8") for part in (token, timestamp, nonce, encrypted))
    return hashlib.sha1(b"".join(parts)).hexdigest()


def signed_query(request: web.Request) -> SignedQuery:
    """Pick msg_signature, timestamp and nonce from the query; all three are required."""
    values = {}
    for name in ("msg_signature", "timestamp", "nonce"):
        value = request.query.get(name, "")
        if not value:
            raise CallbackRejected(400, f"missing query parameter {name}")
        values[name] = value
    return SignedQuery(values["msg_signature"], values["timestamp"], values["nonce"])


class CallbackVerifier:
    """Checks timestamp freshness and the signature in constant time before any decryption."""

    def __init__(self, token: str, clock: Clock, window: timedelta = TIMESTAMP_WINDOW) -> None:
        if not token:
            raise ValueError("callback token must not be empty")
        self._token = token
        self._clock = clock
        self._window = window

    def check(self, query: SignedQuery, encrypted: str) -> None:
        """Raise `CallbackRejected` unless the request is fresh and signed with our token."""
        self.check_timestamp(query.timestamp)
        expected = compute_signature(self._token, query.timestamp, query.nonce, encrypted)
        if not hmac.compare_digest(expected.encode("ascii"), query.signature.encode("utf-8")):
            raise CallbackRejected(403, "signature mismatch")

    def check_timestamp(self, timestamp: str) -> None:
        """Reject replays: the timestamp must be within the window around our clock."""
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
            raise CallbackRejected(400, "timestamp is not a unix time in seconds")
        drift = abs(self._clock.now().timestamp() - int(timestamp))
        if drift > self._window.total_seconds():
            raise CallbackRejected(403, f"timestamp outside the window ({int(drift)} s off)")

    def sign(self, timestamp: str, nonce: str, encrypted: str) -> str:
        """Signature for a passive reply we encrypt ourselves."""
        return compute_signature(self._token, timestamp, nonce, encrypted)


def verified_echostr(request: web.Request, verifier: CallbackVerifier) -> tuple[SignedQuery, str]:
    """The URL-verification GET both callbacks receive: (signed query, echostr), checked.

    Checks the signed query, repairs echostr (base64 has no spaces: a space is a '+' that was
    form-decoded on the way), requires it, and verifies freshness and signature over it, so
    the caller only has to decrypt echostr and answer its plaintext.
    """
    query = signed_query(request)
    echostr = request.query.get("echostr", "").replace(" ", "+")
    if not echostr:
        raise CallbackRejected(400, "missing query parameter echostr")
    verifier.check(query, echostr)
    return query, echostr


async def verified_ciphertext(
    request: web.Request,
    verifier: CallbackVerifier,
    extract: Callable[[bytes], str],
    envelope: Callable[[bytes], str],
) -> tuple[SignedQuery, str]:
    """The message POST both callbacks receive: (signed query, ciphertext), checked.

    Reads the body within the size limit, checks freshness before any parsing, lets `extract`
    pull the ciphertext out of the channel's envelope by a bounded scan (it raises
    CallbackRejected when there is none), verifies WeCom's signature over it, and only then
    lets `envelope` parse the whole body and return its ciphertext, which must be the same.
    """
    body = await read_body(request)
    query = signed_query(request)
    verifier.check_timestamp(query.timestamp)
    encrypted = extract(body)
    verifier.check(query, encrypted)
    # Only now, signed and at most MAX_BODY_BYTES, is the envelope parsed: it must be whole
    # and carry that same ciphertext (a truncated or doctored envelope is still refused).
    if envelope(body) != encrypted:
        raise CallbackRejected(400, "envelope does not match its scanned ciphertext")
    return query, encrypted


# Base64 ciphertext as it appears in the envelopes. No full XML/JSON parse happens before the
# signature is verified: a regular expression over at most MAX_BODY_BYTES finds the field in
# linear time, whatever nesting, entities or encodings the rest of the body declares.
_XML_ENCRYPT = re.compile(
    rb"<Encrypt>\s*(?:<!\[CDATA\[\s*([A-Za-z0-9+/=]+)\s*\]\]>|([A-Za-z0-9+/=]+))\s*</Encrypt>"
)
# JSON may escape "/" as "\/"; any other escape cannot be base64 and is refused.
_JSON_ENCRYPT = re.compile(rb'"encrypt"\s*:\s*"((?:[A-Za-z0-9+/=]|\\/)+)"')


def scan_xml_encrypt(body: bytes) -> str:
    """The `Encrypt` element's ciphertext of an XML envelope, found without parsing the XML."""
    match = _XML_ENCRYPT.search(body)
    if match is None:
        raise CallbackRejected(400, "envelope has no Encrypt element")
    return (match.group(1) or match.group(2)).decode("ascii")


def scan_json_encrypt(body: bytes) -> str:
    """The `encrypt` field's ciphertext of a JSON envelope, found without parsing the JSON."""
    match = _JSON_ENCRYPT.search(body)
    if match is None:
        raise CallbackRejected(400, "body has no encrypt field")
    return match.group(1).decode("ascii").replace("\\/", "/")


def xml_envelope_encrypt(body: bytes) -> str:
    """The `Encrypt` element of a parsed XML envelope ("" when absent)."""
    return parse_xml_fields(body).get("Encrypt", "").strip()


def json_envelope_encrypt(body: bytes) -> str:
    """The `encrypt` field of a parsed JSON envelope ("" when absent or not a string)."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        # RecursionError: nesting deeper than Python's stack (e.g. 100,000 brackets).
        raise CallbackRejected(400, "malformed JSON") from exc
    if not isinstance(value, dict):
        raise CallbackRejected(400, "JSON body is not an object")
    encrypted = value.get("encrypt")
    return encrypted if isinstance(encrypted, str) else ""


async def read_body(request: web.Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """Read the body, refusing anything over `limit` by header or by actual size (413)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise CallbackRejected(413, f"declared body of {declared} bytes is over the limit")
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = await request.content.read(_READ_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise CallbackRejected(413, "body is over the size limit")
        chunks.append(chunk)
    return b"".join(chunks)


class _ForbiddenXml(Exception):
    """A DTD or an entity declaration: refused before anything is expanded or fetched."""


def _forbid(*_args: object) -> NoReturn:
    raise _ForbiddenXml


class _FlatFields:
    """expat handlers collecting the direct children of the root as {tag: text}, with
    ElementTree's meaning of text: what comes before an element's first child."""

    __slots__ = ("depth", "fields", "open_text", "root", "tag", "text")

    def __init__(self) -> None:
        self.depth = 0
        self.fields: dict[str, str] = {}
        self.root = ""
        self.tag = ""
        self.text: list[str] = []
        self.open_text = False  # collecting the current child's text

    def start(self, tag: str, _attributes: object) -> None:
        self.depth += 1
        if self.depth == 1:
            self.root = tag
        elif self.depth == 2:
            self.tag, self.text, self.open_text = tag, [], True
        else:
            self.open_text = False  # a grandchild: the child's text ends here

    def end(self, _tag: str) -> None:
        if self.depth == 2:
            self.fields[self.tag] = "".join(self.text)
            self.open_text = False
        self.depth -= 1

    def data(self, text: str) -> None:
        if self.open_text:
            self.text.append(text)


def parse_xml_fields(data: bytes | str, *, root_tag: str = "xml") -> dict[str, str]:
    """Parse WeCom's flat XML safely into {child tag: text}.

    Straight on expat with the refusals defusedxml makes: a DTD, entity declarations and
    external entities are rejected, so nothing is expanded or fetched (billion laughs, XXE).
    Only the direct children matter for WeCom envelopes and messages; nested elements are
    returned with their direct text (usually empty). It runs twice per app callback, several
    times faster than an ElementTree built by defusedxml's pure-Python parser (BENCHMARKS.md).
    """
    collected = _FlatFields()
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    parser.UnparsedEntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid
    parser.StartElementHandler = collected.start
    parser.EndElementHandler = collected.end
    parser.CharacterDataHandler = collected.data
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except _ForbiddenXml as exc:
        raise CallbackRejected(400, "forbidden XML construct (DTD or entity)") from exc
    except (expat.ExpatError, ValueError, LookupError) as exc:
        # LookupError: an unknown encoding= in the declaration (UnicodeError is a ValueError).
        raise CallbackRejected(400, "malformed XML") from exc
    if collected.root != root_tag:
        raise CallbackRejected(400, f"unexpected XML root <{collected.root}>")
    return collected.fields


def rejection_response(channel: str, request: web.Request, exc: CallbackRejected) -> web.Response:
    """Log one short line (no secrets, no bodies) and answer with a terse status body."""
    logger.warning(
        "%s callback %s %s rejected with %d: %s (peer %s)",
        channel,
        request.method,
        request.path,
        exc.status,
        exc.reason,
        request.remote,
    )
    return web.Response(status=exc.status, text=_PUBLIC_TEXT.get(exc.status, "error"))


def unexpected_input_response(channel: str, request: web.Request) -> web.Response:
    """A request that broke parsing in a way no check foresaw: still a 400, never a 500."""
    logger.exception(
        "%s callback %s %s could not be handled", channel, request.method, request.path
    )
    return web.Response(status=400, text=_PUBLIC_TEXT[400])


def unavailable_response(channel: str, request: web.Request) -> web.Response:
    """Our own failure (e.g. the inbox write failed): WeCom should retry later."""
    logger.exception("%s callback %s %s failed internally", channel, request.method, request.path)
    return web.Response(status=503, text=_PUBLIC_TEXT[503])


def empty_ack() -> web.Response:
    """The immediate empty 200 WeCom documents for 'received, reply comes later'."""
    return web.Response(status=200, body=b"")
