"""The weekly digest: exact numbers, privacy of names, safe markdown, WeCom size limits."""

from __future__ import annotations

from datetime import timedelta

from bot.text.dates import parse_period
from bot.text.split import MARKDOWN_MAX_BYTES
from reports.digest import build_digest
from storage.models import Role
from storage.reviews import ReviewParts

from .conftest import NOW, WEST_SECRET, District, at


def week_digest(d: District, **kw: object):  # type: ignore[no-untyped-def]
    period = parse_period("本周", NOW)
    assert period is not None
    return build_digest(d.storage, d.east, period, NOW, **kw)  # type: ignore[arg-type]


def lines_of(digest) -> list[str]:  # type: ignore[no-untyped-def]
    return "\n".join(digest.group_parts).splitlines()


def test_rates_late_and_leave_per_school_are_exact_and_sorted(district: District) -> None:
    digest = week_digest(district)
    lines = lines_of(digest)
    one = "> 东部一小：签到 4/5 80% · 反思 3/5 60% · 迟到/补签1，请假1"
    two = "> 东部二小：签到 2/3 67% · 反思 2/3 67% · 迟到/补签1，请假1"
    assert one in lines and two in lines
    assert lines.index(one) < lines.index(two)  # higher sign-in rate first


def test_totals_and_change_from_previous_week(district: District) -> None:
    lines = lines_of(week_digest(district))
    assert "开展活动 2 次（上期 1 次），应参加 8 人次（不含请假 2 人次）" in lines
    # Previous week: 5/5 signed, 1/5 reflected. 5/8 = 62.5% rounds half up to 63%.
    assert "签到率 **6/8 75%**，较上期↓25个百分点" in lines
    assert "反思提交率 **5/8 63%**，较上期↑43个百分点" in lines
    assert "迟到/补签 2 人次，请假 2 人次" in lines


def test_reflection_rate_names_deadlines_still_open_for_missing_reflections(
    district: District,
) -> None:
    storage, east = district.storage, district.east
    held = storage.activities.in_alliances([east.id], starts_from=at(11, 23), starts_before=NOW)
    by_title = {a.title: a for a in held}
    storage.activities.update(by_title["秋天的雨"].id, at=NOW, reflection_due=at(11, 28, 23, 59))
    storage.activities.update(
        by_title["单元整体设计"].id, at=NOW, reflection_due=at(11, 29, 23, 59)
    )
    assert (
        "反思提交率 **5/8 63%**（A1、A2 的反思尚未截止，最晚 11月29日(周日) 23:59 截止），"
        "较上期↑43个百分点"
    ) in lines_of(week_digest(district))

    # 李强 was the one owing A2 a reflection: with it in, only A1 is still being waited for.
    storage.submissions.submit_reflection(
        by_title["单元整体设计"].id, district.people["李强"].id, "补一篇反思。" * 6, at=NOW
    )
    assert (
        "反思提交率 **6/8 75%**（A1 反思截止 11月28日(周六) 23:59，尚未截止），较上期↑55个百分点"
    ) in lines_of(week_digest(district))


def test_activities_held_and_coming_week(district: District) -> None:
    lines = lines_of(week_digest(district))
    assert "> 11月24日(周二) 同课异构「秋天的雨」 · 东部一小" in lines
    assert "> 11月26日(周四) 集体备课「单元整体设计」 · 东部二小" in lines
    assert "> 12月1日(周二) 14:00 A4 读书分享「《给教师的建议》」 · 东部一小会议室" in lines
    text = "\n".join(lines)
    assert "第八单元" not in text  # 12-10 is more than a week away
    assert "搭船的鸟" not in text  # last week's activity is only in the comparison


def test_keywords_and_excerpts_follow_the_documented_rules(district: District) -> None:
    lines = lines_of(week_digest(district))
    keywords = lines[lines.index("**反思关键词**（共 5 篇）") + 1]
    assert keywords.startswith("学习任务（4篇）、单元整体（3篇）、小组合作（3篇）")
    for generic in ("学生", "教学", "老师", "课堂", "我们", "一个", "这节课"):
        assert f"{generic}（" not in keywords
    quotes = [line for line in lines if line.startswith("> “")]
    # The two longest reflections, from different schools: 王芳 (一小) then 张敏 (二小),
    # each quoted by its whole leading sentences up to 80 characters.
    assert len(quotes) == 2
    assert (
        quotes[0].startswith("> “本次集体备课围绕单元整体设计展开。")
        and "——王芳（东部一小）" in quotes[0]
    )
    assert quotes[1].endswith("——张敏（东部二小）")
    for quote in quotes:
        said = quote[len("> “") : quote.index("”——")]
        assert len(said) <= 80 and said.endswith("。")


def test_open_notices_count_only_this_alliance(district: District) -> None:
    lines = lines_of(week_digest(district))
    assert any(line.startswith("> N1「请各校周五前上报") and "已确认 2/5" in line for line in lines)
    # N4 went to everyone; 孙丽 (west) confirmed, nobody in the east did.
    assert any(line.startswith("> N4「") and "已确认 0/5" in line for line in lines)
    assert not any("西部联盟专用通知" in line for line in lines)  # N2 is the west's
    assert not any(line.startswith("> N3") for line in lines)  # no receipt asked


def section(lines: list[str], heading: str) -> list[str]:
    """The lines of one section, from its heading to the blank line after it."""
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start:end]


def test_new_and_recommended_resources_of_the_week(district: District) -> None:
    lines = section(lines_of(week_digest(district)), "**学习资源**")
    assert lines == [
        # R1 and R2 are new this week; R1 and the district's R3 (older) were recommended.
        "**学习资源**（本期新增 2 条，推荐 2 条）",
        "> R3 「《给教师的建议》共读书目」 ⭐推荐",
        "> R1 「《秋天的雨》教学设计」 ⭐推荐",
        "> R2 课件「习作单元整体教学 PPT」",
        "发送「资源」查看最新资源，「资源 编号」查看详情。",
    ]
    text = "\n".join(lines)
    assert "搭船的鸟" not in text  # last week's
    for sharer in ("王芳", "张敏", "周敏", "刘洋"):
        assert sharer not in text


def test_resource_titles_cannot_break_the_markdown_and_long_lists_are_cut(
    district: District,
) -> None:
    storage, east = district.storage, district.east
    evil = "**必看**[点我](http://x) <@all>课件"
    link = "https://pan.example.com/s/x"
    storage.resources.share(
        alliance_id=east.id, title=evil, kind="课件", at=at(11, 27, 13), url=link
    )
    for i in range(4):
        storage.resources.share(
            alliance_id=east.id,
            title=f"第{i + 1}课时学习单",
            kind="资料",
            at=at(11, 27, 9 + i),
            url=link,
        )
    lines = section(lines_of(week_digest(district)), "**学习资源**")
    assert lines[0] == "**学习资源**（本期新增 7 条，推荐 2 条）"
    [line] = [line for line in lines if "点我" in line]
    assert line == "> R6 「＊＊必看＊＊［点我］（http://x） ＜＠all＞课件」"
    assert len([line for line in lines if line.startswith("> R")]) == 5
    assert "> ……另有 3 条" in lines  # 8 different resources, 5 listed


def test_open_feedback_requests_count_schools_and_name_no_people(district: District) -> None:
    lines = section(lines_of(week_digest(district)), "**进行中的征集**")
    assert lines == [
        "**进行中的征集**",
        # Soonest deadline first; the district's F2 counts only this alliance's two schools.
        "> F2「课例研讨中遇到的问题」已于 11月26日(周四) 17:00 截止，已反馈 1/2 校，未反馈：东部一小",
        "> F1「各校本学期校本教研主题」11月30日(周一) 17:00 截止，已反馈 1/2 校，未反馈：东部二小",
        "请未反馈学校的业务领导或联系人发送「反馈 征集编号 正文」。",
    ]
    text = "\n".join(lines_of(week_digest(district)))
    assert "上学期教研工作总结" not in text  # F4 is closed
    for person in ("陈静", "马丽"):
        assert person not in text
    assert not any(name in line for line in lines for name in ("刘洋", "张敏", "王芳"))


def test_feedback_answered_by_every_school_shows_no_missing_list(district: District) -> None:
    storage = district.storage
    schools = {s.name: s.id for s in storage.roster.schools()}
    people = district.people
    storage.feedback.answer(
        1, schools["东部二小"], member_id=people["张敏"].id, body="识字写字", at=at(11, 27, 10)
    )
    storage.feedback.answer(
        2, schools["东部一小"], member_id=people["刘洋"].id, body="提问太碎", at=at(11, 27, 10)
    )
    lines = section(lines_of(week_digest(district)), "**进行中的征集**")
    assert lines == [
        "**进行中的征集**",
        "> F2「课例研讨中遇到的问题」已于 11月26日(周四) 17:00 截止，已反馈 2/2 校",
        "> F1「各校本学期校本教研主题」11月30日(周一) 17:00 截止，已反馈 2/2 校",
    ]


def test_names_of_the_missing_go_privately_to_the_leader_only(district: District) -> None:
    digest = week_digest(district)
    group = "\n".join(digest.group_parts)
    for name in ("赵磊", "李强", "刘洋"):
        assert name not in group
    assert list(digest.private_notes) == ["lead1"]
    note = digest.private_notes["lead1"]
    assert "A1 同课异构「秋天的雨」11月24日(周二)\n未签到 1 人：东部二小：赵磊\n" in note
    assert "未交反思 2 人：东部一小：刘洋；东部二小：赵磊" in note
    assert "A2 集体备课「单元整体设计」11月26日(周四)\n未签到 1 人：东部一小：李强" in note
    assert "张敏" not in note  # on leave for A1, complete for A2


def test_alliance_without_leaders_sends_names_to_the_nearest_leaders_above(
    district: District,
) -> None:
    roster = district.storage.roster
    roster.update_member(district.people["刘洋"].id, role=Role.TEACHER)
    boss = roster.add_member(
        "区负责人", at=at(11, 1), role=Role.LEADER, alliance_id=district.district.id, userid="dl"
    )
    digest = week_digest(district)
    assert list(digest.private_notes) == [boss.userid]


def test_nothing_of_another_alliance_appears(district: District) -> None:
    digest = week_digest(district)
    text = "\n".join([*digest.group_parts, *digest.private_notes.values()])
    for secret in (
        "西部专属研讨",
        WEST_SECRET[:6],
        "孙丽",
        "西城小学",
        "陈静",
        "西部专属资源包",
        "西部专属征集",
    ):
        assert secret not in text


def test_user_text_cannot_break_the_markdown(district: District) -> None:
    evil = '**粗体** [点我](http://evil.example) <font color="warning">红</font> <@all> `x`\n# 标题'
    district.storage.activities.update(1, at=at(11, 27), title=evil, place="[地点](http://x)")
    digest = week_digest(district)
    text = "\n".join(digest.group_parts)
    line = next(line for line in text.splitlines() if "点我" in line)
    for markup in ("**粗体", "[点我]", "](http", "<font", "<@all>", "`x`"):
        assert markup not in line
    assert not any(line.startswith("# 标题") for line in text.splitlines())
    assert "「＊＊粗体＊＊ ［点我］（http://evil.examp…」" in line  # cut at 30 characters


def test_every_part_fits_wecom_markdown_limit_and_nothing_is_lost(district: District) -> None:
    storage, east = district.storage, district.east
    roster = storage.roster
    # 60 schools with long names, one teacher each, all invited to one more activity.
    for i in range(60):
        school = roster.ensure_school(f"尚志市第{i + 1}实验小学附属教育集团分校", east.id)
        roster.add_member(f"老师{i}", at=at(11, 1), school_id=school.id, alliance_id=east.id)
    for i in range(20):
        storage.activities.create(
            alliance_id=east.id,
            kind="听评课",
            title=f"第{i + 1}次全员听评课活动：阅读教学中的提问设计与学习任务",
            starts_at=at(11, 25, 8) + timedelta(minutes=i),
            ends_at=at(11, 25, 10),
            signin_opens_at=at(11, 25, 7),
            created_at=at(11, 1),
        )
    digest = week_digest(district, with_chart=False)
    assert len(digest.group_parts) >= 2
    for number, part in enumerate(digest.group_parts, start=1):
        assert len(part.encode("utf-8")) <= MARKDOWN_MAX_BYTES
        heading = part.splitlines()[0]
        assert heading == "## 东部联盟 · 教研周报"
        if number > 1:
            assert part.splitlines()[1].endswith(f"（续{number}）")
    text = "\n".join(digest.group_parts)
    for i in range(60):
        assert text.count(f"> 尚志市第{i + 1}实验小学附属教育集团分校：") == 1
    assert "> ……另有 7 次" in text  # 22 activities held, 15 listed


def test_digest_comes_with_a_rates_chart(district: District) -> None:
    digest = week_digest(district)
    assert digest.chart_png is not None and digest.chart_png.startswith(b"\x89PNG")
    assert week_digest(district, with_chart=False).chart_png is None


def test_empty_week_says_so(district: District) -> None:
    period = parse_period("11月1日~11月10日", NOW)
    assert period is not None
    digest = build_digest(district.storage, district.east, period, NOW)
    text = "\n".join(digest.group_parts)
    assert "这段时间没有已开展的活动。" in text
    assert digest.private_notes == {} and digest.chart_png is None
    assert "教研汇总" in text  # not a 7-day period


def test_review_points_under_weaknesses_and_suggestions(district: District) -> None:
    assert "**听评课**" not in "\n".join(week_digest(district).group_parts)
    storage, people, east = district.storage, district.people, district.east
    written = [
        ("李强", "小组讨论时间偏短，板书略显凌乱", "多给学生展示交流的机会"),
        ("张敏", "小组讨论流于形式", "板书设计再精炼一些，多给学生展示机会"),
        ("赵磊", "朗读指导不够，小组讨论没有分工", "课堂评价语更具体，多让学生展示"),
    ]
    for name, weakness, suggestion in written:
        storage.reviews.observe(
            alliance_id=east.id,
            observer_id=people[name].id,
            teacher_id=people["王芳"].id,
            lesson_date=at(11, 25).date(),
            topic="秋天的雨",
            subject="语文",
            parts=ReviewParts(strengths="导入自然", weaknesses=weakness, suggestions=suggestion),
            at=at(11, 25, 16),
        )
    text = "\n".join(week_digest(district).group_parts)
    assert "**听评课**（评课 0 条，听课 3 节）" in text
    weak = next(line for line in text.splitlines() if line.startswith("常提的不足："))
    hope = next(line for line in text.splitlines() if line.startswith("常提的建议："))
    assert weak.startswith("常提的不足：小组讨论（3条）")
    assert "展示（3条）" in hope and "导入" not in weak + hope  # strengths are not points
    for name in ("李强", "张敏", "赵磊"):
        assert name not in text.split("**听评课**")[1].split("**")[0]
