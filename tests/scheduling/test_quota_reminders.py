"""听课任务: teachers behind on the term's quota hear once, three weeks before the term ends.

The spring term of bot.text.dates runs to July 31, so 2030's reminder is due on Thursday
July 11 at 09:00. 东部联盟 asks 2 lessons per teacher; 王芳 has recorded 2, 李强 1.
"""

from __future__ import annotations

from datetime import datetime

from tests.fakes.small_alliance import GROUP
from tests.scheduling.conftest import SHANGHAI, Harness, HarnessFactory, Sent

PARTS = "优点:导入自然 不足:讨论偏短 建议:多展示"


def quota_reminders(sent: list[Sent]) -> list[tuple[str, str]]:
    return sorted(
        (f"{s.at.astimezone(SHANGHAI):%m-%d %H:%M}", s.to)
        for s in sent
        if (s.message.dedup_key or "").startswith("quota:")
    )


async def set_up(make_harness: HarnessFactory, *, private: bool = True) -> Harness:
    h = make_harness(private=private, start=datetime(2030, 7, 8, 8, 0, tzinfo=SHANGHAI))
    await h.say("lead1", "设置听课任务 每学期 2")
    await h.say("t1", f"听课 7月1日 李强 《秋天的雨》 {PARTS}", chat=None)
    await h.say("t1", f"听课 7月2日 张敏 《搭船的鸟》 {PARTS}", chat=None)
    await h.say("t2", f"听课 7月3日 王芳 《圆的面积》 {PARTS}", chat=None)
    return h


async def test_those_behind_hear_once_privately_with_their_numbers(
    make_harness: HarnessFactory,
) -> None:
    h = await set_up(make_harness)
    sent = await h.advance(datetime(2030, 7, 31, 12, 0, tzinfo=SHANGHAI))
    # 王芳 (t1) is done; 孙丽 (t9) is in another alliance; staff have no quota.
    assert quota_reminders(sent) == [
        ("07-11 09:00", "@lead1"),
        ("07-11 09:00", "@t2"),
        ("07-11 09:00", "@t3"),
        ("07-11 09:00", "@t4"),
    ]
    to_li = next(
        s for s in sent if s.to == "@t2" and (s.message.dedup_key or "").startswith("quota:")
    )
    assert "1/2 节" in to_li.message.text or "已记录 1 节" in to_li.message.text
    assert "还差 1 节" in to_li.message.text
    assert "7月31日" in to_li.message.text


async def test_in_a_group_those_behind_are_mentioned_without_numbers(
    make_harness: HarnessFactory,
) -> None:
    h = await set_up(make_harness, private=False)
    sent = await h.advance(datetime(2030, 7, 12, 12, 0, tzinfo=SHANGHAI))
    [group] = [s for s in sent if (s.message.dedup_key or "").startswith("quota:")]
    assert group.to == GROUP
    assert sorted(group.message.mention) == ["lead1", "t2", "t3", "t4"]
    assert "每人 2 节" in group.message.text and "李强" not in group.message.text


async def test_no_reminder_after_the_quota_is_removed(make_harness: HarnessFactory) -> None:
    h = await set_up(make_harness)
    await h.say("lead1", "设置听课任务 关")
    sent = await h.advance(datetime(2030, 7, 12, 12, 0, tzinfo=SHANGHAI))
    assert quota_reminders(sent) == []
