"""Resolving what users name in commands: activity codes, notices, alliances, people."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.routing.context import Context, Hint
from bot.text.dates import find_day
from handlers import format as fmt
from storage.models import Activity, ActivityStatus, Alliance, Member, Notice

ACTIVITY_CODE = re.compile(r"^[Aa](\d+)(.*)$", re.DOTALL)
NOTICE_CODE = re.compile(r"^[Nn](\d+)(.*)$", re.DOTALL)
_QUOTED_CODE = re.compile(r"\bA(\d+)\b")


def take_code(text: str, pattern: re.Pattern[str]) -> tuple[int | None, str]:
    """Split a leading code like A7 (or glued: A7今天…) off the text; (number or None, rest)."""
    matched = pattern.match(text.strip())
    if matched is None:
        return None, text.strip()
    return int(matched.group(1)), matched.group(2).strip()


def activity_by_code(ctx: Context, number: int) -> Activity:
    activity = ctx.storage.activities.get(number)
    if activity is None:
        raise Hint(f"没有找到活动 A{number}。发送「活动」查看近期活动及编号。")
    return activity


def notice_by_code(ctx: Context, number: int) -> Notice:
    notice = ctx.storage.notices.get(number)
    if notice is None:
        raise Hint(f"没有找到通知 N{number}。")
    return notice


def alliance_named(ctx: Context, name: str) -> Alliance:
    alliance = ctx.storage.roster.find_alliance(name)
    if alliance is None:
        names = "、".join(a.name for a in ctx.storage.roster.alliances()[:8])
        raise Hint(f"没有找到联盟「{name}」。已有：{names or '（暂无，请先导入名册）'}")
    return alliance


def current_activity(ctx: Context, *, for_signin: bool) -> Activity:
    """The activity a bare 签到/反思 most likely means, in this chat's (or person's) alliance.

    For sign-in: one whose window is open now; for reflections: the most recent one started.
    The sender's own activities come first; only when none fits is another's named (and then
    refused by the audience check, which says whose it is).
    """
    now = ctx.clock.now()
    activities = _nearby_activities(ctx)
    if for_signin:
        open_now = _mine_first(
            ctx, [a for a in activities if a.signin_opens_at <= now <= a.ends_at]
        )
        if len(open_now) == 1:
            return open_now[0]
        if len(open_now) > 1:
            codes = "、".join(a.code for a in open_now)
            raise Hint(
                f"现在有多个活动可以签到（{codes}），请写明编号，例如：签到 {open_now[0].code}"
            )
        soon = _mine_first(
            ctx, [a for a in activities if now < a.signin_opens_at <= now + timedelta(hours=12)]
        )
        if soon:
            first = soon[0]
            opens = first.signin_opens_at.astimezone(ctx.zone)
            raise Hint(
                f"{first.code}「{first.title}」{opens:%H:%M} 开放签到，到时再发「签到」即可。"
            )
        raise Hint("现在没有正在签到的活动。请写明活动编号，例如：签到 A7")
    started = _mine_first(ctx, [a for a in activities if a.starts_at <= now])
    if not started:
        raise Hint("还没有已开始的活动。请写明活动编号，例如：反思 A7 今天的课让我…")
    return started[-1]


def _nearby_activities(ctx: Context) -> list[Activity]:
    """Activities of this chat's (or person's) alliance, its parents and its children."""
    alliance = ctx.require_alliance()
    roster = ctx.storage.roster
    scope = sorted(set(roster.ancestors(alliance.id)) | set(roster.descendants(alliance.id)))
    return ctx.storage.activities.in_alliances(scope)


def _mine_first(ctx: Context, activities: list[Activity]) -> list[Activity]:
    """The sender's own activities among `activities` if there are any, else all of them."""
    return _for_sender(ctx, activities) or activities


def _for_sender(ctx: Context, activities: list[Activity]) -> list[Activity]:
    """The activities among `activities` whose audience holds the sender: a bare 签到 must not
    stumble over another school's activity that happens to run at the same time."""
    member = ctx.member
    if member is None:
        return activities
    return [a for a in activities if ctx.in_audience(a, member)]


def activity_written_about(ctx: Context, text: str) -> tuple[Activity, str]:
    """The activity a 反思 or 评课 is about and the rest of the text: its code, else the code
    in a quoted message, else the sender's most recent activity already started."""
    number, body = take_code(text, ACTIVITY_CODE)
    if number is None and ctx.incoming.quote:
        quoted = _QUOTED_CODE.search(ctx.incoming.quote)
        if quoted:
            number = int(quoted.group(1))
    if number is not None:
        return scheduled(activity_by_code(ctx, number)), body
    return current_activity(ctx, for_signin=False), body


def activity_on_day(ctx: Context, text: str, command: str) -> Activity:
    """The coming activity a sentence names by its day (我要请假，周三家里有事), or a Hint that
    lists the candidates and asks for the code."""
    now = ctx.clock.now()
    upcoming = _for_sender(
        ctx,
        [
            a
            for a in _nearby_activities(ctx)
            if a.ends_at >= now and a.status is not ActivityStatus.CANCELLED
        ],
    )
    found = find_day(text, ctx.now())
    if found is not None:
        on_day = [a for a in upcoming if ctx.local(a.starts_at).date() == found[0]]
        if len(on_day) == 1:
            return on_day[0]
        upcoming = on_day or upcoming
    if not upcoming:
        raise Hint(f"近期没有可以{command}的活动。如有疑问请联系负责人。")
    options = "；".join(
        f"{a.code}「{a.title}」{fmt.when(a.starts_at, ctx.zone)}" for a in upcoming[:5]
    )
    which = f"{found[1]}有多个活动，" if found is not None and len(upcoming) > 1 else "是哪个活动？"
    example = f"{command} {upcoming[0].code} {text}".rstrip()
    raise Hint(f"{which}请写明编号，例如：{example}\n近期活动：{options}")


def scheduled(activity: Activity) -> Activity:
    if activity.status is ActivityStatus.CANCELLED:
        raise Hint(f"活动 {activity.code} 已取消。")
    return activity


def members_matching(ctx: Context, text: str) -> list[Member]:
    """Active members a person is named by: 姓名, 姓名(学校) (also 姓名（学校）, 姓名@学校),
    or, when no name matches, their WeCom account (userid)."""
    school_id = None
    name = text
    matched = re.match(r"^(.+?)[@(（](.+?)[)）]?$", text)
    if matched:
        name, school_text = matched.group(1), matched.group(2)
        school = ctx.storage.roster.find_school(school_text)
        if school is None:
            raise Hint(f"没有找到学校「{school_text}」。")
        school_id = school.id
    people = ctx.storage.roster.members_named(name, school_id)
    if not people and school_id is None:
        by_account = ctx.storage.roster.member_by_userid(text)
        if by_account is not None and by_account.active:
            people = [by_account]
    return people


def person_label(member: Member) -> str:
    """姓名(学校) — how a person is written to tell them apart from namesakes."""
    return f"{member.name}({member.school_name or '无学校'})"


def one_of(name: str, people: list[Member]) -> Member:
    """The only person, or a Hint: nobody found, or the namesakes to choose from."""
    if not people:
        raise Hint(f"名册里没有「{name}」。")
    if len(people) > 1:
        labels = [person_label(p) for p in people[:5]]
        # Namesakes at one school: only their account tells them apart.
        options = "、".join(
            f"{label}（账号 {p.userid}）" if labels.count(label) > 1 and p.userid else label
            for label, p in zip(labels, people[:5], strict=True)
        )
        raise Hint(f"有多位「{name}」：{options}。请写成 姓名(学校)，同校重名请写企业微信账号。")
    return people[0]


def member_named(ctx: Context, name: str, alliance_ids: list[int] | None = None) -> Member:
    """One active member by name (or 姓名(学校), or account), within some alliances."""
    people = members_matching(ctx, name)
    if alliance_ids is not None:
        people = [p for p in people if p.alliance_id in alliance_ids]
    return one_of(name, people)
