"""Which hosts people's files are downloaded from: WeCom's media hosts, on a configured list.

A file message only names a URL. Fetching whatever a callback names would let a forged or
replayed message make the bot request internal addresses (cloud metadata, the admin's LAN),
so a URL is fetched only when its host is on `WECOM_MEDIA_HOSTS` or is the API base's host,
over https. Plain http is accepted only on the API base's own host when the API base itself
is plain http (a private deployment on an intranet, or the tests' fake WeCom on 127.0.0.1).

An entry is a host (`wework.qpic.cn`), a host with every subdomain (`*.qpic.cn`, not
`qpic.cn` itself), optionally with a port (`127.0.0.1:8443`). Without a port only the
scheme's default port matches, so another service on the same host is never reached.

The default list is what WeCom really sends (see docs/deploy.md "文件下载地址"):
- smart-bot image and file URLs, HTTP callback and long connection alike:
  `https://ww-aibot-img-1258476243.cos.ap-guangzhou.myqcloud.com/…?sign=…` — WeCom's own COS
  bucket in every example of doc 100719 "接收消息" (图片、图文混排、文件). Only that bucket:
  anyone can create a bucket under myqcloud.com, so `*.myqcloud.com` would open the list.
- app picture messages' PicUrl: `https://wework.qpic.cn/wwpic/…` (qpic.cn is Tencent's picture
  CDN; callbacks seen in public SDK fixtures), hence `*.qpic.cn`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_MEDIA_HOSTS = ("ww-aibot-img-1258476243.cos.ap-guangzhou.myqcloud.com", "*.qpic.cn")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ENTRY = re.compile(rf"(?P<wild>\*\.)?(?P<host>{_LABEL}(?:\.{_LABEL})*)(?::(?P<port>\d{{1,5}}))?")


def url_parts(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, lower-cased, port made explicit; else None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


@dataclass(frozen=True)
class HostPattern:
    """One entry of the list: a host, or a domain's subdomains, on one port."""

    host: str
    subdomains: bool
    port: int | None  # None: the URL scheme's default port

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if port != (self.port or _DEFAULT_PORTS[scheme]):
            return False
        return host.endswith("." + self.host) if self.subdomains else host == self.host


def parse_host_pattern(entry: str) -> HostPattern:
    """An entry of WECOM_MEDIA_HOSTS; ValueError with a Chinese explanation when malformed."""
    text = entry.strip().lower()
    found = _ENTRY.fullmatch(text)
    port = int(found["port"]) if found and found["port"] else None
    if found is None or (port is not None and not 0 < port < 65536):
        raise ValueError(
            f"{entry!r} 不是域名：应写成 wework.qpic.cn 或 *.qpic.cn，"
            "可带端口（如 127.0.0.1:8443），不写 https://，多个用英文逗号分隔"
        )
    host, wild = found["host"], bool(found["wild"])
    if wild and host.count(".") < 1:
        raise ValueError(f"{entry!r} 范围太大：* 后面至少要有两级域名，如 *.qpic.cn")
    return HostPattern(host, wild, port)


@dataclass(frozen=True)
class MediaHosts:
    """The download policy: listed hosts over https, and the API base's own origin."""

    patterns: tuple[HostPattern, ...]
    api_base: tuple[str, str, int] | None

    @classmethod
    def of(cls, entries: Iterable[str], api_base: str) -> MediaHosts:
        return cls(tuple(parse_host_pattern(entry) for entry in entries), url_parts(api_base))

    def allows(self, url: str) -> bool:
        """True when `url` may be fetched; user:password@ URLs never are."""
        parts = url_parts(url)
        if parts is None or "@" in urlsplit(url.strip()).netloc:
            return False
        if parts == self.api_base:
            return True
        scheme, host, port = parts
        if scheme != "https" and not self._plain_http_host(host):
            return False
        return any(pattern.matches(scheme, host, port) for pattern in self.patterns)

    def _plain_http_host(self, host: str) -> bool:
        return self.api_base is not None and self.api_base[:2] == ("http", host)
