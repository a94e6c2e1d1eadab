"""A small seeded alliance and a way to talk to the bot through the real router."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli.harness import reply_texts
from bot.core.clock import FakeClock
from bot.core.messages import Effect
from bot.routing.context import BotConfig
from bot.routing.router import Dispatcher
from handlers import build_router
from storage import Storage
from tests.fakes.router_bot import RouterBot
from tests.fakes.small_alliance import GROUP, seed_small_alliance

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Tuesday 2026-11-24 09:00 in Shanghai.
START = datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI)


class Bot(RouterBot):
    def say(
        self, userid: str, text: str, chat: str | None = GROUP, quote: str | None = None
    ) -> list[Effect]:
        return self.speaker.ask(self.dispatcher, userid, text, chat, quote=quote)

    def reply(
        self, userid: str, text: str, chat: str | None = GROUP, quote: str | None = None
    ) -> str:
        """All reply texts (public and private) joined, as the user would read them."""
        return reply_texts(self.say(userid, text, chat, quote))

    def at(self, month: int, day: int, hour: int, minute: int = 0) -> None:
        self.clock.set(datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI))


@pytest.fixture
def bot(db_target: Path | str) -> Iterator[Bot]:
    storage = Storage.open(db_target)
    clock = FakeClock(START)
    seed_small_alliance(storage, clock.now())
    config = BotConfig(zone=SHANGHAI, admins=frozenset({"boss"}), min_reflection_chars=30)
    dispatcher = Dispatcher(build_router(), storage, clock, config)
    yield Bot(storage, clock, dispatcher)
    storage.close()
