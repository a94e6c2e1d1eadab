"""The digest (周报 / 汇总) of one alliance for one period, as WeCom markdown.

What a group sees: activities held (type, title, school, date); sign-in and reflection rates
per school, best first, with late and leave counts; totals and their change against the
previous period of the same length; the top keywords of the reflections; two excerpts; the
period's 听评课 counts with the points most raised under 不足 and 建议; the period's new and recommended resources; the activities of the coming seven days; notices
still awaiting confirmation; open feedback requests (征集) with how many schools answered.
Names of people who are missing never go to a group: they go privately to the alliance's
leaders.

Rules worth knowing (docs/reports.md explains them to users):
- "Held" means started before `now`; the previous period is the same length, just before.
- Keywords and excerpts come from the `REFLECTION_SAMPLE` (2,000) most recently submitted
  reflections of the period (a province term has 500,000); when there are more, the
  keyword line says so. Excerpts: `keywords.pick_excerpts` over that sample — the longest
  reflections, from different schools. Counts and rates are always over every reflection.
- Reflection rate: held activities whose reflection deadline is after `now` and who still
  miss reflections are named next to it (尚未截止), so an early low rate is not a failure.
- Coming activities: those starting within 7 days after `now`.
- Open notices: published in the 30 days before `now`, needing a receipt, with members of
  this alliance tree who have not confirmed.
- Resources: shared, or recommended, within the period by this alliance, those above it or
  those below it (what `资源` shows here); recommended ones first and marked, then the newest.
- Open feedback requests: not closed, addressed to this alliance or one above it, deadline
  no more than 30 days ago; only this alliance tree's schools are counted. Schools that
  have not answered are named (schools are institutions, and their rates are named here
  too); the people who answer for them never are.
- Private notes go to the active leaders of the alliance itself; when it has none, to the
  leaders of the nearest alliance above it. Staff (教研员) are district-wide and would get
  every alliance's lists, so they use 未签到/未交 or the dashboard instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from bot.text.dates import Period
from bot.text.split import MARKDOWN_MAX_BYTES
from reports import text as fmt
from reports.charts import FontNotFoundError, RateBar, rates_chart
from reports.keywords import ExcerptSource, KeywordExtractor, default_extractor, pick_excerpts
from reports.markdown import md_text, pack_sections
from reports.model import Digest
from reports.stats import (
    HELD_SLACK,
    PeriodCounts,
    period_counts,
    reflection_rate,
    signin_rate,
)
from storage import Storage
from storage.attendance import NO_SCHOOL, PARTICIPANT_ROLES, SchoolCounts
from storage.feedback import FeedbackProgress, feedback_progress
from storage.models import Activity, Alliance, Member, Resource, ReviewKind
from storage.reporting import ReflectionSample, ReportingQueries

log = logging.getLogger(__name__)

COMING_DAYS = 7
OPEN_NOTICE_DAYS = 30
MAX_ACTIVITY_LINES = 15
EXCERPTS = 2
KEYWORDS = 8
# Keywords and excerpts read at most this many reflections (the most recent): enough for
# a district's words to show, bounded however much history there is.
REFLECTION_SAMPLE = 2000
REVIEW_POINTS = 5
OPEN_DEADLINE_CODES = 3
TITLE_CHARS = 30
RESOURCE_LINES = 5
OPEN_FEEDBACK_DAYS = 30
MISSING_SCHOOL_NAMES = 10
RECOMMENDED_MARK = "⭐推荐"


@dataclass(frozen=True)
class OpenNotice:
    code: str
    body: str
    expected: int
    confirmed: int

    @property
    def waiting(self) -> int:
        return self.expected - self.confirmed


def build_digest(
    storage: Storage,
    alliance: Alliance,
    period: Period,
    now: datetime,
    *,
    with_chart: bool = True,
    extractor: Callable[[], KeywordExtractor] = default_extractor,
    reflection_sample: int = REFLECTION_SAMPLE,
) -> Digest:
    """Everything the weekly push and `周报 现在` send for `alliance` over `period`
    (keywords and excerpts from the `reflection_sample` most recent reflections)."""
    zone = _zone(alliance, period)
    length = period.end - period.start
    queries = storage.reporting()  # shared: the roster is loaded once for both periods
    # Counts summed in SQL; rolls (names) only where names are shown.
    current = period_counts(storage, alliance, period.start, period.end, now, queries)
    previous = period_counts(storage, alliance, period.start - length, period.start, now, queries)
    schools = {s.id: s.name for s in storage.roster.schools()}
    weekly = length == timedelta(days=7)
    kind = "教研周报" if weekly else "教研汇总"
    title = f"{alliance.name}{kind} · {period.label}"
    heading = f"## {md_text(alliance.name)} · {kind}\n{md_text(period.label)}"

    deadline_note = _deadline_note(queries, current.activities, now, zone)
    sections = [_overview(current, previous, deadline_note)]
    if current.activities:
        sections.append(_held(current, schools, zone))
        sections.append(_schools(current))
        tree = storage.roster.descendants(alliance.id)
        before = min(period.end, now + HELD_SLACK)
        sample = queries.recent_reflections(tree, period.start, before, reflection_sample)
        sections.extend(_reflections(sample, reflection_sample, extractor))
    sections.append(_review_points(storage, alliance, period, zone, extractor))
    sections.append(_resources(storage, alliance, period))
    sections.append(_coming(storage, alliance, now, zone))
    sections.append(_notices(storage, alliance, now))
    sections.append(_feedback(storage, alliance, now, zone))
    notes = _private_notes(storage, alliance, queries, current, title, zone)
    if notes:
        sections.append('<font color="comment">未签到、未交反思的名单已私信发给联盟负责人。</font>')
    parts = pack_sections(heading, [s for s in sections if s], MARKDOWN_MAX_BYTES)
    chart = _chart(alliance, period, current) if with_chart and current.schools else None
    return Digest(title=title, group_parts=parts, private_notes=notes, chart_png=chart)


def _zone(alliance: Alliance, period: Period) -> tzinfo:
    if alliance.timezone:
        return ZoneInfo(alliance.timezone)
    zone = period.start.tzinfo
    assert zone is not None
    return zone


def _overview(current: PeriodCounts, previous: PeriodCounts, deadline_note: str) -> str:
    total, before = current.total, previous.total
    if not current.activities:
        return "**概况**\n这段时间没有已开展的活动。"
    lines = [
        "**概况**",
        f"开展活动 {len(current.activities)} 次（上期 {len(previous.activities)} 次），"
        f"应参加 {total.counted} 人次（不含请假 {total.on_leave} 人次）",
        f"签到率 **{fmt.ratio(total.signed, total.counted)}**，"
        + fmt.change(signin_rate(total), signin_rate(before)),
        f"反思提交率 **{fmt.ratio(total.reflected, total.counted)}**{deadline_note}，"
        + fmt.change(reflection_rate(total), reflection_rate(before)),
        f"迟到/补签 {total.late} 人次，请假 {total.on_leave} 人次",
    ]
    return "\n".join(lines)


def _deadline_note(
    queries: ReportingQueries, activities: list[Activity], now: datetime, zone: tzinfo
) -> str:
    """Says which held activities still take reflections, so that a low rate before their
    deadline is not read as people failing to reflect. Empty when none does, or when
    everyone who owes one has already reflected. Only those activities' rolls are read."""
    taking = [a for a in activities if a.reflection_due is not None and a.reflection_due > now]
    still_open = sorted(
        (due, roll.activity.code)
        for roll in queries.tallies(taking)
        if (due := roll.activity.reflection_due) is not None and roll.missing_reflection()
    )
    if not still_open:
        return ""
    latest = fmt.when(still_open[-1][0], zone)
    if len(still_open) == 1:
        return f"（{still_open[0][1]} 反思截止 {latest}，尚未截止）"
    codes = "、".join(code for _, code in still_open[:OPEN_DEADLINE_CODES])
    if len(still_open) > OPEN_DEADLINE_CODES:
        codes += f" 等 {len(still_open)} 次活动"
    return f"（{codes} 的反思尚未截止，最晚 {latest} 截止）"


def _activity_title(activity: Activity) -> str:
    title = md_text(activity.title, TITLE_CHARS)
    kind = md_text(activity.kind)
    return f"「{title}」" if kind and kind in title else f"{kind}「{title}」"


def _held(current: PeriodCounts, schools: dict[int, str], zone: tzinfo) -> str:
    lines = ["**已开展的活动**"]
    for activity in current.activities[:MAX_ACTIVITY_LINES]:
        host = schools.get(activity.school_id or 0) or activity.place or ""
        where = f" · {md_text(host, 20)}" if host else ""
        lines.append(f"> {fmt.day(activity.starts_at, zone)} {_activity_title(activity)}{where}")
    hidden = len(current.activities) - MAX_ACTIVITY_LINES
    if hidden > 0:
        lines.append(f"> ……另有 {hidden} 次")
    return "\n".join(lines)


def _school_line(counts: SchoolCounts) -> str:
    extra = []
    if counts.late:
        extra.append(f"迟到/补签{counts.late}")
    if counts.on_leave:
        extra.append(f"请假{counts.on_leave}")
    tail = f" · {'，'.join(extra)}" if extra else ""
    rate = signin_rate(counts)
    signed = fmt.ratio(counts.signed, counts.counted)
    if rate is not None and rate < 0.6:
        signed = f'<font color="warning">{signed}</font>'
    return (
        f"> {md_text(counts.school)}：签到 {signed} · "
        f"反思 {fmt.ratio(counts.reflected, counts.counted)}{tail}"
    )


def _schools(current: PeriodCounts) -> str:
    lines = ["**各校签到与反思**（按签到率排序）"]
    lines.extend(_school_line(counts) for counts in current.schools)
    return "\n".join(lines)


def _reflections(
    sample: list[ReflectionSample], limit: int, extractor: Callable[[], KeywordExtractor]
) -> list[str]:
    """Keywords and two excerpts of the period's reflections, read from `sample` (the most
    recent, newest first, at most `limit` of them)."""
    if not sample:
        return ["**反思**\n这段时间还没有收到反思。"]
    sections = []
    keywords = extractor().top([r.body for r in sample], KEYWORDS)
    if keywords:
        words = "、".join(f"{md_text(k.word)}（{k.reflections}篇）" for k in keywords)
        # A full sample may leave older ones out: say which it is (the total is above).
        basis = f"最近提交的 {len(sample)} 篇" if len(sample) >= limit else f"共 {len(sample)} 篇"
        sections.append(f"**反思关键词**（{basis}）\n{words}")
    sources = [
        ExcerptSource(text=r.body, school=r.school, author=r.author, order=r.first_submitted)
        for r in sample
    ]
    quotes = ["**反思摘录**"]
    for source, quote in pick_excerpts(sources, EXCERPTS):
        quotes.append(f"> “{md_text(quote)}”——{md_text(source.author)}（{md_text(source.school)}）")
    sections.append("\n".join(quotes))
    return sections


def _review_points(
    storage: Storage,
    alliance: Alliance,
    period: Period,
    zone: tzinfo,
    extractor: Callable[[], KeywordExtractor],
) -> str:
    """听评课 of the period: how many, and the points most often raised under 不足 and 建议
    (keywords of those parts alone, counted per record), never who wrote what."""
    records = storage.reviews.in_alliances(
        storage.roster.descendants(alliance.id),
        first_day=period.start.astimezone(zone).date(),
        after_day=period.end.astimezone(zone).date(),
    )
    if not records:
        return ""
    observed = sum(1 for r in records if r.kind is ReviewKind.OBSERVATION)
    lines = [f"**听评课**（评课 {len(records) - observed} 条，听课 {observed} 节）"]
    keywords = extractor()
    for label, texts in (
        ("常提的不足", [r.weaknesses for r in records]),
        ("常提的建议", [r.suggestions for r in records]),
    ):
        points = keywords.top(texts, REVIEW_POINTS)
        if points:
            words = "、".join(f"{md_text(k.word)}（{k.reflections}条）" for k in points)
            lines.append(f"{label}：{words}")
    return "\n".join(lines)


def _coming(storage: Storage, alliance: Alliance, now: datetime, zone: tzinfo) -> str:
    tree = storage.roster.descendants(alliance.id)
    coming = storage.activities.in_alliances(
        tree, starts_from=now, starts_before=now + timedelta(days=COMING_DAYS)
    )
    if not coming:
        return "**未来一周的活动**\n暂无安排。"
    lines = ["**未来一周的活动**"]
    for activity in coming[:MAX_ACTIVITY_LINES]:
        place = f" · {md_text(activity.place, 20)}" if activity.place else ""
        lines.append(
            f"> {fmt.when(activity.starts_at, zone)} {activity.code} "
            f"{_activity_title(activity)}{place}"
        )
    if len(coming) > MAX_ACTIVITY_LINES:
        lines.append(f"> ……另有 {len(coming) - MAX_ACTIVITY_LINES} 次")
    return "\n".join(lines)


def open_notices(storage: Storage, alliance: Alliance, now: datetime) -> list[OpenNotice]:
    """Notices needing a receipt that members of this alliance tree have not all confirmed."""
    roster = storage.roster
    tree = roster.descendants(alliance.id)
    scope = sorted(set(tree) | set(roster.ancestors(alliance.id)))
    queries = storage.reporting()
    notices = [
        n
        for n in queries.notices_for(
            scope, published_from=now - timedelta(days=OPEN_NOTICE_DAYS), before=now
        )
        if n.needs_ack
    ]
    if not notices:
        return []
    members = roster.members_in(tree, PARTICIPANT_ROLES)
    acks = queries.acks([n.id for n in notices])
    found = []
    for notice in notices:
        if notice.alliance_id is None or notice.alliance_id not in tree:
            targeted = members  # addressed to everyone, or to an alliance above this one
        else:
            below = set(roster.descendants(notice.alliance_id))
            targeted = [m for m in members if m.alliance_id in below]
        confirmed = sum(1 for m in targeted if m.id in acks.get(notice.id, {}))
        if confirmed < len(targeted):
            found.append(OpenNotice(notice.code, notice.body, len(targeted), confirmed))
    return found


def _notices(storage: Storage, alliance: Alliance, now: datetime) -> str:
    waiting = open_notices(storage, alliance, now)
    if not waiting:
        return ""
    lines = ["**待确认的通知**"]
    for notice in waiting:
        lines.append(
            f"> {notice.code}「{md_text(notice.body, 20)}」已确认 {notice.confirmed}/"
            f'{notice.expected}，还有 <font color="warning">{notice.waiting}</font> 人未确认'
        )
    lines.append("请尚未确认的老师回复「收到 通知编号」。")
    return "\n".join(lines)


def _visible_alliances(storage: Storage, alliance: Alliance) -> list[int]:
    """This alliance, those above it and those below it."""
    roster = storage.roster
    return sorted(set(roster.ancestors(alliance.id)) | set(roster.descendants(alliance.id)))


def _resource_line(resource: Resource, recommended: bool) -> str:
    title = md_text(resource.title, TITLE_CHARS)
    kind = md_text(resource.kind)
    name = f"「{title}」" if kind and kind in title else f"{kind}「{title}」"
    mark = f" {RECOMMENDED_MARK}" if recommended else ""
    return f"> {resource.code} {name}{mark}"


def _resources(storage: Storage, alliance: Alliance, period: Period) -> str:
    scope = _visible_alliances(storage, alliance)
    new = storage.resources.shared_between(scope, period.start, period.end)
    recommended = storage.resources.recommended_between(scope, period.start, period.end)
    if not new and not recommended:
        return ""
    pushed = {r.id for r in recommended}
    ordered = [
        *((r, True) for r in reversed(recommended)),
        *((r, False) for r in reversed(new) if r.id not in pushed),
    ]
    lines = [f"**学习资源**（本期新增 {len(new)} 条，推荐 {len(recommended)} 条）"]
    lines.extend(_resource_line(r, marked) for r, marked in ordered[:RESOURCE_LINES])
    hidden = len(ordered) - RESOURCE_LINES
    if hidden > 0:
        lines.append(f"> ……另有 {hidden} 条")
    lines.append("发送「资源」查看最新资源，「资源 编号」查看详情。")
    return "\n".join(lines)


def open_feedback(storage: Storage, alliance: Alliance, now: datetime) -> list[FeedbackProgress]:
    """Open 征集 reaching this alliance's schools, soonest deadline first, counted over this
    alliance tree's schools only."""
    roster = storage.roster
    here = {s.id for s in roster.schools(roster.descendants(alliance.id))}
    oldest = now - timedelta(days=OPEN_FEEDBACK_DAYS)
    found = []
    for request in storage.feedback.open_requests(_visible_alliances(storage, alliance)):
        if request.due_at < oldest or request.created_at > now:
            continue
        progress = feedback_progress(roster, storage.feedback, request, within=here)
        if progress.schools:
            found.append(progress)
    return sorted(found, key=lambda p: (p.request.due_at, p.request.id))


def _school_names(progress: FeedbackProgress) -> str:
    missing = progress.missing
    names = "、".join(md_text(s.name, 20) for s in missing[:MISSING_SCHOOL_NAMES])
    if len(missing) > MISSING_SCHOOL_NAMES:
        names += f" 等 {len(missing)} 校"
    return names


def _feedback(storage: Storage, alliance: Alliance, now: datetime, zone: tzinfo) -> str:
    waiting = open_feedback(storage, alliance, now)
    if not waiting:
        return ""
    lines = ["**进行中的征集**"]
    for progress in waiting:
        request = progress.request
        passed = "已于 " if request.due_at <= now else ""
        head = (
            f"> {request.code}「{md_text(request.question, 20)}」{passed}"
            f"{fmt.when(request.due_at, zone)} 截止，"
            f"已反馈 {len(progress.answered)}/{len(progress.schools)} 校"
        )
        if progress.missing:
            head += f"，未反馈：{_school_names(progress)}"
        lines.append(head)
    if any(p.missing for p in waiting):
        lines.append("请未反馈学校的业务领导或联系人发送「反馈 征集编号 正文」。")
    return "\n".join(lines)


def note_recipients(storage: Storage, alliance: Alliance) -> list[Member]:
    """The alliance's own leaders, or those of the nearest alliance above it."""
    queries = storage.reporting()
    for alliance_id in _upwards(storage, alliance):
        leaders = [m for m in queries.leaders_of(alliance_id) if m.userid]
        if leaders:
            return leaders
    return []


def _upwards(storage: Storage, alliance: Alliance) -> list[int]:
    chain = [alliance.id]
    current = alliance
    while current.parent_id is not None and current.parent_id not in chain:
        parent = storage.roster.alliance(current.parent_id)
        if parent is None:
            break
        chain.append(parent.id)
        current = parent
    return chain


def _names(people: list[Member]) -> str:
    by_school: dict[str, list[str]] = {}
    for person in people:
        by_school.setdefault(person.school_name or NO_SCHOOL, []).append(person.name)
    return "；".join(f"{school}：{'、'.join(names)}" for school, names in sorted(by_school.items()))


def _private_notes(
    storage: Storage,
    alliance: Alliance,
    queries: ReportingQueries,
    current: PeriodCounts,
    title: str,
    zone: tzinfo,
) -> dict[str, str]:
    """Plain text (it may be long: senders split it at their limits)."""
    recipients = [leader.userid for leader in note_recipients(storage, alliance) if leader.userid]
    if not recipients:  # nobody to tell: skip listing names (a district term is ~1M pairs)
        return {}
    blocks = []
    for roll in queries.tallies(current.activities):
        no_signin, no_reflection = roll.missing_signin(), roll.missing_reflection()
        if not no_signin and not no_reflection:
            continue
        activity = roll.activity
        lines = [f"{fmt.activity_label(activity)}{fmt.day(activity.starts_at, zone)}"]
        if no_signin:
            lines.append(f"未签到 {len(no_signin)} 人：{_names(no_signin)}")
        if no_reflection:
            lines.append(f"未交反思 {len(no_reflection)} 人：{_names(no_reflection)}")
        blocks.append("\n".join(lines))
    if not blocks:
        return {}
    text = "\n\n".join(
        [f"【{title}】未签到、未交反思名单（仅发给联盟负责人，请勿转发到群里）", *blocks]
    )
    return {userid: text for userid in recipients}


def _chart(alliance: Alliance, period: Period, current: PeriodCounts) -> bytes | None:
    bars = [
        RateBar(counts.school, signin_rate(counts), reflection_rate(counts))
        for counts in current.schools
    ]
    try:
        return rates_chart(f"{alliance.name} {period.label} 各校签到率与反思提交率", bars)
    except FontNotFoundError as error:
        log.warning("digest chart skipped: %s", error)
        return None
