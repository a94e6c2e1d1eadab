"""HTTP client for WeCom's server API: access_token caching, retries and message sending.

One `aiohttp.ClientSession` is shared and passed in. The API host always comes from the
constructor (setting `WECOM_API_BASE`) so private deployments work. Secrets, tokens and
webhook keys never reach the logs: tokens are cached under a hash of their secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from bot.channels.wecom.errors import (
    RATE_LIMIT_ERRCODES,
    TOKEN_ERRCODES,
    WeComError,
    WeComTransportError,
)
from bot.core.clock import Clock

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[object]]
BodyFactory = Callable[[], Any]

MEDIA_KINDS = frozenset({"image", "voice", "video", "file"})
_TRANSIENT_HTTP = frozenset({429})


def fingerprint(secret: str) -> str:
    """A short, stable, non-reversible name for a secret, safe for dict keys and logs."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:12]


def _webhook_key_fingerprint(url: str) -> str:
    keys = parse_qs(urlsplit(url).query).get("key") or [""]
    return fingerprint(keys[0])


@dataclass(frozen=True)
class _CachedToken:
    value: str
    refresh_at: datetime


class _Transient(Exception):
    """One attempt failed in a way another attempt may fix (network, timeout, HTTP 5xx)."""


class WeComClient:
    """Calls WeCom's API with cached tokens, one refresh on token errors and backoff retries."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        corp_id: str,
        clock: Clock,
        *,
        sleep: Sleep = asyncio.sleep,
        max_retries: int = 3,
        timeout: float = 10.0,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        token_margin: timedelta = timedelta(minutes=5),
        rng: random.Random | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._corp_id = corp_id
        self._clock = clock
        self._sleep = sleep
        self._max_retries = max_retries
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._token_margin = token_margin
        self._rng = rng or random.Random()
        self._tokens: dict[str, _CachedToken] = {}
        self._token_locks: dict[str, asyncio.Lock] = {}

    @property
    def base_url(self) -> str:
        return self._base_url

    # ----------------------------------------------------------------- tokens

    async def get_token(self, secret: str) -> str:
        """A valid access_token for `secret`; concurrent callers share one fetch."""
        key = fingerprint(secret)
        cached = self._fresh_token(key)
        if cached is not None:
            return cached
        lock = self._token_locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._fresh_token(key)
            if cached is not None:
                return cached
            return await self._fetch_token(key, secret)

    def _fresh_token(self, key: str) -> str | None:
        cached = self._tokens.get(key)
        if cached is not None and self._clock.now() < cached.refresh_at:
            return cached.value
        return None

    async def _fetch_token(self, key: str, secret: str) -> str:
        url = f"{self._base_url}/cgi-bin/gettoken"
        params = {"corpid": self._corp_id, "corpsecret": secret}
        requested_at = self._clock.now()  # count validity from the request, to be safe
        data = await self._call("GET", url, "/cgi-bin/gettoken", params=params)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeComTransportError("gettoken answered without access_token", retryable=False)
        expires_in = float(data.get("expires_in") or 7200)
        margin = min(self._token_margin.total_seconds(), expires_in / 2)
        refresh_at = requested_at + timedelta(seconds=expires_in - margin)
        self._tokens[key] = _CachedToken(token, refresh_at)
        log.info("fetched access_token for secret %s, valid %ds", key, int(expires_in))
        return token

    def _invalidate(self, secret: str, token: str) -> None:
        """Forget `token` unless a concurrent caller already replaced it."""
        key = fingerprint(secret)
        cached = self._tokens.get(key)
        if cached is not None and cached.value == token:
            del self._tokens[key]

    # ------------------------------------------------------------ core calls

    async def post_json(
        self,
        path: str,
        payload: Mapping[str, Any],
        secret: str,
        *,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST JSON to an API path with an access_token; return WeCom's answer (errcode 0)."""
        return await self._call_with_token(
            "POST", path, secret, params=params, body=lambda: {"json": dict(payload)}
        )

    async def _call_with_token(
        self,
        method: str,
        path: str,
        secret: str,
        *,
        params: Mapping[str, str] | None,
        body: BodyFactory,
    ) -> dict[str, Any]:
        refreshed = False
        while True:
            token = await self.get_token(secret)
            query = {**(params or {}), "access_token": token}
            try:
                return await self._call(
                    method, f"{self._base_url}{path}", path, params=query, body=body
                )
            except WeComError as exc:
                if exc.errcode in TOKEN_ERRCODES and not refreshed:
                    log.info(
                        "access_token rejected on %s (errcode %s), refreshing", path, exc.errcode
                    )
                    self._invalidate(secret, token)
                    refreshed = True
                    continue
                raise

    async def _call(
        self,
        method: str,
        url: str,
        label: str,
        *,
        params: Mapping[str, str] | None = None,
        body: BodyFactory | None = None,
    ) -> dict[str, Any]:
        """One logical call with retries for transient failures and WeCom's busy/limit codes.

        `label` names the call in logs instead of the URL, which may carry secrets.
        """
        attempt = 0
        while True:
            try:
                data = await self._attempt(method, url, params, body)
            except _Transient as exc:
                if attempt >= self._max_retries:
                    raise WeComTransportError(f"{label}: {exc}") from None
                log.warning("%s failed (%s), retry %d", label, exc, attempt + 1)
            else:
                errcode = _errcode(data)
                if errcode == 0:
                    return data
                error = WeComError(errcode, str(data.get("errmsg", "")))
                if errcode not in RATE_LIMIT_ERRCODES or attempt >= self._max_retries:
                    log.warning("%s refused: errcode %s", label, errcode)
                    raise error
                log.warning("%s limited: errcode %s, retry %d", label, errcode, attempt + 1)
            await self._sleep(self._backoff(attempt))
            attempt += 1

    async def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        body: BodyFactory | None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = body() if body is not None else {}
        try:
            # Never follow a redirect: it could carry the token or the webhook key off WeCom.
            async with self._session.request(
                method, url, params=params, timeout=self._timeout, allow_redirects=False, **kwargs
            ) as resp:
                if 300 <= resp.status < 400:
                    raise WeComTransportError(
                        f"HTTP {resp.status} redirect refused: check WECOM_API_BASE",
                        retryable=False,
                    )
                if resp.status >= 500 or resp.status in _TRANSIENT_HTTP:
                    raise _Transient(f"HTTP {resp.status}")
                if resp.status != 200:
                    raise WeComTransportError(
                        f"HTTP {resp.status}: check WECOM_API_BASE", retryable=False
                    )
                raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Only the exception type: aiohttp's messages can contain the URL and its secrets.
            raise _Transient(type(exc).__name__) from None
        try:
            data = json.loads(raw)
        except ValueError:
            raise WeComTransportError("answer is not JSON", retryable=False) from None
        if not isinstance(data, dict):
            raise WeComTransportError("answer is not a JSON object", retryable=False)
        return data

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter (50-100% of the step) so retries spread out."""
        step = min(self._backoff_max, self._backoff_base * (2**attempt))
        return step * (0.5 + self._rng.random() / 2)

    # -------------------------------------------------------------- messages

    async def send_message(
        self,
        secret: str,
        agent_id: int | str,
        touser: list[str],
        content: str,
        *,
        markdown: bool = False,
    ) -> dict[str, Any]:
        """App message to members (message/send); logs members WeCom reports as invalid."""
        if not touser:
            raise ValueError("touser must name at least one member")
        msgtype = "markdown" if markdown else "text"
        payload = {
            "touser": "|".join(touser),
            "msgtype": msgtype,
            "agentid": int(agent_id),
            msgtype: {"content": content},
            "safe": 0,
        }
        data = await self.post_json("/cgi-bin/message/send", payload, secret)
        if data.get("invaliduser"):
            log.warning("message/send: some receivers are invalid or outside the app's scope")
        return data

    async def appchat_send(
        self, secret: str, chatid: str, content: str, *, markdown: bool = False
    ) -> dict[str, Any]:
        """App message to a group chat the app created (appchat/send)."""
        msgtype = "markdown" if markdown else "text"
        payload = {"chatid": chatid, "msgtype": msgtype, msgtype: {"content": content}, "safe": 0}
        return await self.post_json("/cgi-bin/appchat/send", payload, secret)

    async def upload_media(self, secret: str, kind: str, filename: str, data: bytes) -> str:
        """Upload a temporary file (valid 3 days) and return its media_id."""
        if kind not in MEDIA_KINDS:
            raise ValueError(f"unknown media kind {kind!r}")
        answer = await self._call_with_token(
            "POST",
            "/cgi-bin/media/upload",
            secret,
            params={"type": kind},
            body=lambda: {"data": _media_form(filename, data)},
        )
        return _media_id(answer)

    async def send_file(
        self,
        secret: str,
        media_id: str,
        *,
        agent_id: int | str | None = None,
        touser: list[str] | None = None,
        chatid: str | None = None,
    ) -> dict[str, Any]:
        """Send an uploaded file to members (needs agent_id) or to an app group chat."""
        return await self.send_media(
            secret, "file", media_id, agent_id=agent_id, touser=touser, chatid=chatid
        )

    async def send_media(
        self,
        secret: str,
        kind: str,
        media_id: str,
        *,
        agent_id: int | str | None = None,
        touser: list[str] | None = None,
        chatid: str | None = None,
    ) -> dict[str, Any]:
        """Send an uploaded file or image (msgtype `kind`) to members or an app group chat."""
        if kind not in ("file", "image"):
            raise ValueError(f"cannot send media of kind {kind!r}")
        if (touser is None) == (chatid is None):
            raise ValueError("give exactly one of touser or chatid")
        if chatid is not None:
            payload: dict[str, Any] = {"chatid": chatid, "msgtype": kind}
            payload[kind] = {"media_id": media_id}
            return await self.post_json("/cgi-bin/appchat/send", payload, secret)
        if agent_id is None or not touser:
            raise ValueError("sending media to members needs agent_id and touser")
        payload = {
            "touser": "|".join(touser),
            "msgtype": kind,
            "agentid": int(agent_id),
            kind: {"media_id": media_id},
        }
        return await self.post_json("/cgi-bin/message/send", payload, secret)

    # --------------------------------------------------------------- webhook

    async def webhook_send(self, url: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST a message to a group robot webhook; the key in the URL is the credential."""
        label = f"webhook/send[{_webhook_key_fingerprint(url)}]"
        return await self._call("POST", url, label, body=lambda: {"json": dict(payload)})

    async def webhook_upload_file(self, url: str, filename: str, data: bytes) -> str:
        """Upload a file for a group robot (webhook/upload_media) and return its media_id."""
        parts = urlsplit(url)
        upload_url = f"{parts.scheme}://{parts.netloc}/cgi-bin/webhook/upload_media"
        key = (parse_qs(parts.query).get("key") or [""])[0]
        label = f"webhook/upload_media[{fingerprint(key)}]"
        answer = await self._call(
            "POST",
            upload_url,
            label,
            params={"key": key, "type": "file"},
            body=lambda: {"data": _media_form(filename, data)},
        )
        return _media_id(answer)


def _media_form(filename: str, data: bytes) -> aiohttp.FormData:
    # A fresh form per attempt: aiohttp cannot send the same FormData twice.
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("media", data, filename=filename, content_type="application/octet-stream")
    return form


def _media_id(answer: Mapping[str, Any]) -> str:
    media_id = answer.get("media_id")
    if not isinstance(media_id, str) or not media_id:
        raise WeComTransportError("upload answered without media_id", retryable=False)
    return media_id


def _errcode(data: Mapping[str, Any]) -> int:
    try:
        return int(data.get("errcode", 0))
    except (TypeError, ValueError):
        return -1
