"""我的: a member's own sign-ins, reflections, pending items and 学时."""

from __future__ import annotations

from datetime import timedelta

from bot.core.messages import Reply
from bot.routing.context import Context
from bot.routing.router import Args, Router
from bot.text.dates import Period, parse_period
from handlers import format as fmt
from storage.attendance import expected_among
from storage.models import SIGNIN_LABELS, Member, ReviewKind, Signin, SigninStatus

router = Router("me")


@router.command(
    "我的",
    aliases=("我的记录", "我的学时", "wd"),
    summary="查看自己的签到、反思、待办和本学期学时",
    usage="我的",
    examples=("我的",),
)
def my_records(ctx: Context, args: Args) -> Reply:
    member = ctx.require_member()
    now = ctx.clock.now()
    term = parse_period("本学期", ctx.now())
    assert term is not None
    submissions = ctx.storage.submissions
    roster = ctx.storage.roster
    signins = submissions.signins_of(member.id)
    reflections = submissions.reflections_of(member.id)
    leaves = submissions.leaves_of(member.id)
    scope = roster.ancestors(member.alliance_id) if member.alliance_id else []
    # An activity for some schools or one team is not pending for everyone else.
    expected = expected_among(
        ctx.storage,
        ctx.storage.activities.in_alliances(scope, starts_from=term.start, starts_before=term.end),
        member,
    )
    seen = {a.id for a in expected}
    extra_ids = (signins.keys() | reflections.keys()) - seen
    extra = [a for a in (ctx.storage.activities.get(i) for i in extra_ids) if a is not None]
    activities = sorted(
        [*expected, *[a for a in extra if term.start <= a.starts_at < term.end]],
        key=lambda a: a.starts_at,
    )
    credited = 0.0
    lines = [f"{member.name}（{member.school_name or '无学校'}）{term.label}的记录："]
    pending: list[str] = []
    for activity in activities:
        signin = signins.get(activity.id)
        reflection = reflections.get(activity.id)
        on_leave = activity.id in leaves
        # Sign-in opens before the start: someone already signed in is no longer 待参加.
        if activity.starts_at > now and signin is None:
            if on_leave:
                lines.append(f"· {activity.code}「{activity.title}」请假")
            else:
                pending.append(
                    f"· {activity.code}「{activity.title}」{fmt.when(activity.starts_at, ctx.zone)} 待参加"
                )
            continue
        parts = [_attendance(signin, on_leave=on_leave, ended=activity.ends_at < now)]
        parts.append("已交反思" if reflection else "未交反思")
        if signin is not None and reflection is not None:
            credited += activity.hours
            parts.append(f"+{fmt.hours(activity.hours)}学时")
        elif not on_leave and reflection is None and activity.ends_at > now - timedelta(days=30):
            due = activity.reflection_due
            if due is not None and due < now:
                note = f"已过截止时间 {fmt.when(due, ctx.zone)}，仍可补交"
            else:
                note = f"截止 {fmt.when(due, ctx.zone)}" if due else "请尽快提交"
            pending.append(f"· {activity.code}「{activity.title}」待交反思（{note}）")
        lines.append(f"· {activity.code}「{activity.title}」{'，'.join(parts)}")
    if len(lines) == 1:
        lines.append("· 本学期还没有活动记录。")
    if pending:
        lines.append("待办：")
        lines.extend(pending)
    lines.append(f"本学期已获学时：{fmt.hours(credited)}（签到并交反思的活动计入）")
    lines.append(_reviews_line(ctx, member, term))
    # Personal records are answered privately even when asked in a group.
    return Reply(text="\n".join(lines), private=True)


def _reviews_line(ctx: Context, member: Member, term: Period) -> str:
    """This term's 听课 and 评课 written, and how many records others wrote on my lessons."""
    first, after = term.start.date(), term.end.date()
    written = [
        r for r in ctx.storage.reviews.by_observer(member.id) if first <= r.lesson_date < after
    ]
    observed = sum(1 for r in written if r.kind is ReviewKind.OBSERVATION)
    received = [
        r for r in ctx.storage.reviews.about_teacher(member.id) if first <= r.lesson_date < after
    ]
    tail = f"；我的课收到 {len(received)} 条（发送「我的评课」查看）" if received else ""
    chain = ctx.storage.roster.ancestors(member.alliance_id) if member.alliance_id else []
    quota = ctx.storage.reviews.nearest_quota(chain)
    task = ""
    if quota is not None:
        left = quota.per_term - observed
        task = f"（任务 {quota.per_term} 节，" + (f"还差 {left} 节）" if left > 0 else "已完成）")
    return f"听评课：本学期听课 {observed} 节{task}，评课 {len(written) - observed} 条{tail}"


def _attendance(signin: Signin | None, *, on_leave: bool, ended: bool) -> str:
    """已签到 (迟到/补签 noted) / 请假 / 缺席 once it is over / 未签到 while it runs."""
    if signin is not None:
        if signin.status is SigninStatus.ON_TIME:
            return "已签到"
        return f"已签到({SIGNIN_LABELS[signin.status]})"
    if on_leave:
        return "请假"
    return "缺席" if ended else "未签到"
