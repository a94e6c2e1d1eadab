"""The alliance boundary: only an activity's (or notice's) audience takes part, and leaders act
only on their own alliance tree. Two alliances side by side, every command × role × side,
through the real dispatcher; a refusal names the activity's alliance and stores nothing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.context import BotConfig
from bot.messages import Broadcast, Channel, Direct, Reply
from bot.router import Dispatcher
from handlers import build_router
from storage import Storage
from storage.models import NoticeStatus, Role, SigninStatus

from .conftest import SHANGHAI, START, Bot

BEIHU_GROUP = "group-beihu"
NANSHAN_GROUP = "group-nanshan"
LONG = (
    "今天的同课异构让我看到了两种完全不同的导入方式，学生的反应差别很大，我要改进自己的提问设计。"
)

# Who sends: a teacher or leader inside (北湖) or outside (南山) the audience of 北湖's A1;
# staff and the admin are never in an activity's audience (they are not participants) but
# reach every alliance.
SENDERS = {
    ("teacher", "inside"): "bh_t",
    ("teacher", "outside"): "ns_t",
    ("leader", "inside"): "bh_lead",
    ("leader", "outside"): "ns_lead",
    ("staff", "outside"): "staff1",
    ("admin", "outside"): "boss",
}


@dataclass(frozen=True)
class Case:
    command: str
    kind: str  # "take part" (audience only) or "manage" (staff-ish roles who reach 北湖)


COMMANDS = [
    Case("签到 A1", "take part"),
    Case("请假 A1 外出培训", "take part"),
    Case(f"反思 A1 {LONG}", "take part"),
    Case("收到 N1", "take part"),
    Case("代签 A1 王北", "manage"),
    Case("未签到 A1", "manage"),
    Case("未交 A1", "manage"),
    Case("催交 A1", "manage"),
    Case("汇总 本周", "manage"),
    Case("导出 本周 北湖联盟", "manage"),
]


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    """北湖联盟 (北湖一中: leader 林北 bh_lead, 王北 bh_t) and 南山联盟 (南山中学: leader
    陈南 ns_lead, 阮思敏 ns_t); staff 周敏; admin boss. 北湖's A1 runs 10:00–12:00 today and
    its notice N1 asks for confirmation."""
    storage = Storage.open(tmp_path / "bot.db")
    clock = FakeClock(START)
    at = clock.now()
    roster = storage.roster
    beihu = roster.ensure_alliance("北湖联盟", at=at)
    nanshan = roster.ensure_alliance("南山联盟", at=at)
    yizhong = roster.ensure_school("北湖一中", beihu.id)
    nanzhong = roster.ensure_school("南山中学", nanshan.id)
    for name, school, alliance, role, uid in [
        ("林北", yizhong, beihu, Role.LEADER, "bh_lead"),
        ("王北", yizhong, beihu, Role.TEACHER, "bh_t"),
        ("陈南", nanzhong, nanshan, Role.LEADER, "ns_lead"),
        ("阮思敏", nanzhong, nanshan, Role.TEACHER, "ns_t"),
    ]:
        roster.add_member(
            name, at=at, role=role, school_id=school.id, alliance_id=alliance.id, userid=uid
        )
    roster.add_member("周敏", at=at, role=Role.STAFF, userid="staff1")
    roster.add_member("管理员", at=at, role=Role.ADMIN, userid="boss")
    storage.chats.bind(BEIHU_GROUP, Channel.CONSOLE.value, beihu.id, bound_by="boss", at=at)
    storage.chats.bind(NANSHAN_GROUP, Channel.CONSOLE.value, nanshan.id, bound_by="boss", at=at)
    starts = at + timedelta(hours=1)
    storage.activities.create(
        alliance_id=beihu.id,
        kind="同课异构",
        title="同课异构",
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        signin_opens_at=starts - timedelta(minutes=30),
        created_at=at,
        reflection_due=starts + timedelta(days=2),
    )
    storage.notices.create(
        alliance_id=beihu.id,
        body="周五集体备课",
        needs_ack=True,
        author_id=None,
        created_at=at,
        publish_at=at,
        status=NoticeStatus.PUBLISHED,
    )
    clock.set(starts + timedelta(minutes=30))  # signing in, leave and reflections all open
    config = BotConfig(zone=SHANGHAI, admins=frozenset({"boss"}), min_reflection_chars=30)
    dispatcher = Dispatcher(build_router(), storage, clock, config)
    yield Bot(storage, clock, dispatcher, itertools.count(1))
    storage.close()


def stored(bot: Bot) -> tuple[object, ...]:
    """Everything a command on A1 or N1 could have written."""
    subs = bot.storage.submissions
    return (
        sorted(subs.signins(1)),
        sorted(subs.leaves(1)),
        sorted(subs.reflections(1)),
        sorted(bot.storage.notices.acked_member_ids(1)),
    )


def expected_refusal(case: Case, role: str, side: str) -> str | None:
    """The words a refusal must contain, or None when the command is carried out."""
    if case.kind == "take part":
        if role in ("teacher", "leader") and side == "inside":
            return None
        if case.command.startswith("收到"):
            return "通知 N1 是发给北湖联盟的，你不在通知范围内"
        return "A1 是北湖联盟的活动，你不在参与范围内。如需参加，请联系北湖联盟负责人把你加入活动对象。"
    if role == "teacher":
        return "权限"
    if role == "leader" and side == "outside":
        return "不能操作「北湖联盟」"
    return None


@pytest.mark.parametrize("case", COMMANDS, ids=[c.command.split(" ")[0] for c in COMMANDS])
@pytest.mark.parametrize(("role", "side"), list(SENDERS), ids=["-".join(k) for k in SENDERS])
def test_every_command_keeps_to_the_audience(bot: Bot, case: Case, role: str, side: str) -> None:
    before = stored(bot)
    effects = bot.say(SENDERS[role, side], case.command, chat=BEIHU_GROUP)
    text = "\n".join(e.text for e in effects if isinstance(e, Reply))
    refusal = expected_refusal(case, role, side)
    if refusal is None:
        assert "不在" not in text and "权限" not in text and "不能操作" not in text, text
        if case.kind == "take part":
            assert stored(bot) != before  # the sign-in, leave, reflection or receipt was kept
        return
    assert refusal in text, text
    assert stored(bot) == before
    assert not [e for e in effects if isinstance(e, Broadcast | Direct)]


def test_outsider_records_from_before_are_not_counted_listed_or_nudged(bot: Bot) -> None:
    # A sign-in of 阮思敏 (南山) on 北湖's A1, stored before the boundary existed.
    ruan = bot.storage.roster.member_by_userid("ns_t")
    assert ruan is not None
    bot.storage.submissions.sign_in(1, ruan.id, at=bot.clock.now(), status=SigninStatus.LATE)
    summary = bot.reply("bh_lead", "汇总 本周", chat=BEIHU_GROUP)
    assert "北湖一中" in summary and "南山中学" not in summary
    effects = bot.say("bh_lead", "催交 A1", chat=BEIHU_GROUP)
    mentioned = [uid for e in effects if isinstance(e, Broadcast) for uid in e.mention]
    assert sorted(mentioned) == ["bh_lead", "bh_t"]


def test_proxy_signin_names_the_outsider_and_signs_the_others(bot: Bot) -> None:
    out = bot.reply("bh_lead", "代签 A1 王北 阮思敏", chat=BEIHU_GROUP)
    assert "已为 王北 代签 A1" in out
    assert "阮思敏(南山中学) 不在 A1 的参与范围内（A1 是北湖联盟的活动）" in out
    assert "名册里没有" not in out
    ruan = bot.storage.roster.member_by_userid("ns_t")
    assert ruan is not None and ruan.id not in bot.storage.submissions.signins(1)


def test_a_notice_to_everyone_reaches_every_alliance(bot: Bot) -> None:
    bot.storage.notices.create(
        alliance_id=None,
        body="全区教研暂停一次",
        needs_ack=True,
        author_id=None,
        created_at=bot.clock.now(),
        publish_at=bot.clock.now(),
        status=NoticeStatus.PUBLISHED,
    )
    assert "已确认收到通知 N2" in bot.reply("ns_t", "收到 N2", chat=NANSHAN_GROUP)
    assert "已确认收到通知 N2" in bot.reply("bh_t", "收到 N2", chat=BEIHU_GROUP)
    # A leader sees their own alliance's part of it, nobody else's.
    out = bot.reply("ns_lead", "回执 N2", chat=None)
    assert "已确认 1/2" in out and "南山中学" in out and "北湖一中" not in out
    assert "林北" not in out and "陈南" in out
    everything = bot.reply("staff1", "回执 N2", chat=None)
    assert "已确认 2/4" in everything and "北湖一中" in everything
    # Another alliance's own notice stays out of reach.
    assert "不能操作「北湖联盟」" in bot.reply("ns_lead", "回执 N1", chat=None)


def test_summary_of_another_alliances_school(bot: Bot) -> None:
    out = bot.reply("ns_lead", "汇总 本周 北湖一中", chat=NANSHAN_GROUP)
    assert out == "北湖一中 不在南山联盟内，你只能查看本联盟学校的情况。"
    staff = bot.reply("staff1", "汇总 本周 北湖一中", chat=NANSHAN_GROUP)
    assert staff.startswith("「北湖联盟」本周") and "汇总 · 北湖一中" in staff
    assert "· 北湖一中：签到 0/2" in staff
