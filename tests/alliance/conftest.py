"""A seeded district with three schools in one alliance (one of them small) and a way to talk
to the bot through the real router, the same way tests/handlers does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli.harness import reply_texts
from bot.core.clock import FakeClock
from bot.core.messages import Broadcast, Channel, Direct, Effect, Incoming
from bot.routing.context import BotConfig
from bot.routing.router import Dispatcher
from handlers import build_router
from storage import Storage
from storage.models import Role, School
from tests.fakes.router_bot import RouterBot

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Tuesday 2026-11-24 09:00 in Shanghai.
START = datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI)
EAST_GROUP = "group-east"
WEST_GROUP = "group-west"


class Bot(RouterBot):
    def incoming(
        self,
        userid: str,
        text: str,
        chat: str | None = EAST_GROUP,
        reply_context: dict[str, str] | None = None,
    ) -> Incoming:
        return self.speaker.incoming(userid, text, chat, reply_context=reply_context)

    def say(self, userid: str, text: str, chat: str | None = EAST_GROUP) -> list[Effect]:
        return self.speaker.ask(self.dispatcher, userid, text, chat)

    def reply(self, userid: str, text: str, chat: str | None = EAST_GROUP) -> str:
        """All reply texts (public and private) joined, as the user would read them."""
        return replies(self.say(userid, text, chat))

    def at(self, month: int, day: int, hour: int, minute: int = 0) -> None:
        self.clock.set(datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI))


def replies(effects: list[Effect]) -> str:
    return reply_texts(effects)


def broadcasts(effects: list[Effect]) -> list[Broadcast]:
    return [e for e in effects if isinstance(e, Broadcast)]


def directs(effects: list[Effect]) -> list[Direct]:
    return [e for e in effects if isinstance(e, Direct)]


def seed(storage: Storage, at: datetime) -> None:
    """东部联盟: 东部一小 (leader 刘洋), 东部二小 (leader 马丽), 朝阳小学 (small, no leader);
    中西部一组: 西城小学 (leader 陈静). Staff 周敏 works at district level."""
    roster = storage.roster
    district = roster.ensure_alliance("尚志市小学语文", at=at)
    east = roster.ensure_alliance("东部联盟", at=at, parent_id=district.id)
    west = roster.ensure_alliance("中西部一组", at=at, parent_id=district.id)
    yixiao = roster.ensure_school("东部一小", east.id)
    erxiao = roster.ensure_school("东部二小", east.id)
    chaoyang = roster.ensure_school("朝阳小学", east.id)
    xicheng = roster.ensure_school("西城小学", west.id)
    roster.add_member("周敏", at=at, role=Role.STAFF, alliance_id=district.id, userid="staff1")
    for name, school, uid in [("刘洋", yixiao, "lead1"), ("马丽", erxiao, "lead3")]:
        roster.add_member(
            name, at=at, role=Role.LEADER, school_id=school.id, alliance_id=east.id, userid=uid
        )
    roster.add_member(
        "陈静", at=at, role=Role.LEADER, school_id=xicheng.id, alliance_id=west.id, userid="lead2"
    )
    teachers: list[tuple[str, School, str | None]] = [
        ("王芳", yixiao, "t1"),
        ("李强", yixiao, "t2"),
        ("何雪", yixiao, "t4"),
        ("张敏", erxiao, "t3"),
        ("赵磊", erxiao, None),
        ("孙悦", chaoyang, "t5"),
        ("周亮", chaoyang, "t6"),
    ]
    for name, school, account in teachers:
        roster.add_member(name, at=at, school_id=school.id, alliance_id=east.id, userid=account)
    roster.add_member("孙丽", at=at, school_id=xicheng.id, alliance_id=west.id, userid="t9")
    storage.chats.bind(EAST_GROUP, Channel.CONSOLE.value, east.id, bound_by="admin", at=at)
    storage.chats.bind(WEST_GROUP, Channel.CONSOLE.value, west.id, bound_by="admin", at=at)


@pytest.fixture
def storage(db_target: Path | str) -> Iterator[Storage]:
    opened = Storage.open(db_target)
    yield opened
    opened.close()


@pytest.fixture
def bot(storage: Storage) -> Bot:
    clock = FakeClock(START)
    seed(storage, clock.now())
    config = BotConfig(zone=SHANGHAI, admins=frozenset({"boss"}), min_reflection_chars=30)
    dispatcher = Dispatcher(build_router(), storage, clock, config)
    return Bot(storage, clock, dispatcher)
