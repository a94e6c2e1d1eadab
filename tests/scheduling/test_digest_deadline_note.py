"""The digest says when reflections are still being collected, so a low rate reads right."""

from __future__ import annotations

from tests.fakes.small_alliance import GROUP
from tests.scheduling.conftest import HarnessFactory, local
from tests.scheduling.test_reminders import item_of


def rate_line(digest: str) -> str:
    [line] = [line for line in digest.splitlines() if line.startswith("反思提交率")]
    return line


async def test_reflection_rate_notes_an_open_deadline_until_it_passes(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(start=local("周二", "09:00"))
    await h.say("lead1", "发起活动 周二 14:00-16:00 集体备课 地点:东部一小")
    await h.advance(local("周二", "14:10"))
    await h.say("t1", "签到 A1")
    [thanks] = await h.say(
        "t1",
        "反思 A1 今天的集体备课让我看到小组合作的分工还要更明确，"
        "评价语言也要更具体，下次先设计好学习任务。",
    )
    assert thanks.message.text.startswith("已收到")

    # Friday 17:00: reflections are due Friday 23:59 (three days after the activity).
    sent = await h.advance(local("周五", "18:00"))
    [friday] = [s for s in sent if s.to == GROUP and item_of(s).startswith("digest")]
    assert rate_line(friday.message.text) == (
        "反思提交率 **1/5 20%**（A1 反思截止 3月8日(周五) 23:59，尚未截止），上期无可比数据"
    )

    # Saturday, the deadline has passed: the same rate, now without the note.
    await h.advance(local("周六", "09:00"))
    answer = await h.say("lead1", "周报 现在")
    assert rate_line(answer[1].message.text) == "反思提交率 **1/5 20%**，上期无可比数据"
