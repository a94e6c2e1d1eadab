"""What reminders say: short, polite Chinese that tells people exactly what to send.

Wording varies a little between reminders (so a group does not read the same line every
day), but the choice is a pure function of the reminder key, so re-composing a reminder
after a restart gives the same text.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from handlers import format as fmt
from storage.models import Activity, FeedbackRequest, Member, Notice, School

EXCERPT_CHARS = 20


def pick(key: str, variants: Sequence[str]) -> str:
    return variants[zlib.crc32(key.encode("utf-8")) % len(variants)]


def relative_when(moment: datetime, now: datetime, zone: ZoneInfo) -> str:
    """今天 晚上 23:59 / 明天 下午 18:00 / 11月28日(周五) 下午 14:30."""
    days = (moment.astimezone(zone).date() - now.astimezone(zone).date()).days
    if days == 0:
        return f"今天 {fmt.clock_time(moment, zone)}"
    if days == 1:
        return f"明天 {fmt.clock_time(moment, zone)}"
    return fmt.when(moment, zone)


def duration(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} 小时 {rest} 分钟"
    return f"{hours} 小时" if hours else f"{rest} 分钟"


def _signin_hint(activity: Activity, zone: ZoneInfo) -> str:
    send = f"签到 {activity.code} 签到码" if activity.signin_code else f"签到 {activity.code}"
    return f"签到：{fmt.clock_time(activity.signin_opens_at, zone)} 起发送「{send}」。"


def activity_day_before(key: str, activity: Activity, zone: ZoneInfo) -> str:
    line = fmt.activity_line(activity, zone)
    hint = _signin_hint(activity, zone)
    leave = f"「请假 {activity.code} 原因」"
    return pick(
        key,
        (
            f"【明日活动提醒】{line}\n{hint}不能参加的老师请发送{leave}。",
            f"温馨提醒：明天有教研活动——{line}\n{hint}如有事不能参加，请发送{leave}。",
            f"各位老师好，明天的教研活动别忘了：{line}\n{hint}请假请发送{leave}。",
        ),
    )


def activity_soon(key: str, activity: Activity, zone: ZoneInfo, now: datetime) -> str:
    left = duration((activity.starts_at - now).total_seconds())
    start = fmt.clock_time(activity.starts_at, zone)
    place = f"，地点：{activity.place}" if activity.place else ""
    title = fmt.activity_label(activity)
    hint = _signin_hint(activity, zone)
    return pick(
        key,
        (
            f"【活动即将开始】{title} {start} 开始{place}。\n{hint}",
            f"还有 {left}：{title} {start} 开始{place}。\n{hint}",
            f"各位老师，{title}将在 {left}后开始（{start}{place}）。\n{hint}",
        ),
    )


def _due_phrase(activity: Activity, zone: ZoneInfo, now: datetime) -> str:
    assert activity.reflection_due is not None
    return relative_when(activity.reflection_due, now, zone)


def reflection_private(
    key: str, activity: Activity, member: Member, zone: ZoneInfo, now: datetime
) -> str:
    due = _due_phrase(activity, zone, now)
    what = fmt.activity_label(activity)
    send = f"「反思 {activity.code} 正文」"
    return pick(
        key,
        (
            f"{member.name}老师您好，{what}的教学反思将于{due} 截止，您还没有提交。请发送{send}提交，谢谢！",
            f"{member.name}老师，温馨提醒：{what}的反思{due} 截止，发送{send}即可提交。",
        ),
    )


def reflection_group(key: str, activity: Activity, zone: ZoneInfo, now: datetime) -> str:
    due = _due_phrase(activity, zone, now)
    what = fmt.activity_label(activity)
    send = f"「反思 {activity.code} 正文」"
    return pick(
        key,
        (
            f"温馨提醒：{what}的教学反思将于{due} 截止，被@的老师还没有提交，请发送{send}。",
            f"{what}的反思{due} 截止。被@的老师请抽空发送{send}提交，谢谢！",
        ),
    )


def _feedback_what(request: FeedbackRequest) -> str:
    return f"征集 {request.code}「{excerpt(request.question)}」"


def feedback_private(
    key: str, request: FeedbackRequest, school: School, zone: ZoneInfo, now: datetime
) -> str:
    """To a school's 业务领导 or contact: their school has not answered yet."""
    due = relative_when(request.due_at, now, zone)
    what = _feedback_what(request)
    send = f"「反馈 {request.code} 正文」"
    return pick(
        key,
        (
            f"您好，{what}将于{due} 截止，{school.name}还没有反馈。请发送{send}，谢谢！",
            f"温馨提醒：{what}{due} 截止，{school.name}的反馈还没有收到，发送{send}即可提交。",
        ),
    )


def feedback_group(
    key: str, request: FeedbackRequest, schools: Sequence[str], zone: ZoneInfo, now: datetime
) -> str:
    """In the alliance's groups: schools are named (they are not people), people @-mentioned."""
    due = relative_when(request.due_at, now, zone)
    what = _feedback_what(request)
    send = f"「反馈 {request.code} 正文」"
    names = "、".join(schools)
    return pick(
        key,
        (
            f"温馨提醒：{what}将于{due} 截止，还有 {len(schools)} 所学校未反馈（{names}）。"
            f"被@的老师请发送{send}。",
            f"{what}{due} 截止，{names}还没有反馈。被@的老师请抽空发送{send}，谢谢！",
        ),
    )


def quota_private(key: str, member: Member, done: int, per_term: int, last_day: str) -> str:
    """A teacher behind on the term's 听课 quota, in its last weeks."""
    left = per_term - done
    example = "「听课 日期 执教老师 《课题》 优点:… 不足:… 建议:…」"
    return pick(
        key,
        (
            f"{member.name}老师好：本学期听课任务 {per_term} 节，你已记录 {done} 节，还差 {left} 节。"
            f"学期 {last_day} 结束，听课后发送{example}即可记录。",
            f"温馨提醒：学期快结束了（{last_day}），你的听课记录 {done}/{per_term} 节，还差 {left} 节。"
            f"听课后发送{example}记录，发「我的」可查看进度。",
        ),
    )


def quota_group(key: str, per_term: int, last_day: str) -> str:
    """The group version: who is behind is only @-mentioned, never listed with numbers."""
    return pick(
        key,
        (
            f"温馨提醒：本学期听课任务每人 {per_term} 节，学期 {last_day} 结束。"
            "被 @ 的老师还没完成，听课后发送「听课 日期 执教老师 《课题》 优点:… 不足:… 建议:…」记录，"
            "发「我的」可查看进度。",
        ),
    )


def excerpt(body: str) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[:EXCERPT_CHARS] + "…"


def notice_ack_private(key: str, notice: Notice, member: Member) -> str:
    what = f"通知 {notice.code}「{excerpt(notice.body)}」"
    return pick(
        key,
        (
            f"{member.name}老师您好，{what}还没有收到您的确认，看到后请回复「收到 {notice.code}」，谢谢！",
            f"{member.name}老师，{what}需要回执，请回复「收到 {notice.code}」确认。",
        ),
    )


def notice_ack_group(key: str, notice: Notice, missing: int) -> str:
    return (
        f"通知 {notice.code}「{excerpt(notice.body)}」还有 {missing} 位老师未确认，"
        f"被@的老师看到后请回复「收到 {notice.code}」。"
    )


def notice_missed(notice: Notice, zone: ZoneInfo) -> str:
    return (
        f"您预约在 {fmt.when(notice.publish_at, zone)} 发布的通知 {notice.code} 因系统停机未能按时发出，"
        "已自动取消。如仍需要，请重新发送「通知 正文」。"
    )
