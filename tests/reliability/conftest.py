"""Shared pieces of the reliability suite: the fake WeCom servers and a running `serve`.

`serve` here is the real command in a subprocess (`python -m bot.cli.main serve`) with its own
SQLite file, talking to the fake WeCom API that this test process serves on 127.0.0.1.
Waiting is always a bounded poll of something observable (/healthz, the fake's records),
never a sleep that guesses how long something takes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.core.clock import SystemClock
from tests.fakes.world import WECOM_ENV, FakeWeCom, api_application, new_fake_wecom

READY_SECONDS = 30.0


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only what a test sets counts: no WECOM_* or JIAOYAN_* from the developer's shell."""
    for name in WECOM_ENV:
        monkeypatch.delenv(name, raising=False)
    yield


class Hold:
    """Makes the fake WeCom API slow on demand: while closed, sends wait; a request whose
    sender died meanwhile is dropped unprocessed, as WeCom would never have seen it."""

    PATHS = ("/cgi-bin/message/send", "/cgi-bin/aibot/response")

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self.waiting = 0

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path in self.PATHS and not self._open.is_set():
            self.waiting += 1
            try:
                await self._open.wait()
            finally:
                self.waiting -= 1
            transport = request.transport
            if transport is None or transport.is_closing():
                return web.Response(status=503)
        return await handler(request)


@dataclass
class RealWorld:
    """The fake WeCom API on loopback with the real clock, and its hold switch."""

    fake: FakeWeCom
    hold: Hold


@pytest.fixture
async def real_world(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> RealWorld:
    fake = new_fake_wecom(SystemClock())
    fake.api.member_per_minute = 10**6  # quotas are tested elsewhere; here: crash safety
    hold = Hold()
    app = api_application(fake)
    app.middlewares.append(hold.middleware)
    server = await aiohttp_server(app, host="127.0.0.1")
    fake.api_base = str(server.make_url("")).rstrip("/")
    return RealWorld(fake, hold)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServeProcess:
    proc: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    async def health(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        async with session.get(self.base_url + "/healthz") as resp:
            return dict(await resp.json())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


StartServe = Callable[[Path | str, dict[str, Any]], Awaitable[ServeProcess]]


@pytest.fixture
async def start_serve(tmp_path: Path) -> AsyncIterator[StartServe]:
    """Start `jiaoyan-bot serve` on a free port with these settings; wait until /healthz is ok."""
    started: list[ServeProcess] = []
    repo = Path(__file__).resolve().parents[2]

    async def start(db: Path | str, values: dict[str, Any]) -> ServeProcess:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in WECOM_ENV}
        env.update({k: str(v) for k, v in values.items()})
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(repo), env.get("PYTHONPATH")) if p)
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bot.cli.main",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                cwd=tmp_path,  # no stray .env
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = ServeProcess(proc, f"http://127.0.0.1:{port}", log)
        started.append(server)
        deadline = time.monotonic() + READY_SECONDS
        async with aiohttp.ClientSession() as session:
            while True:
                assert proc.poll() is None, log.read_text(errors="replace")
                try:
                    if (await server.health(session)).get("status") == "ok":
                        return server
                except (aiohttp.ClientError, ValueError):
                    pass
                assert time.monotonic() < deadline, "serve did not come up in time"
                await asyncio.sleep(0.02)

    yield start
    for server in started:
        server.stop()
