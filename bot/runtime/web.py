"""The HTTP side of `serve`: one aiohttp application with `/healthz` and the channels' routes.

Routes come from "route adders" (`AppCallback.add_routes`, `AibotHttpCallback.add_routes`, and
later the dashboard), so adding a page is one more adder in the list `serve` passes in.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"

RouteAdder = Callable[[web.Application], None]
Announce = Callable[[str], None]
HealthCheck = Callable[[], Mapping[str, Any]]


def create_web_app(health: HealthCheck, route_adders: Iterable[RouteAdder] = ()) -> web.Application:
    """The web application: `GET /healthz` answering `health()` as JSON, plus every adder's routes.

    `health()` must return a JSON-able mapping with "status": "ok" when all is well; anything
    else (or an exception) answers 503 so container health checks notice.
    """
    app = web.Application()

    async def healthz(_request: web.Request) -> web.Response:
        try:
            body = dict(health())
        except Exception:
            log.exception("health check failed")
            return web.json_response({"status": "error"}, status=503)
        status = 200 if body.get("status") == "ok" else 503
        return web.json_response(body, status=status)

    app.router.add_get(HEALTH_PATH, healthz)
    for add_routes in route_adders:
        add_routes(app)
    return app


async def listen_until(
    web_app: web.Application,
    host: str,
    port: int,
    *,
    stop: asyncio.Event,
    announce: Announce,
    on_ready: Callable[[str], None] | None = None,
) -> int:
    """Serve `web_app` until `stop` is set; 1 when the port cannot be opened. The listener
    closes first, so no callback arrives while the caller stops its services."""
    runner = web.AppRunner(web_app, handle_signals=False, **server_options())
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            announce(f"无法监听 {host}:{port}：端口可能已被占用或没有权限（{exc}）。")
            return 1
        address = runner.addresses[0] if runner.addresses else (host, port)
        base_url = f"http://{_url_host(address[0])}:{address[1]}"
        announce(f"HTTP 服务已启动：{base_url}（健康检查 {base_url}{HEALTH_PATH}）")
        if on_ready is not None:
            on_ready(base_url)
        await stop.wait()
        announce("正在停止服务……")
    finally:
        await runner.cleanup()
    return 0


def server_options() -> dict[str, Any]:
    """How our HTTP server logs: route patterns in the access log, junk requests in one line.

    Passed to `web.AppRunner` (and to aiohttp's `TestServer.start_server` in tests).
    """
    return {"access_log_class": PathAccessLogger, "logger": _server_log}


class _BadRequestAsWarning(logging.Filter):
    """aiohttp logs a request it cannot even parse (an over-long URL, a malformed request
    line, a bad header) with a full traceback at ERROR, under "Error handling request". Such
    requests come from scanners, not from WeCom: one WARNING line is enough. Errors inside our
    own handlers keep their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "unparsable HTTP request from %s refused with %d (%s)"
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            # The exception's name only: its message quotes the sender's bytes over lines.
            record.args = (remote, exc.code, type(exc).__name__)
            record.exc_info, record.exc_text = None, None
        return True


_server_log = logging.getLogger(__name__ + ".server")
_server_log.addFilter(_BadRequestAsWarning())


def _url_host(host: Any) -> str:
    text = str(host)
    return f"[{text}]" if ":" in text else text


class PathAccessLogger(AbstractAccessLogger):
    """Access log that never writes a query string or a path variable.

    Callback queries carry signatures, and dashboard links carry their access token in the
    path, so a request is logged by its route pattern (e.g. `/reports/{token}/`). Health
    checks (every 30 s from Docker), scrapes of /metrics and successful callback POSTs go to
    DEBUG so they do not bury real traffic.
    """

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        # Each accepted WeCom callback is logged once by its channel (with its msgid), so
        # its access line would only double the log under load.
        quiet = request.path in (HEALTH_PATH, METRICS_PATH) or (
            request.method == "POST" and response.status < 400
        )
        level = logging.DEBUG if quiet else logging.INFO
        if not self.logger.isEnabledFor(level):
            return  # the usual case for callbacks: skip formatting the line
        self.logger.log(
            level,
            "%s %s %s %d %.1fms",
            request.remote,
            request.method,
            _route_of(request),
            response.status,
            time * 1000,
        )


_UNMATCHED_PATH_CHARS = 64
# A path segment this long may be a credential: a dashboard token is at least 45 characters
# (its MAC alone is 43). Real path words (reports, wecom, files) are far shorter.
_LONG_SEGMENT = re.compile(r"[^/]{32,}")


def _route_of(request: BaseRequest) -> str:
    try:
        match_info = request.match_info  # type: ignore[attr-defined]
    except (AttributeError, AssertionError):
        match_info = None  # a request aiohttp could not parse never reached the router
    resource = match_info.route.resource if match_info is not None else None
    if resource is not None:
        return resource.canonical
    # No route matched (404/405, e.g. a dashboard link with a wrong page or method): the path
    # is the caller's own text; no long segment that could be a token, and keep it short.
    return _LONG_SEGMENT.sub("{redacted}", request.path)[:_UNMATCHED_PATH_CHARS]
