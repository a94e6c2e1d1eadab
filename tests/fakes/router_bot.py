"""The router on a real database and a FakeClock, spoken to the way the console speaks.

The base of the `bot` fixtures that read a handler's effects without an inbox or outbox
(tests/handlers, tests/alliance, tests/reports/test_chat.py); each adds its default group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.cli.harness import Speaker
from bot.core.clock import FakeClock
from bot.routing.router import Dispatcher
from storage import Storage


@dataclass
class RouterBot:
    storage: Storage
    clock: FakeClock
    dispatcher: Dispatcher
    speaker: Speaker = field(init=False)

    def __post_init__(self) -> None:
        self.speaker = Speaker(self.clock)
