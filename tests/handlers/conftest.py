"""A small seeded alliance and a way to talk to the bot through the real router."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import FakeClock
from bot.context import BotConfig
from bot.messages import Channel, ChatType, Effect, Incoming, Reply
from bot.router import Dispatcher
from handlers import build_router
from storage import Storage
from storage.models import Role

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Tuesday 2026-11-24 09:00 in Shanghai.
START = datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI)
GROUP = "group-east"


@dataclass
class Bot:
    storage: Storage
    clock: FakeClock
    dispatcher: Dispatcher
    _ids: Iterator[int]

    def say(
        self, userid: str, text: str, chat: str | None = GROUP, quote: str | None = None
    ) -> list[Effect]:
        incoming = Incoming(
            channel=Channel.CONSOLE,
            msgid=f"m{next(self._ids)}",
            userid=userid,
            text=text,
            chat_type=ChatType.GROUP if chat else ChatType.SINGLE,
            chat_id=chat,
            quote=quote,
            received_at=self.clock.now(),
        )
        return self.dispatcher.handle_sync(incoming)

    def reply(self, userid: str, text: str, chat: str | None = GROUP, **kw: object) -> str:
        """All reply texts (public and private) joined, as the user would read them."""
        effects = self.say(userid, text, chat, **kw)  # type: ignore[arg-type]
        return "\n".join(e.text for e in effects if isinstance(e, Reply))

    def at(self, month: int, day: int, hour: int, minute: int = 0) -> None:
        self.clock.set(datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI))


def seed(storage: Storage, at: datetime) -> None:
    roster = storage.roster
    district = roster.ensure_alliance("尚志市小学语文", at=at)
    east = roster.ensure_alliance("东部联盟", at=at, parent_id=district.id)
    west = roster.ensure_alliance("中西部一组", at=at, parent_id=district.id)
    yixiao = roster.ensure_school("东部一小", east.id)
    erxiao = roster.ensure_school("东部二小", east.id)
    xixiao = roster.ensure_school("西城小学", west.id)
    roster.add_member("周敏", at=at, role=Role.STAFF, alliance_id=district.id, userid="staff1")
    roster.add_member(
        "刘洋", at=at, role=Role.LEADER, school_id=yixiao.id, alliance_id=east.id, userid="lead1"
    )
    roster.add_member(
        "陈静", at=at, role=Role.LEADER, school_id=xixiao.id, alliance_id=west.id, userid="lead2"
    )
    for name, school, uid in [
        ("王芳", yixiao, "t1"),
        ("李强", yixiao, "t2"),
        ("张敏", erxiao, "t3"),
        ("赵磊", erxiao, None),
    ]:
        roster.add_member(name, at=at, school_id=school.id, alliance_id=east.id, userid=uid)
    roster.add_member("孙丽", at=at, school_id=xixiao.id, alliance_id=west.id, userid="t9")
    roster.add_member("管理员", at=at, role=Role.ADMIN, userid="admin1")
    storage.chats.bind(GROUP, Channel.CONSOLE.value, east.id, bound_by="admin1", at=at)
    storage.chats.bind("group-west", Channel.CONSOLE.value, west.id, bound_by="admin1", at=at)


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    storage = Storage.open(tmp_path / "bot.db")
    clock = FakeClock(START)
    seed(storage, clock.now())
    config = BotConfig(zone=SHANGHAI, admins=frozenset({"boss"}), min_reflection_chars=30)
    dispatcher = Dispatcher(build_router(), storage, clock, config)
    yield Bot(storage, clock, dispatcher, itertools.count(1))
    storage.close()
