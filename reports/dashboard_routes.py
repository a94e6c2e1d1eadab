"""Where the leaders' dashboard lives in the web application, without loading it.

The dashboard (templates, charts, Excel export) is only needed when a leader opens a link, so
its code is imported on the first such request: `serve` answers WeCom's callbacks and stays
small until then.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from bot.core.clock import Clock
from bot.core.settings import Settings
from reports.links import DASHBOARD_PREFIX
from storage import Storage

if TYPE_CHECKING:
    from reports.dashboard import Dashboard

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Path under /reports/<token> → the `Dashboard` method answering it.
ROUTES = (
    ("", "root"),
    ("/", "overview"),
    ("/reflections", "reflections"),
    ("/studies", "studies"),
    ("/trend.png", "trend_png"),
    ("/rates.png", "rates_png"),
    ("/export.xlsx", "export"),
    ("/files/{name}", "file"),
    ("/evidence/{number}", "evidence"),
    ("/archive/{name}", "archive"),
)


def add_routes(
    app: web.Application,
    storage: Storage | Callable[[], Storage],
    settings: Settings,
    clock: Clock,
) -> None:
    """Serve the dashboard from `app` under /reports/<token>/. `storage` may be a function
    that opens it, called on the first request too."""
    loaded: list[Dashboard] = []

    def dashboard() -> Dashboard:
        if not loaded:
            from reports.dashboard import Dashboard

            opened = storage if isinstance(storage, Storage) else storage()
            loaded.append(Dashboard(opened, settings, clock))
        return loaded[0]

    def handler(method: str) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            answer: Handler = getattr(dashboard(), method)
            return await answer(request)

        return handle

    base = f"{DASHBOARD_PREFIX}/{{token}}"
    for suffix, method in ROUTES:
        app.router.add_get(base + suffix, handler(method))
