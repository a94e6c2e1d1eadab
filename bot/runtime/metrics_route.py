"""`GET /metrics` for Prometheus, and the count of callbacks refused before the pipeline.

The metrics are on only with `JIAOYAN_METRICS_TOKEN` set, and then answer only a request that
carries it (`Authorization: Bearer <token>`). The bot usually sits behind a reverse proxy that
forwards everything from 127.0.0.1, so "local requests only" would protect nothing.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from bot.core.messages import Channel
from bot.core.metrics import CONTENT_TYPE, Metrics
from bot.runtime.web import METRICS_PATH, RouteAdder

# The callback routes (bot.channels.aibot_http.PATH, bot.channels.app_callback.PATH); the
# latter module is not imported here since it brings wechatpy.
CALLBACK_CHANNELS = {"/wecom/aibot": Channel.AIBOT_HTTP, "/wecom/app": Channel.APP}


def metrics_routes(metrics: Metrics, token: str) -> RouteAdder:
    """Adds `/metrics` (when `token` is set) and counts callbacks answered with 4xx as rejected
    (bad signature, bad body): those never reach the pipeline, which counts the others."""

    def add_routes(web_app: web.Application) -> None:
        web_app.middlewares.append(_count_rejected(metrics))
        if token:
            web_app.router.add_get(METRICS_PATH, _scrape(metrics, token))

    return add_routes


def _scrape(metrics: Metrics, token: str) -> Handler:
    expected = f"Bearer {token}".encode()

    async def scrape(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return web.Response(
                status=401, text="需要令牌\n", headers={"WWW-Authenticate": "Bearer"}
            )
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    return scrape


def _count_rejected(metrics: Metrics) -> Middleware:
    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        channel = CALLBACK_CHANNELS.get(request.path)
        if channel is None:
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            _count(metrics, channel, exc.status)
            raise
        _count(metrics, channel, response.status)
        return response

    return count


def _count(metrics: Metrics, channel: Channel, status: int) -> None:
    if 400 <= status < 500:
        metrics.callbacks.labels(channel.value, "rejected").inc()
