"""What `serve` offers over HTTP: the enabled WeCom callbacks, the leaders' dashboard, and
the body of `/healthz`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from bot.channels.aibot_http import AibotHttpCallback
from bot.channels.base import IncomingSink
from bot.channels.status import ChannelStatus
from bot.core.clock import Clock
from bot.core.messages import Channel
from bot.core.settings import Settings
from bot.runtime.web import RouteAdder
from reports.dashboard_routes import add_routes as add_dashboard_routes
from storage import Storage
from storage.messaging import OutboxStats


def secret_value(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""


def http_route_adders(
    settings: Settings,
    enabled: set[Channel],
    *,
    sink: IncomingSink,
    storage: Storage | Callable[[], Storage],
    clock: Clock,
) -> list[RouteAdder]:
    """Web routes besides /healthz: the leaders' dashboard, then the enabled callbacks, which
    hand every message to `sink`."""
    adders: list[RouteAdder] = [
        lambda web_app: add_dashboard_routes(web_app, storage, settings, clock)
    ]
    if Channel.AIBOT_HTTP in enabled:
        aibot_callback = AibotHttpCallback(
            secret_value(settings.wecom_bot_token),
            secret_value(settings.wecom_bot_aes_key),
            sink,
            clock,
        )
        adders.append(aibot_callback.add_routes)
    if Channel.APP in enabled:
        # Imported here: it brings wechatpy (and requests), about 10 MB, needed only when
        # the app's callbacks are enabled.
        from bot.channels.app_callback import AppCallback

        app_callback = AppCallback(
            secret_value(settings.wecom_app_token),
            secret_value(settings.wecom_app_aes_key),
            settings.wecom_corp_id.strip(),
            settings.wecom_agent_id.strip(),
            sink,
            clock,
        )
        adders.append(app_callback.add_routes)
    return adders


def health_body(
    statuses: list[ChannelStatus],
    outbox: OutboxStats,
    *,
    long_connection: str | None = None,
) -> dict[str, Any]:
    """What `/healthz` shows: on/off per channel, the outbox backlog and the long
    connection's state when it is configured; never a secret."""
    channels = {s.channel.value: "on" if s.enabled else "off" for s in statuses}
    channels[Channel.WEBHOOK.value] = "on"
    body: dict[str, Any] = {
        "status": "ok",
        "channels": channels,
        "outbox": {"pending": outbox.pending, "failed": outbox.failed},
    }
    if long_connection is not None:
        body["long_connection"] = long_connection
    return body
