"""签到 / 代签 / 请假: attendance at activities."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.routing.context import Context, Hint
from bot.routing.permissions import Action
from bot.routing.router import Args, Router
from bot.text.normalize import split_words
from handlers import format as fmt
from handlers.lookup import (
    ACTIVITY_CODE,
    activity_by_code,
    activity_on_day,
    current_activity,
    members_matching,
    one_of,
    scheduled,
    take_code,
)
from storage.models import SIGNIN_LABELS, Activity, Member, SigninStatus

router = Router("signins")

MAKEUP_DAYS = 7


def signin_status(activity: Activity, now: datetime) -> SigninStatus:
    """On time before the start, late until the end, a make-up (补签) afterwards."""
    if now <= activity.starts_at:
        return SigninStatus.ON_TIME
    if now <= activity.ends_at:
        return SigninStatus.LATE
    return SigninStatus.MAKEUP


def makeup_deadline(activity: Activity) -> datetime:
    return max(activity.reflection_due or activity.ends_at, activity.ends_at) + timedelta(
        days=MAKEUP_DAYS
    )


def _resolve(ctx: Context, text: str, *, for_signin: bool) -> tuple[Activity, str]:
    number, rest = take_code(text, ACTIVITY_CODE)
    activity = (
        activity_by_code(ctx, number)
        if number is not None
        else current_activity(ctx, for_signin=for_signin)
    )
    return scheduled(activity), rest


@router.command(
    "签到",
    aliases=("打卡", "qd", "签个到"),
    summary="活动签到（开始前30分钟开放，开始后算迟到，结束后算补签）",
    usage="签到 [A编号] [签到码]",
    examples=("签到", "签到 A7", "签到 A7 8527"),
)
def sign_in(ctx: Context, args: Args) -> str:
    ctx.require_member()
    activity, code = _resolve(ctx, args.text, for_signin=True)
    member = ctx.require_audience(activity)
    now = ctx.clock.now()
    existing = ctx.storage.submissions.signin(activity.id, member.id)
    if existing is not None:
        return (
            f"{member.name}，你已在 {fmt.when(existing.at, ctx.zone)} 签到过 {activity.code} 了，"
            "不用重复签到。"
        )
    if now < activity.signin_opens_at:
        return (
            f"{activity.code} 还没开始签到，{fmt.when(activity.signin_opens_at, ctx.zone)} 开放，"
            "到时再发「签到」即可。"
        )
    if now > makeup_deadline(activity):
        raise Hint(f"{activity.code} 的签到已截止。如确实参加了，请联系负责人代签。")
    if activity.signin_code:
        if not code:
            raise Hint(f"{activity.code} 需要签到码，请发送：签到 {activity.code} 签到码")
        if code.strip().lower() != activity.signin_code.lower():
            raise Hint("签到码不对，请核对现场公布的签到码后再试。")
    status = signin_status(activity, now)
    signin, _ = ctx.storage.submissions.sign_in(activity.id, member.id, at=now, status=status)
    at = fmt.clock_time(signin.at, ctx.zone)
    if status is SigninStatus.ON_TIME:
        return f"{member.name} 签到成功（{activity.code} {at}）。活动后记得交反思：反思 {activity.code} 正文"
    return (
        f"{member.name} 已签到 {activity.code}，记为{SIGNIN_LABELS[status]}（{at}）。"
        f"别忘了交反思：反思 {activity.code} 正文"
    )


def _audience_member(ctx: Context, activity: Activity, name: str) -> Member:
    """The person 代签 means: of the namesakes, the only one in the activity's audience;
    otherwise the one named (refused if outside the audience) or the options to choose from."""
    people = members_matching(ctx, name)
    inside = [p for p in people if ctx.in_audience(activity, p)]
    if len(inside) == 1:
        return inside[0]
    return ctx.require_audience(activity, one_of(name, inside or people))


@router.command(
    "代签",
    aliases=("帮签", "补签"),
    action=Action.PROXY_SIGNIN,
    summary="为没有手机的老师登记签到",
    usage="代签 A编号 姓名|姓名(学校)|企业微信账号 […]",
    examples=("代签 A7 张敏 李红", "代签 A7 王芳(二小)", "代签 A7 wangfang01"),
)
def proxy_sign_in(ctx: Context, args: Args) -> str:
    number, rest = take_code(args.text, ACTIVITY_CODE)
    names = split_words(rest)
    if number is None or not names:
        raise Hint("请写活动编号和姓名，例如：代签 A7 张敏 李红")
    activity = scheduled(activity_by_code(ctx, number))
    ctx.require_reach(Action.PROXY_SIGNIN, activity)
    helper = ctx.require_member()
    now = ctx.clock.now()
    status = signin_status(activity, now)
    done: list[str] = []
    already: list[str] = []
    problems: list[str] = []
    for name in names:
        try:
            person = _audience_member(ctx, activity, name)
        except Hint as hint:
            problems.append(str(hint))
            continue
        _, created = ctx.storage.submissions.sign_in(
            activity.id, person.id, at=now, status=status, by_member_id=helper.id
        )
        (done if created else already).append(person.name)
    lines = []
    if done:
        lines.append(f"已为 {'、'.join(done)} 代签 {activity.code}（{SIGNIN_LABELS[status]}）。")
    if already:
        lines.append(f"{'、'.join(already)} 已签到过，未重复记录。")
    lines.extend(problems)
    return "\n".join(lines)


@router.command(
    "请假",
    aliases=("qj", "不能参加"),
    summary="活动请假（不计缺席，也不再提醒）",
    usage="请假 A编号 [原因]",
    examples=("请假 A7 外出培训",),
)
def request_leave(ctx: Context, args: Args) -> str:
    ctx.require_member()
    number, reason = take_code(args.raw, ACTIVITY_CODE)
    activity = scheduled(
        activity_by_code(ctx, number)
        if number is not None
        else activity_on_day(ctx, reason, "请假")  # 我要请假，周三家里有事
    )
    member = ctx.require_audience(activity)
    if ctx.storage.submissions.signin(activity.id, member.id) is not None:
        return f"你已经签到了 {activity.code}，无需请假。"
    if ctx.clock.now() > activity.ends_at:
        raise Hint(f"{activity.code} 已经结束，不能再请假了。如有特殊情况请联系负责人。")
    first = ctx.storage.submissions.request_leave(
        activity.id, member.id, reason or None, at=ctx.clock.now()
    )
    if not first:
        return f"已更新你在 {activity.code} 的请假原因。"
    return f"已登记 {member.name} 在 {activity.code} 请假，不计缺席，也不会再提醒你。"
