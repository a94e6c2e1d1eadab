"""未签到 / 未交 / 催交 / 汇总: what leaders and staff ask about attendance and reflections."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from bot.core.messages import Broadcast, Direct, Effect, Reply
from bot.routing.context import Context, Hint
from bot.routing.permissions import Action
from bot.routing.router import Args, Router
from bot.text.dates import Period, parse_period
from handlers import format as fmt
from handlers.exports import DASHBOARD_WORDS, dashboard_link
from handlers.lookup import ACTIVITY_CODE, activity_by_code, take_code
from reports.review_sheets import reviews_by_school
from storage.attendance import (
    ActivityRoll,
    Roll,
    SchoolCounts,
    count_by_group,
    count_by_school,
    roll_of,
)
from storage.models import Activity, Member, School, Tier

router = Router("summaries")

# Optional word of 汇总: break the rates down by team or by 梯队 instead of by school.
BREAKDOWNS = {"按团队": "团队", "分团队": "团队", "按梯队": "梯队", "分梯队": "梯队"}
NO_TEAM = "（未加入团队）"
NO_TIER = "（未分梯队）"


def _roll_for(ctx: Context, text: str, action: Action, example: str) -> ActivityRoll:
    number, _ = take_code(text, ACTIVITY_CODE)
    if number is None:
        raise Hint(f"请写活动编号，例如：{example}")
    activity = activity_by_code(ctx, number)
    ctx.require_reach(action, activity)
    return roll_of(ctx.storage, activity)


def _missing_report(
    ctx: Context,
    roll: ActivityRoll,
    what: str,
    pick: Callable[[SchoolCounts], list[Member]],
) -> list[Effect]:
    """Counts per school for everyone; names only in a private reply."""
    activity = roll.activity
    schools = sorted(roll.by_school().values(), key=lambda c: (-len(pick(c)), c.school))
    total = sum(len(pick(c)) for c in schools)
    head = f"{activity.code}「{activity.title}」{what} {total} 人"
    if total == 0:
        return [Reply(text=f"{activity.code}「{activity.title}」没有{what}的老师，全部完成。")]
    counts = [f"· {c.school}：{len(pick(c))} 人" for c in schools if pick(c)]
    names = [f"· {c.school}：{'、'.join(m.name for m in pick(c))}" for c in schools if pick(c)]
    if ctx.incoming.in_group:
        return [
            Reply(text="\n".join([head + "（名单已私信发给你）：", *counts])),
            Reply(text="\n".join([f"{head}，名单：", *names]), private=True),
        ]
    return [Reply(text="\n".join([head + "：", *names]))]


@router.command(
    "未签到",
    aliases=("没签到", "缺勤", "wqd"),
    action=Action.VIEW_NAMES,
    summary="查看活动未签到的人（群里只显示人数，名单私信）",
    usage="未签到 A编号",
    examples=("未签到 A7",),
)
def missing_signins(ctx: Context, args: Args) -> list[Effect]:
    roll = _roll_for(ctx, args.text, Action.VIEW_NAMES, "未签到 A7")
    return _missing_report(ctx, roll, "未签到", lambda c: c.missing_signin)


@router.command(
    "未交",
    aliases=("未交反思", "没交", "wj"),
    action=Action.VIEW_NAMES,
    summary="查看活动未交反思的人（群里只显示人数，名单私信）",
    usage="未交 A编号",
    examples=("未交 A7",),
)
def missing_reflections(ctx: Context, args: Args) -> list[Effect]:
    roll = _roll_for(ctx, args.text, Action.VIEW_NAMES, "未交 A7")
    return _missing_report(ctx, roll, "未交反思", lambda c: c.missing_reflection)


@router.command(
    "催交",
    aliases=("提醒交反思", "cj"),
    action=Action.REMIND,
    summary="提醒还没交反思的老师（群里@本人，或私信）",
    usage="催交 A编号",
    examples=("催交 A7",),
)
def nudge(ctx: Context, args: Args) -> list[Effect]:
    roll = _roll_for(ctx, args.text, Action.REMIND, "催交 A7")
    activity = roll.activity
    missing = roll.missing_reflection()
    if not missing:
        return [Reply(text=f"{activity.code} 的反思已全部交齐，不用催了。")]
    reachable = [m.userid for m in missing if m.userid]
    today = ctx.now().date().isoformat()
    due = fmt.when(activity.reflection_due, ctx.zone) if activity.reflection_due else "尽快"
    text = (
        f"温馨提醒：{activity.code}「{activity.title}」的教学反思请于 {due} 前提交，"
        f"发送「反思 {activity.code} 正文」即可。已提交的老师请忽略。"
    )
    groups = ctx.storage.chats.for_alliances(ctx.storage.roster.descendants(activity.alliance_id))
    effects: list[Effect] = []
    if groups:
        effects.append(
            Broadcast(
                text=text,
                alliance_ids=ctx.storage.roster.descendants(activity.alliance_id),
                mention=reachable,
                dedup_key=f"nudge:{activity.id}:{today}",
            )
        )
    else:
        effects.append(
            Direct(userids=reachable, text=text, dedup_key=f"nudge:{activity.id}:{today}")
        )
    unreachable = len(missing) - len(reachable)
    tail = f"另有 {unreachable} 人未绑定企业微信，无法提醒。" if unreachable else ""
    effects.append(Reply(text=f"已提醒 {len(reachable)} 位未交反思的老师。{tail}", private=True))
    return effects


def _rate_line(counts: SchoolCounts) -> str:
    counted = counts.counted
    extra = []
    if counts.late:
        extra.append(f"迟到/补签{counts.late}")
    if counts.on_leave:
        extra.append(f"请假{counts.on_leave}")
    tail = f"（{'，'.join(extra)}）" if extra else ""
    return (
        f"· {counts.school}：签到 {counts.signed}/{counted} {fmt.percent(counts.signed, counted)}，"
        f"反思 {counts.reflected}/{counted} {fmt.percent(counts.reflected, counted)}{tail}"
    )


@router.command(
    "汇总",
    aliases=("统计", "总结", "huizong"),
    action=Action.VIEW_SUMMARY,
    summary="按学校（或按团队、按梯队）汇总签到率和反思提交率",
    usage="汇总 [本周|上周|本月|11月|日期~日期] [学校] [按团队|按梯队]",
    examples=(
        "汇总",
        "汇总 上周",
        "汇总 11月 一中",
        "汇总 11月1日~11月30日",
        "汇总 本月 按梯队",
    ),
)
def summary(ctx: Context, args: Args) -> str | list[Effect]:
    if args.text in DASHBOARD_WORDS:  # 汇总 网页: the dashboard link, privately
        return dashboard_link(ctx)
    alliance = ctx.require_alliance()
    ctx.require(Action.VIEW_SUMMARY, alliance)
    words = args.text.split(" ") if args.text else []
    breakdown = next((BREAKDOWNS[w] for w in words if w in BREAKDOWNS), None)
    words = [w for w in words if w not in BREAKDOWNS]
    period_text = words[0] if words else "本周"
    period = parse_period(period_text, ctx.now())
    school_text = " ".join(words[1:]) if period else " ".join(words)
    if period is None:
        period = parse_period("本周", ctx.now())
        assert period is not None
        if words and ctx.storage.roster.find_school(words[0]) is None:
            raise Hint(
                "没看懂时间范围。例如：汇总 本周 / 汇总 上周 / 汇总 11月 / 汇总 11月1日~11月30日"
            )
    school = ctx.storage.roster.find_school(school_text) if school_text else None
    if school_text and school is None:
        raise Hint(f"没有找到学校「{school_text}」。")
    if school is not None:
        alliance = ctx.school_alliance(alliance, school)
    tree = ctx.storage.roster.descendants(alliance.id)
    held_before = min(period.end, ctx.clock.now() + timedelta(seconds=1))
    held = ctx.storage.activities.count_in_alliances(
        tree, starts_from=period.start, starts_before=held_before
    )
    # The first ten are listed; the breakdowns by team or 梯队 read every roll.
    activities = ctx.storage.activities.in_alliances(
        tree,
        starts_from=period.start,
        starts_before=held_before,
        limit=None if breakdown is not None else 10,
    )
    title = f"「{alliance.name}」{period.label}汇总" + (f" · {school.name}" if school else "")
    if breakdown is not None:
        title += f" · 按{breakdown}"
    reviews = _review_lines(ctx, tree, period, school)
    if not held:
        return "\n".join([f"{title}：这段时间没有已开展的活动。", *reviews])
    # Counts only (汇总 names nobody), summed by the database: a province term is 20,000
    # activities and over a million sign-ins and reflections.
    if breakdown is None:
        schools = ctx.storage.reporting().school_counts(tree, period.start, held_before)
    else:
        rolls = ctx.storage.reporting().tallies(activities)
        schools = count_by_school(rolls)
    if school is not None:
        schools = {name: c for name, c in schools.items() if name == school.name}
    total = SchoolCounts(school="合计")
    for counts in schools.values():
        total.add(counts)
    ordered = sorted(
        schools.values(),
        key=lambda c: (-(c.signed / c.counted if c.counted else 0), -c.reflected, c.school),
    )
    lines = [title, f"活动 {held} 次："]
    lines.extend(f"· {_activity_brief(a, ctx)}" for a in activities[:10])
    if held > 10:
        lines.append(f"· ……另有 {held - 10} 次")
    if breakdown is None:
        lines.append("各校情况（按签到率排序）：")
        lines.extend(_rate_line(c) for c in ordered)
    else:
        lines.append(f"各{breakdown}情况：")
        lines.extend(_rate_line(c) for c in _by_team_or_tier(ctx, rolls, breakdown, school))
    lines.append(_rate_line(total).replace("· ", "", 1))
    lines.extend(reviews)
    return "\n".join(lines)


def _review_lines(
    ctx: Context, tree: list[int], period: Period, school: School | None
) -> list[str]:
    """听课 and 评课 per school, counted at the school of whoever wrote them, with how many of
    its teachers wrote any; nothing when nobody did."""
    schools = reviews_by_school(
        ctx.storage,
        tree,
        period.start.date(),
        period.end.date(),
        school.id if school is not None else None,
    )
    if not schools:
        return []
    return [
        "听评课（按听课人所在学校）：",
        *(
            f"· {s.school}：听课 {s.counts.observations} 节，评课 {s.counts.reviews} 条"
            f"（{s.writers}/{s.teachers} 位老师有记录）"
            for s in schools
        ),
    ]


def _by_team_or_tier(
    ctx: Context, rolls: Sequence[Roll], breakdown: str, school: School | None
) -> list[SchoolCounts]:
    """Counts per team (a member counts in each of their teams) or per 梯队, in a fixed order:
    teams by sign-in rate, 梯队 青年 → 成长 → 名优; those without one last."""
    # Rolls of one alliance share their participant list: look at each list once.
    lists = {id(roll.participants): roll.participants for roll in rolls}
    ids = {m.id for people in lists.values() for m in people}

    def included(member: Member) -> bool:
        return school is None or member.school_id == school.id

    if breakdown == "团队":
        teams = ctx.storage.teams.team_names_of(ids)
        groups = count_by_group(
            rolls, lambda m: (teams.get(m.id) or [NO_TEAM]) if included(m) else []
        )
        named = sorted(
            (c for c in groups.values() if c.school != NO_TEAM),
            key=lambda c: (-(c.signed / c.counted if c.counted else 0), -c.reflected, c.school),
        )
        return [*named, groups[NO_TEAM]] if NO_TEAM in groups else named
    tiers = ctx.storage.teams.tiers(ids)
    groups = count_by_group(
        rolls,
        lambda m: [tiers[m.id].label if m.id in tiers else NO_TIER] if included(m) else [],
    )
    order = [tier.label for tier in Tier] + [NO_TIER]
    return [groups[label] for label in order if label in groups]


def _activity_brief(activity: Activity, ctx: Context) -> str:
    return f"{fmt.activity_label(activity)}{fmt.when(activity.starts_at, ctx.zone)}"
