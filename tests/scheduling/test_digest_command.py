"""周报: who may set it, and what the alliance then receives, and when."""

from __future__ import annotations

import pytest

from tests.fakes.small_alliance import GROUP, WEST_GROUP
from tests.scheduling.conftest import SHANGHAI, HarnessFactory, Sent, local
from tests.scheduling.test_reminders import item_of


def digests(sent: list[Sent]) -> list[tuple[str, str]]:
    return [(s.when(SHANGHAI), s.to) for s in sent if item_of(s).startswith("digest")]


@pytest.mark.parametrize(
    ("who", "chat", "text", "refusal"),
    [
        ("t1", GROUP, "周报", "权限"),
        ("t1", GROUP, "周报 现在", "权限"),
        ("t1", None, "周报 关", "权限"),
        ("lead2", GROUP, "周报 关", "只能管理本联盟"),
    ],
)
async def test_teachers_and_other_alliances_leaders_are_refused(
    make_harness: HarnessFactory, who: str, chat: str | None, text: str, refusal: str
) -> None:
    h = make_harness()
    [reply] = await h.say(who, text, chat)
    assert refusal in reply.message.text
    east = h.storage.roster.alliance_by_name("东部联盟")
    assert east is not None and east.digest_enabled
    assert digests(await h.advance(local("周五", "18:00"))) == [
        ("周五 17:00", GROUP),
        ("周五 17:00", WEST_GROUP),
    ]


async def test_status_shows_the_schedule_and_the_next_digest(make_harness: HarnessFactory) -> None:
    h = make_harness()
    [reply] = await h.say("lead1", "周报")
    assert "每周五 17:00" in reply.message.text
    assert "3月8日(周五) 下午 17:00" in reply.message.text


@pytest.mark.parametrize(
    ("command", "reply_has", "expected"),
    [
        ("周报 周一 8:00", "每周一 08:00", [("周一 08:00", GROUP)]),
        ("周报 每周六上午9点", "每周六 09:00", [("周六 09:00", GROUP)]),
        ("周报 16:30", "每周五 16:30", [("周五 16:30", GROUP)]),
        ("周报 周五 17:00", "每周五 17:00", [("周五 17:00", GROUP)]),
        ("周报 关", "已关闭", []),
    ],
)
async def test_leader_changes_when_the_digest_comes(
    make_harness: HarnessFactory, command: str, reply_has: str, expected: list[tuple[str, str]]
) -> None:
    h = make_harness(start=local("周二", "09:00"))
    [reply] = await h.say("lead1", command)
    assert reply_has in reply.message.text

    sent = await h.advance(local("周一", "12:00", week=1))

    east = [entry for entry in digests(sent) if entry[1] == GROUP]
    assert east == expected
    assert ("周五 17:00", WEST_GROUP) in digests(sent)  # other alliances are not affected


async def test_switching_back_on_resumes_next_week(make_harness: HarnessFactory) -> None:
    h = make_harness()
    await h.say("lead1", "周报 关")
    sent = await h.advance(local("周六", "10:00"))
    [reply] = await h.say("staff1", "周报 开")  # 教研员 may do it for any alliance
    assert "已开启" in reply.message.text
    sent += await h.advance(local("周六", "10:00", week=1))

    assert [e for e in digests(sent) if e[1] == GROUP] == [("周五 17:00", GROUP)]
    [friday] = [s for s in sent if s.to == GROUP and item_of(s).startswith("digest")]
    assert friday.at == local("周五", "17:00", week=1)


async def test_digest_now_in_the_group_goes_to_the_groups_at_once(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(start=local("周三", "10:00"))
    await h.say("lead1", "发起活动 周三 14:00-16:00 集体备课 地点:东部一小")
    await h.advance(local("周三", "14:10"))
    await h.say("t1", "签到 A1")
    await h.advance(local("周四", "09:00"))

    answer = await h.say("lead1", "周报 现在")

    # Group parts to the group; the names of the missing only privately to the leader.
    assert [s.to for s in answer] == [GROUP, GROUP, "@lead1"]
    assert "马上生成" in answer[0].message.text
    digest = answer[1].message.text
    assert digest.startswith("## 东部联盟 · 教研周报")
    assert "集体备课" in digest and "东部一小：签到" in digest and "1/3 33%" in digest
    assert "王芳" not in digest  # never names in a group
    assert "王芳" in answer[2].message.text
    # The regular Friday digest still comes.
    later = await h.advance(local("周五", "18:00"))
    assert ("周五 17:00", GROUP) in digests(later)


async def test_digest_now_in_private_is_a_preview_for_the_asker(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness()
    answer = await h.say("lead1", "周报 现在", chat=None)
    assert [s.to for s in answer] == ["@lead1", "@lead1"]
    assert "预览" in answer[0].message.text
    assert answer[1].message.text.startswith("## 东部联盟 · 教研周报")


async def test_unclear_schedule_gets_a_hint(make_harness: HarnessFactory) -> None:
    h = make_harness()
    [reply] = await h.say("lead1", "周报 随便")
    assert "周报 周五 17:00" in reply.message.text
    east = h.storage.roster.alliance_by_name("东部联盟")
    assert east is not None and (east.digest_weekday, east.digest_time) == (4, "17:00")
