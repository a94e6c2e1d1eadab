"""The playground as its page meets it: the HTTP API and the WebSocket push, on a FakeClock.

The bot behind it is the real one (`create_app`: pipeline, router, outbox, scheduler) on the
small alliance, wired exactly as `jiaoyan-bot playground` wires it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, web
from aiohttp.test_utils import TestClient

from bot.channels.playground.hub import PlaygroundHub
from bot.cli.harness import answer
from bot.cli.playground import SimulatedTime
from bot.core.clock import FakeClock
from bot.core.settings import Settings
from bot.runtime.app import App
from bot.runtime.playground import playground_app, playground_routes
from bot.runtime.web import create_web_app
from storage import Storage
from tests.scheduling.conftest import local, seed

Message = dict[str, Any]


@dataclass
class Playground:
    client: TestClient[web.Request, web.Application]
    app: App
    hub: PlaygroundHub
    clock: FakeClock

    async def say(self, userid: str, text: str, chat: str | None = None) -> Any:
        response = await self.client.post(
            "/playground/api/send", json={"userid": userid, "chat": chat, "text": text}
        )
        return response.status, await response.json()

    async def page_socket(self) -> ClientWebSocketResponse:
        return await self.client.ws_connect("/playground/ws")


async def pushed_until(
    socket: ClientWebSocketResponse, wanted: Callable[[Message], bool]
) -> list[Message]:
    """The messages the page is pushed, up to and including the first one `wanted`."""
    seen: list[Message] = []
    while True:
        update = await socket.receive_json(timeout=10)
        if update["type"] != "message":
            continue
        seen.append(update["message"])
        if wanted(update["message"]):
            return seen


@pytest.fixture
async def playground(
    tmp_path: Path,
    aiohttp_client: Callable[
        [web.Application], Awaitable[TestClient[web.Request, web.Application]]
    ],
) -> AsyncIterator[Playground]:
    settings = Settings(_env_file=None, JIAOYAN_DB=tmp_path / "playground.db")  # type: ignore[call-arg]
    clock = FakeClock(local("周一", "08:00"))
    storage = Storage.open(settings.db)
    seed(storage, clock.now())
    hub, app = playground_app(settings, storage, clock)
    routes = playground_routes(
        settings,
        storage,
        clock,
        hub,
        lambda incoming: answer(app, incoming),
        clock_control=SimulatedTime(app, clock),
    )
    client = await aiohttp_client(create_web_app(lambda: {"status": "ok"}, [routes.add_routes]))
    try:
        yield Playground(client=client, app=app, hub=hub, clock=clock)
    finally:
        app.close()
