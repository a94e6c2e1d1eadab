"""The alliance boundary: only an activity's (or notice's) audience takes part, and leaders act
only on their own alliance tree. Two alliances side by side, every command × role × side,
through the real dispatcher; a refusal names the activity's alliance and stores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.clock import FakeClock
from bot.core.messages import Broadcast, Channel, Direct, Reply
from bot.routing.context import BotConfig
from bot.routing.router import Dispatcher
from handlers import build_router
from storage import Storage
from storage.models import ActivityTarget, NoticeStatus, Role, SigninStatus

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
def bot(db_target: Path | str) -> Iterator[Bot]:
    """北湖联盟 (北湖一中: leader 林北 bh_lead, 王北 bh_t) and 南山联盟 (南山中学: leader
    陈南 ns_lead, 阮思敏 ns_t); staff 周敏; admin boss. 北湖's A1 runs 10:00–12:00 today and
    its notice N1 asks for confirmation."""
    storage = Storage.open(db_target)
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
    yield Bot(storage, clock, dispatcher)
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
    assert "通知 N2 回执（本联盟部分）：已确认 1/2" in out
    assert "南山中学" in out and "北湖一中" not in out
    assert "林北" not in out and "陈南" in out
    everything = bot.reply("staff1", "回执 N2", chat=None)
    assert "通知 N2 回执：已确认 2/4" in everything and "北湖一中" in everything
    # Another alliance's own notice stays out of reach.
    assert "不能操作「北湖联盟」" in bot.reply("ns_lead", "回执 N1", chat=None)


def test_summary_of_another_alliances_school(bot: Bot) -> None:
    out = bot.reply("ns_lead", "汇总 本周 北湖一中", chat=NANSHAN_GROUP)
    assert out == "北湖一中 不在南山联盟内，你只能查看本联盟学校的情况。"
    staff = bot.reply("staff1", "汇总 本周 北湖一中", chat=NANSHAN_GROUP)
    assert staff.startswith("「北湖联盟」本周") and "汇总 · 北湖一中" in staff
    assert "· 北湖一中：签到 0/2" in staff


def add_teacher(bot: Bot, name: str, school_name: str, userid: str | None) -> None:
    beihu = bot.storage.roster.alliance_by_name("北湖联盟")
    assert beihu is not None
    school = bot.storage.roster.ensure_school(school_name, beihu.id)
    bot.storage.roster.add_member(
        name, at=bot.clock.now(), school_id=school.id, alliance_id=beihu.id, userid=userid
    )


def signed_names(bot: Bot) -> list[str]:
    roster = bot.storage.roster
    return sorted(
        m.name + (m.userid or "")
        for m in map(roster.member, bot.storage.submissions.signins(1))
        if m
    )


def test_a_bare_signin_takes_the_senders_activity_not_another_schools(bot: Bot) -> None:
    """Another school's activity open at the same time is not the sender's to choose from."""
    # With nothing of their own open, an outsider is told whose activity it is.
    assert "A1 是北湖联盟的活动" in bot.reply("ns_t", "签到", chat=BEIHU_GROUP)
    add_teacher(bot, "李二", "北湖二中", "bh2_t")
    beihu = bot.storage.roster.alliance_by_name("北湖联盟")
    erzhong = bot.storage.roster.find_school("北湖二中")
    assert beihu is not None and erzhong is not None
    now = bot.clock.now()
    other = bot.storage.activities.create(
        alliance_id=beihu.id,
        kind="听课",
        title="二中听课",
        starts_at=now,
        ends_at=now + timedelta(hours=1),
        signin_opens_at=now - timedelta(minutes=30),
        created_at=now,
    )
    bot.storage.teams.set_activity_target(other.id, ActivityTarget(school_ids=[erzhong.id]))

    assert "王北 已签到 A1，记为迟到" in bot.reply("bh_t", "签到", chat=BEIHU_GROUP)
    # 二中's teacher is in both audiences: that choice is real, so it is asked.
    assert "现在有多个活动可以签到（A1、A2）" in bot.reply("bh2_t", "签到", chat=BEIHU_GROUP)


def test_proxy_signin_tells_namesakes_apart(bot: Bot) -> None:
    add_teacher(bot, "王北", "北湖二中", "bh_t2")
    out = bot.reply("bh_lead", "代签 A1 王北", chat=BEIHU_GROUP)
    assert (
        out
        == "有多位「王北」：王北(北湖一中)、王北(北湖二中)。请写成 姓名(学校)，同校重名请写企业微信账号。"
    )
    assert signed_names(bot) == []
    assert "已为 王北 代签 A1" in bot.reply("bh_lead", "代签 A1 王北（北湖二中）", chat=BEIHU_GROUP)
    assert signed_names(bot) == ["王北bh_t2"]
    assert "已为 王北 代签 A1" in bot.reply("bh_lead", "代签 A1 bh_t", chat=BEIHU_GROUP)
    assert signed_names(bot) == ["王北bh_t", "王北bh_t2"]


def test_proxy_signin_of_namesakes_at_one_school_asks_for_the_account(bot: Bot) -> None:
    add_teacher(bot, "王北", "北湖一中", "bh_t3")
    out = bot.reply("bh_lead", "代签 A1 王北(北湖一中)", chat=BEIHU_GROUP)
    assert "王北(北湖一中)（账号 bh_t）、王北(北湖一中)（账号 bh_t3）" in out
    assert signed_names(bot) == []
    assert "已为 王北 代签 A1" in bot.reply("bh_lead", "代签 A1 bh_t3", chat=BEIHU_GROUP)
    assert signed_names(bot) == ["王北bh_t3"]


def test_rebinding_a_group_needs_confirmation(bot: Bot) -> None:
    binding = bot.storage.chats.get(BEIHU_GROUP)
    out = bot.reply("staff1", "绑定 南山联盟", chat=BEIHU_GROUP)
    assert (
        out
        == "本群目前绑定的是「北湖联盟」，没有改动。如确定改绑到「南山联盟」，请发送：绑定 南山联盟 确认"
    )
    assert bot.storage.chats.get(BEIHU_GROUP) == binding
    assert "已经绑定到「北湖联盟」，无需重复绑定" in bot.reply(
        "staff1", "绑定 北湖联盟", chat=BEIHU_GROUP
    )
    assert "已把本群绑定到「南山联盟」" in bot.reply(
        "staff1", "绑定 南山联盟 确认", chat=BEIHU_GROUP
    )
    rebound = bot.storage.chats.get(BEIHU_GROUP)
    nanshan = bot.storage.roster.alliance_by_name("南山联盟")
    assert rebound is not None and nanshan is not None and rebound.alliance_id == nanshan.id


def test_claiming_a_roster_person_tells_their_leader_who_can_undo_it(bot: Bot) -> None:
    add_teacher(bot, "郑北", "北湖一中", None)
    effects = bot.say("stranger", "我是 郑北 北湖一中", chat=None)
    assert "绑定成功：郑北" in "\n".join(e.text for e in effects if isinstance(e, Reply))
    told = [e for e in effects if isinstance(e, Direct)]
    assert [d.userids for d in told] == [["bh_lead"]]  # 北湖's leader, not 南山's
    assert "stranger" in told[0].text and "解绑 郑北(北湖一中)" in told[0].text
    # 南山's leader cannot undo it; 北湖's can, in one command.
    assert "不能操作「北湖联盟」" in bot.reply("ns_lead", "解绑 郑北(北湖一中)", chat=None)
    assert bot.storage.roster.member_by_userid("stranger") is not None
    assert "已解除 郑北(北湖一中) 与企业微信账号 stranger 的绑定" in bot.reply(
        "bh_lead", "解绑 郑北(北湖一中)", chat=None
    )
    assert bot.storage.roster.member_by_userid("stranger") is None
    assert "绑定成功：郑北" in bot.reply("zheng", "我是 郑北 北湖一中", chat=None)


def test_a_bound_roster_person_cannot_be_claimed_by_another_account(bot: Bot) -> None:
    out = bot.reply("stranger", "我是 王北 北湖一中", chat=None)
    assert out == (
        "「王北(北湖一中)」已绑定了另一个企业微信账号，不能再绑定。"
        "如果这是你本人，请联系北湖联盟负责人处理。"
    )
    assert bot.storage.roster.member_by_userid("stranger") is None
    wang = bot.storage.roster.member_by_userid("bh_t")
    assert wang is not None and wang.name == "王北"
