"""A small alliance on a real SQLite file, driven through the whole app on a FakeClock.

Messages go in through the pipeline as a WeCom channel would deliver them; whatever the bot
sends comes out of the outbox worker into a recording console sender, stamped with the
simulated time it was delivered at.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli.harness import Speaker, deliver
from bot.core.clock import FakeClock
from bot.core.messages import Channel, Outgoing, TargetKind
from bot.core.settings import Settings
from bot.runtime.app import App, create_app
from scheduling.simulated import advance_clock
from storage import Storage
from tests.fakes.small_alliance import GROUP, seed_small_alliance

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday 2030-03-04, 08:00 — well in the future, so a paused real alarm never matters.
YEAR, MONTH, MONDAY = 2030, 3, 4
DAYS = {"周一": 0, "周二": 1, "周三": 2, "周四": 3, "周五": 4, "周六": 5, "周日": 6}


def local(day: str, hhmm: str, zone: ZoneInfo = SHANGHAI, *, week: int = 0) -> datetime:
    """'周三', '18:00' → that moment in the test week (local to `zone`)."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime(YEAR, MONTH, MONDAY + DAYS[day] + 7 * week, hour, minute, tzinfo=zone)


@dataclass
class Sent:
    at: datetime  # UTC
    message: Outgoing

    def when(self, zone: ZoneInfo) -> str:
        moment = self.at.astimezone(zone)
        weekday = "一二三四五六日"[moment.weekday()]
        return f"周{weekday} {moment:%H:%M}"

    @property
    def to(self) -> str:
        if self.message.target_kind is TargetKind.CHAT:
            return self.message.target
        return f"@{self.message.target}"


class RecordingSender:
    """The console channel, remembering what went where and when."""

    channel = Channel.CONSOLE

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self.sent: list[Sent] = []

    async def send(self, message: Outgoing) -> None:
        self.sent.append(Sent(self._clock.now(), message))


def seed(storage: Storage, at: datetime) -> None:
    """The shared small alliance; here 赵磊 has a WeCom account too (t4), so he can be reminded."""
    seed_small_alliance(storage, at)
    [zhao] = storage.roster.members_named("赵磊")
    storage.roster.update_member(zhao.id, userid="t4")


@dataclass
class Harness:
    """One running bot process on `path`; `reopen()` is a restart on the same file."""

    path: Path | str
    clock: FakeClock
    zone: ZoneInfo
    private: bool = True
    registry: list[Harness] = field(default_factory=list)
    app: App = field(init=False)
    speaker: Speaker = field(init=False)
    sender: RecordingSender = field(init=False)

    def __post_init__(self) -> None:
        self.sender = RecordingSender(self.clock)
        self.app = create_app(
            Settings(JIAOYAN_DB=self.path, JIAOYAN_TZ=self.zone.key),
            clock=self.clock,
            senders={Channel.CONSOLE: self.sender},
            private_channel=Channel.CONSOLE if self.private else None,
        )
        self.registry.append(self)
        # Its own msgids: a message after a restart on the same file is not a duplicate.
        self.speaker = Speaker(self.clock, prefix=f"t{len(self.registry)}-")

    @property
    def storage(self) -> Storage:
        return self.app.storage

    async def say(self, userid: str, text: str, chat: str | None = GROUP) -> list[Sent]:
        """Send a message and return the bot's answers (and anything that fell due with it)."""
        before = len(self.sender.sent)
        await self.speaker.say(self.app, userid, text, chat)
        return self.sender.sent[before:]

    async def flush(self) -> None:
        await deliver(self.app.worker)

    async def advance(self, target: datetime) -> list[Sent]:
        """Move the clock to `target`, firing everything due on the way; what was sent."""
        before = len(self.sender.sent)
        await advance_clock(self.app.scheduler, self.clock, target, after_each=self.flush)
        return self.sender.sent[before:]

    def reopen(self) -> Harness:
        """Stop this process (without any goodbye) and start a new one on the same file."""
        self.app.close()
        return Harness(self.path, self.clock, self.zone, self.private, self.registry)

    def close(self) -> None:
        self.app.close()


HarnessFactory = Callable[..., Harness]


@pytest.fixture
async def make_harness(
    db_targets: Callable[[], Path | str],
) -> AsyncIterator[HarnessFactory]:
    made: list[Harness] = []

    def make(
        zone: ZoneInfo = SHANGHAI,
        *,
        private: bool = True,
        start: datetime | None = None,
        prepare: Callable[[Storage], None] | None = None,
    ) -> Harness:
        clock = FakeClock(start or local("周一", "08:00", zone))
        path = db_targets()
        storage = Storage.open(path)
        seed(storage, clock.now())
        if prepare is not None:
            prepare(storage)
        storage.close()
        return Harness(path, clock, zone, private, made)

    yield make
    for harness in made:
        harness.close()


def texts(sent: list[Sent]) -> list[str]:
    return [s.message.text for s in sent]
