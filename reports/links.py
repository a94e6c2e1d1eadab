"""Signed, expiring dashboard links.

A token carries the alliance id, the leader's WeCom userid and an expiry time, and an
HMAC-SHA256 over them keyed with JIAOYAN_DASHBOARD_SECRET. Anyone holding the link can read
that alliance's pages until it expires, so it is only ever sent privately. Tokens are
checked in constant time; a changed character anywhere makes the token invalid.

Format: base64url("v1|<alliance id>|<expires unix>|<userid>") "." base64url(mac).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

DEFAULT_TTL = timedelta(hours=24)
_VERSION = "v1"
_CONTEXT = b"jiaoyan-dashboard-link\x00"


class LinkProblem(StrEnum):
    INVALID = "invalid"
    EXPIRED = "expired"


class LinkError(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class LinkClaims:
    alliance_id: int
    userid: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), _CONTEXT + payload, hashlib.sha256).digest()


def sign(secret: str, alliance_id: int, userid: str, expires_at: datetime) -> str:
    """A token for `userid` to read `alliance_id`'s dashboard until `expires_at`."""
    if not secret:
        raise ValueError("a dashboard secret is required")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    payload = f"{_VERSION}|{alliance_id}|{int(expires_at.timestamp())}|{userid}".encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def verify(secret: str, token: str, now: datetime) -> LinkClaims:
    """The claims of a genuine, unexpired token; raises LinkError otherwise."""
    try:
        payload_text, mac_text = token.split(".")
        payload = _unb64(payload_text)
        given = _unb64(mac_text)
    except (ValueError, binascii.Error):
        raise LinkError(LinkProblem.INVALID) from None
    # Base64 ignores some bits of the last character: accept only the one canonical spelling,
    # so that no two different links ever open the same page.
    if _b64(payload) != payload_text or _b64(given) != mac_text:
        raise LinkError(LinkProblem.INVALID)
    if not secret or not hmac.compare_digest(given, _mac(secret, payload)):
        raise LinkError(LinkProblem.INVALID)
    try:
        version, alliance, expires, userid = payload.decode("utf-8").split("|", 3)
        claims = LinkClaims(
            alliance_id=int(alliance),
            userid=userid,
            expires_at=datetime.fromtimestamp(int(expires), UTC),
        )
    except (ValueError, UnicodeDecodeError):
        raise LinkError(LinkProblem.INVALID) from None
    if version != _VERSION:
        raise LinkError(LinkProblem.INVALID)
    if now >= claims.expires_at:
        raise LinkError(LinkProblem.EXPIRED)
    return claims


DASHBOARD_PREFIX = "/reports"


def dashboard_url(public_url: str, token: str, page: str = "") -> str:
    """The full address of a dashboard page for this token."""
    return f"{public_url.rstrip('/')}{DASHBOARD_PREFIX}/{token}/{page}"
