"""WECOM_MEDIA_HOSTS for tests: the documented way to let the bot download from local servers.

Tests serve "WeCom's media host" from aiohttp test servers on 127.0.0.1 over plain http. The
API base is the tests' fake WeCom there too (plain http is only ever accepted on the API
base's own host), and each media server's port is listed, exactly as an admin would.
"""

from __future__ import annotations

from yarl import URL

from bot.core.media_hosts import MediaHosts
from bot.core.settings import Settings

FAKE_API_BASE = "http://127.0.0.1:9"  # discard port: nothing in these tests calls the API


def media_hosts_listing(*bases: str) -> MediaHosts:
    """The download policy of a bot whose WECOM_MEDIA_HOSTS lists these servers' ports."""
    entries = ",".join(f"127.0.0.1:{URL(base).port}" for base in bases)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, WECOM_API_BASE=FAKE_API_BASE, WECOM_MEDIA_HOSTS=entries
    )
    return settings.media_hosts
