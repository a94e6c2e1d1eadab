"""`jiaoyan-bot playground`: the bot on a local web page, on a clock the page moves.

Without `--db` it builds a fresh demo district and plays the demo's week through the page's
channel, so the page opens on a week that has happened; with `--db` it opens a fresh copy of
that database (moving the clock records reminders as sent: never on the real one). Either
way the clock is simulated: it starts at the week's end (or now) and moves only when the
page says so, and everything due on the way (reminders, scheduled notices,
digests) is sent at its own instant (`scheduling.simulated.advance_clock`), the same way the
demo and `simulate` drive time.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from bot.channels.console_sender import ConsoleSender
from bot.channels.playground.hub import PlaygroundHub, incoming_from_page
from bot.cli.demo import (
    EAST_GROUP,
    DemoSender,
    DemoWeek,
    Transcript,
    play_week,
    week_start,
)
from bot.cli.demo_data import build_district
from bot.cli.harness import answer, deliver
from bot.core.clock import FakeClock
from bot.core.settings import Settings
from bot.runtime.app import App
from bot.runtime.playground import (
    PLAYGROUND_PATH,
    playground_app,
    playground_routes,
)
from bot.runtime.web import Announce, create_web_app, listen_until
from scheduling.simulated import advance_clock
from storage import Storage


@dataclass
class SimulatedTime:
    """The page's clock buttons: move the simulated clock, sending what falls due."""

    app: App
    clock: FakeClock

    async def jump(self, target: datetime) -> None:
        await advance_clock(
            self.app.scheduler, self.clock, target, after_each=lambda: deliver(self.app.worker)
        )


class PlaygroundSpeaker:
    """Says things on the page's channel: shown as typed, answered through the pipeline."""

    def __init__(self, app: App, hub: PlaygroundHub) -> None:
        self._app = app
        self._hub = hub

    async def say(self, userid: str, text: str, chat: str | None) -> None:
        incoming = incoming_from_page(userid, text, chat, self._app.clock.now())
        self._hub.said(incoming)
        await answer(self._app, incoming)


class PlaygroundWeek(DemoWeek):
    """The demo's week, said on the page's channel so the page shows all of it."""

    speaker: PlaygroundSpeaker

    async def say(self, userid: str, text: str, chat: str | None = EAST_GROUP) -> None:
        await self.speaker.say(userid, text, chat)


async def run_playground(
    settings: Settings,
    host: str,
    port: int,
    *,
    demo_week: date | None,
    stop: asyncio.Event,
    announce: Announce,
    on_ready: Callable[[str], None] | None = None,
) -> int:
    """Serve the page until `stop` is set. `demo_week`: build the demo district afresh and
    play that week first (its Monday); None: a fresh copy of the database, clock at now."""
    if not isinstance(settings.db, Path):
        announce(
            "体验页只能用 SQLite 数据库文件（它在数据库的副本上运行），不能用 PostgreSQL 地址。"
        )
        return 2
    if demo_week is not None:
        _remove_database(settings.db)
        start = week_start(demo_week, settings.zone)
    else:
        if not settings.db.is_file():
            announce(f"找不到数据库 {settings.db}。")
            return 2
        copy = working_copy(settings.db)
        announce(f"在数据库的副本上试用：{copy}（原数据库 {settings.db} 不会被改动）")
        settings = settings.model_copy(update={"db": copy})
        start = datetime.now(UTC).replace(second=0, microsecond=0)
    clock = FakeClock(start)
    storage = Storage.open(settings.db)
    # Messages for WeCom groups of a copied database stay queued in the copy, unsent.
    hub, app = playground_app(settings, storage, clock, leave_other_channels=True)
    try:
        if demo_week is not None:
            announce("正在生成演示区并演示一周的教研活动……")
            await _play_demo_week(app, clock, hub, storage)
        await app.pipeline.recover()
        await app.scheduler.run_due()  # what fell due while nobody ran this database
        await deliver(app.worker)
        routes = playground_routes(
            settings,
            storage,
            clock,
            hub,
            lambda incoming: answer(app, incoming),
            clock_control=SimulatedTime(app, clock),
        )
        web_app = create_web_app(lambda: {"status": "ok"}, [routes.add_routes])

        def ready(base_url: str) -> None:
            announce(f"体验页：{base_url}{PLAYGROUND_PATH}  （用浏览器打开；Ctrl+C 退出）")
            if host in ("127.0.0.1", "localhost", "::1"):
                announce("只在本机可以打开；要让局域网里的电脑访问，加 --host 0.0.0.0。")
            if on_ready is not None:
                on_ready(base_url)

        return await listen_until(web_app, host, port, stop=stop, announce=announce, on_ready=ready)
    finally:
        with contextlib.suppress(Exception):
            await app.pipeline.drain()
        app.close()


def working_copy(source: Path) -> Path:
    """A fresh copy of `source` beside it (`x.db` → `x.playground.db`), taken with SQLite's
    backup so it is consistent even while `serve` writes. The page moves time forward and
    records reminders as sent: that must never happen to the real database."""
    target = source.with_name(f"{source.stem}.playground{source.suffix or '.db'}")
    _remove_database(target)
    with (
        contextlib.closing(
            sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        ) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
    return target


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


async def _play_demo_week(app: App, clock: FakeClock, hub: PlaygroundHub, storage: Storage) -> None:
    people = build_district(storage, clock.now())
    silent = Transcript(
        write=lambda _line: None, names=people.names, zone=app.settings.zone, clock=clock
    )
    week = PlaygroundWeek(
        app, clock, people, silent, DemoSender(silent, ConsoleSender(lambda _: None))
    )
    week.speaker = PlaygroundSpeaker(app, hub)
    await play_week(week, app.settings.zone)
