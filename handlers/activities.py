"""发起活动 / 修改活动 / 取消活动 / 活动: the alliance's teaching-research activities."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.messages import Broadcast, Effect, Reply
from bot.routing.context import Context, Hint
from bot.routing.permissions import Action
from bot.routing.router import Args, Router
from bot.text.dates import NO_TIME, Lessons, When, extract_when, parse_when, when_problem
from bot.text.recurrence import Repeat, RepeatProblem, take_repeat
from handlers import format as fmt
from handlers import series as recurring
from handlers.lesson_studies import add_round, study_teacher
from handlers.lookup import ACTIVITY_CODE, activity_by_code, scheduled, take_code
from handlers.teams import parse_target, target_label
from storage import Storage
from storage.models import Activity, ActivitySeries, Alliance
from storage.series import Instance

router = Router("activities")

KINDS = (
    "课例研讨",
    "一课多研",
    "同课异构",
    "听评课",
    "集体备课",
    "专题讲座",
    "送教下乡",
    "读书分享",
    "说课",
)
DEFAULT_KIND = "教研活动"
DEFAULT_DURATION = timedelta(hours=2)
DEFAULT_REFLECTION_DAYS = 3
# Fields may come anywhere after the code, in any order: 时间:… 地点:… (full-width ： too).
_FIELD = re.compile(r"(时间|标题|地点|类型|学时|反思截止|截止|签到码|对象|课例|执教)\s*:\s*")
_EXAMPLE = "例如：发起活动 周五 14:30 同课异构《秋天的雨》 地点:一中"
_SERIES_EXAMPLE = "例如：发起活动 每周三 15:00-17:00 集体备课 至1月14日"


@dataclass
class ActivityFields:
    when: When | None = None  # from the start of the text or 时间:
    title: str = ""
    place: str | None = None
    kind: str | None = None
    hours: float | None = None
    reflection_due: datetime | None = None
    signin_code: str | None = None
    target: str | None = None  # 对象: schools or a team (see handlers.teams.parse_target)
    repeat: Repeat | None = None  # 每周三 … 至1月14日: a series (see bot.text.recurrence)
    study: str | None = None  # 课例:… — the activity is this 课例's next round
    teacher: str | None = None  # 执教:… — who teaches that round


def parse_fields(text: str, now: datetime, lessons: Lessons = ()) -> ActivityFields:
    """Split `[时间] [标题] 时间:… 标题:… 地点:… 类型:… 学时:… 反思截止:… 签到码:… 对象:…`.

    Text before the first field is an optional time followed by the title; a time there
    that is incomplete (12月15日下午) is asked about rather than taken as a title. A text
    starting with 每周… is a series: its rule and end (至…/共N次) are taken out first."""
    fields = ActivityFields()
    try:
        taken = take_repeat(text, now)
    except RepeatProblem as problem:
        raise Hint(str(problem)) from None
    if taken is not None:
        fields.repeat, text = taken
    matches = list(_FIELD.finditer(text))
    lead = text[: matches[0].start()].strip() if matches else text.strip()
    found = extract_when(lead, now, lessons) if lead else None
    if found is not None and not found[0].has_time:
        raise Hint(when_problem(lead, now, lessons) or _EXAMPLE)
    if found is not None:
        fields.when, lead = found
    fields.title = lead
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        _set_field(fields, match.group(1), text[match.end() : end].strip(), now, lessons)
    if fields.repeat is not None and fields.when is not None and fields.when.has_date:
        raise Hint(
            f"系列活动的时间只写几点，日期由「{fields.repeat.label}」决定，{_SERIES_EXAMPLE}"
        )
    return fields


def _set_field(
    fields: ActivityFields, key: str, value: str, now: datetime, lessons: Lessons
) -> None:
    if not value:
        raise Hint(f"「{key}:」后面缺少内容。")
    if key == "时间":
        parsed = parse_when(value, now, lessons)
        if parsed is None or not parsed.has_time:
            raise Hint(when_problem(value, now, lessons) or f"没看懂时间「{value}」")
        fields.when = parsed
    elif key == "标题":
        fields.title = value
    elif key == "地点":
        fields.place = value
    elif key == "类型":
        fields.kind = value
    elif key == "学时":
        fields.hours = _hours(value)
    elif key in ("反思截止", "截止"):
        fields.reflection_due = _due(value, now, lessons)
    elif key == "对象":
        fields.target = value
    elif key == "课例":
        fields.study = value
    elif key == "执教":
        fields.teacher = value
    else:
        fields.signin_code = value


def _hours(value: str) -> float:
    try:
        hours = float(value.removesuffix("学时").removesuffix("小时"))
    except ValueError:
        raise Hint(f"学时要写数字，例如 学时:2（你写的是「{value}」）。") from None
    if not 0 < hours <= 24:
        raise Hint("学时应在 0 到 24 之间。")
    return hours


def _due(value: str, now: datetime, lessons: Lessons) -> datetime:
    parsed = parse_when(value, now, lessons)
    if parsed is None:
        raise Hint(f"没看懂反思截止时间「{value}」，例如 反思截止:12月1日")
    if parsed.has_time:
        return parsed.start
    return datetime.combine(parsed.start.date(), time(23, 59), tzinfo=parsed.start.tzinfo)


def infer_kind(title: str) -> str:
    for kind in KINDS:
        if kind in title:
            return kind
    return DEFAULT_KIND


def default_reflection_due(end: datetime, ctx: Context) -> datetime:
    local = ctx.local(end) + timedelta(days=DEFAULT_REFLECTION_DAYS)
    return datetime.combine(local.date(), time(23, 59), tzinfo=local.tzinfo)


def announcement(
    storage: Storage,
    activity: Activity,
    ctx: Context,
    headline: str,
    changed: Sequence[str] = (),
) -> Broadcast:
    zone = ctx.zone
    lines = [f"【{headline}】{fmt.activity_line(activity, zone)}", *changed]
    lines.append(
        f"签到：{fmt.clock_time(activity.signin_opens_at, zone)} 起发送「签到 {activity.code}」"
        + ("（需签到码）" if activity.signin_code else "")
    )
    if activity.reflection_due:
        lines.append(
            f"反思：{fmt.when(activity.reflection_due, zone)} 前发送「反思 {activity.code} 正文」"
        )
    lines.append(
        f"学时：{fmt.hours(activity.hours)}。不能参加请发送「请假 {activity.code} 原因」。"
    )
    audience = target_label(ctx, storage.teams.activity_target(activity.id))
    if audience:
        lines.insert(1 + len(changed), f"对象：{audience}")
    return Broadcast(
        text="\n".join(lines),
        alliance_ids=storage.roster.descendants(activity.alliance_id),
    )


@router.command(
    "发起活动",
    aliases=("新建活动", "创建活动", "发布活动", "fqhd"),
    action=Action.MANAGE_ACTIVITY,
    summary="发起一次教研活动并通知本联盟",
    usage="发起活动 时间 标题 [地点:] [类型:] [学时:] [反思截止:] [签到码:] [对象:]（时间可写 第三节；"
    "每周三 15:00 … 至1月14日 或 共8次：系列活动）",
    examples=(
        "发起活动 周五 14:30-16:30 同课异构《秋天的雨》 地点:一中 学时:2",
        "发起活动 11月28日下午2点 集体备课 地点:二小三楼 反思截止:12月1日",
        "发起活动 周三 15:00 读书分享 对象:团队 一小青年语文组",
        "发起活动 每周三 15:00-17:00 集体备课《单元整体教学》 至1月14日",
        "发起活动 每两周周二 14:30 听评课 共8次",
    ),
)
def create_activity(ctx: Context, args: Args) -> list[Effect]:
    alliance = ctx.require_alliance()
    ctx.require(Action.MANAGE_ACTIVITY, alliance)
    fields = parse_fields(args.text, ctx.now(), ctx.config.lessons)
    if fields.repeat is not None and (fields.study or fields.teacher):
        raise Hint("课例的每一轮要单独发起（系列活动不能写 课例:/执教:）。")
    if fields.repeat is not None:
        return create_series(ctx, alliance, fields, fields.repeat)
    when = fields.when
    if when is None:
        problem = when_problem(args.text, ctx.now(), ctx.config.lessons)
        if problem is None or problem == NO_TIME:
            problem = f"请先写时间再写标题，{_EXAMPLE}"
        raise Hint(problem)
    if not fields.title:
        raise Hint("请写活动标题，例如：发起活动 周五 14:30 集体备课 地点:一中")
    now = ctx.clock.now()
    start = when.start
    end = when.end or start + DEFAULT_DURATION
    if end <= now:
        raise Hint("活动时间已经过去了，请检查日期。")
    target = parse_target(ctx, fields.target, alliance.id) if fields.target else None
    school = ctx.storage.roster.find_school(fields.place) if fields.place else None
    teacher = study_teacher(ctx, alliance, fields.study, fields.teacher)
    activity = ctx.storage.activities.create(
        alliance_id=alliance.id,
        kind=fields.kind or infer_kind(fields.title),
        title=fields.title,
        place=fields.place,
        school_id=school.id if school else None,
        starts_at=start,
        ends_at=end,
        signin_opens_at=start - timedelta(minutes=ctx.config.signin_open_minutes),
        signin_code=fields.signin_code,
        hours=fields.hours if fields.hours is not None else 2.0,
        reflection_due=fields.reflection_due or default_reflection_due(end, ctx),
        created_by=ctx.member.id if ctx.member else None,
        created_at=now,
    )
    if target is not None:
        ctx.storage.teams.set_activity_target(activity.id, target)
    study = [add_round(ctx, activity, fields.study, teacher)] if fields.study else []
    ctx.storage.audit.record(now, ctx.incoming.userid, "activity.create", activity.code)
    where = f"（{study[0]}）" if study else ""
    return [
        announcement(ctx.storage, activity, ctx, "新活动", study),
        Reply(
            text=f"已发起活动 {activity.code}{where}。修改：修改活动 {activity.code} 地点:… ；"
            f"取消：取消活动 {activity.code} 原因",
            private=True,
        ),
    ]


@router.command(
    "修改活动",
    aliases=("更改活动", "调整活动", "xghd"),
    action=Action.MANAGE_ACTIVITY,
    summary="修改活动时间、标题、地点等，并通知参与者",
    usage="修改活动 A编号|S编号 [新时间] [新标题] [时间:] [标题:] [地点:] [类型:] [学时:] [反思截止:] [签到码:] [对象:]（S编号：系列活动以后的各次）",
    examples=(
        "修改活动 A7 周五 15:00-17:00",
        "修改活动 A7 时间:12月16日 15:00",
        "修改活动 A7 地点:二小报告厅",
        "修改活动 S3 16:00-17:30 地点:二小报告厅",
    ),
)
def change_activity(ctx: Context, args: Args) -> list[Effect]:
    series_number, series_rest = take_code(args.text, recurring.SERIES_CODE)
    if series_number is not None:
        return change_series(ctx, recurring.series_by_code(ctx, series_number), series_rest)
    number, rest = take_code(args.text, ACTIVITY_CODE)
    if number is None:
        raise Hint("请写活动编号，例如：修改活动 A7 地点:二小报告厅（系列活动：修改活动 S3 …）")
    activity = scheduled(activity_by_code(ctx, number))
    ctx.require(Action.MANAGE_ACTIVITY, ctx.storage.roster.alliance(activity.alliance_id))
    fields = parse_fields(rest, ctx.now(), ctx.config.lessons)
    if fields.repeat is not None:
        raise Hint("修改一次活动不能改成重复；要发起系列活动请用：发起活动 每周三 15:00 …")
    changes = changes_for(ctx, activity, fields)
    target = parse_target(ctx, fields.target, activity.alliance_id) if fields.target else None
    if target is not None:
        ctx.storage.teams.set_activity_target(activity.id, target)
    if not changes and target is None:
        raise Hint("没有看到要修改的内容。例如：修改活动 A7 周五 15:00 或 修改活动 A7 地点:二小")
    updated = ctx.storage.activities.update(activity.id, at=ctx.clock.now(), **changes)
    ctx.storage.audit.record(
        ctx.clock.now(),
        ctx.incoming.userid,
        "activity.change",
        f"{activity.code} {sorted(changes) + (['target'] if target else [])}",
    )
    changed = describe_changes(activity, updated, ctx.zone)
    if target is not None:
        changed.append("对象：已调整")
    return [
        announcement(ctx.storage, updated, ctx, "活动调整", changed),
        Reply(text=f"已修改活动 {updated.code}，并通知了参与者。", private=True),
    ]


def changes_for(ctx: Context, activity: Activity, fields: ActivityFields) -> dict[str, object]:
    """The columns a 修改活动 changes on one activity (a bare time keeps its date)."""
    changes: dict[str, object] = {}
    if fields.when is not None:
        when = fields.when.on_day(ctx.local(activity.starts_at).date())
        duration = activity.ends_at - activity.starts_at
        changes["starts_at"] = when.start
        changes["ends_at"] = when.end or when.start + duration
        changes["signin_opens_at"] = when.start - timedelta(minutes=ctx.config.signin_open_minutes)
        if activity.reflection_due is not None:
            changes["reflection_due"] = default_reflection_due(changes["ends_at"], ctx)  # type: ignore[arg-type]
    if fields.title:
        changes["title"] = fields.title
    for key in ("place", "kind", "hours", "reflection_due", "signin_code"):
        value = getattr(fields, key)
        if value is not None:
            changes[key] = value
    return changes


def describe_changes(old: Activity, new: Activity, zone: ZoneInfo) -> list[str]:
    """What a 修改活动 changed, old → new, for the announcement (a new 签到码 stays secret:
    it is announced on site)."""
    lines = []
    if (old.starts_at, old.ends_at) != (new.starts_at, new.ends_at):
        before = fmt.span(old.starts_at, old.ends_at, zone)
        lines.append(f"时间：{before} → {fmt.span(new.starts_at, new.ends_at, zone)}")
    for label, before, after in (
        ("标题", old.title, new.title),
        ("地点", old.place or "未定", new.place or "未定"),
        ("类型", old.kind, new.kind),
        ("学时", fmt.hours(old.hours), fmt.hours(new.hours)),
    ):
        if before != after:
            lines.append(f"{label}：{before} → {after}")
    if old.reflection_due != new.reflection_due and new.reflection_due is not None:
        before = fmt.when(old.reflection_due, zone) if old.reflection_due else "未定"
        lines.append(f"反思截止：{before} → {fmt.when(new.reflection_due, zone)}")
    if old.signin_code != new.signin_code:
        lines.append("签到码：已更换，以现场公布的为准")
    return lines


@router.command(
    "取消活动",
    aliases=("删除活动", "qxhd"),
    action=Action.MANAGE_ACTIVITY,
    summary="取消活动并通知参与者",
    usage="取消活动 A编号|S编号 [原因]（S编号：系列活动以后的各次）",
    examples=("取消活动 A7 因天气原因延期", "取消活动 S3 本学期集体备课到此结束"),
)
def cancel_activity(ctx: Context, args: Args) -> list[Effect]:
    series_number, series_reason = take_code(args.raw, recurring.SERIES_CODE)
    if series_number is not None:
        series = recurring.series_by_code(ctx, series_number)
        return cancel_series(ctx, series, series_reason)
    number, reason = take_code(args.raw, ACTIVITY_CODE)
    if number is None:
        raise Hint("请写活动编号，例如：取消活动 A7 因天气原因延期（系列活动：取消活动 S3）")
    activity = scheduled(activity_by_code(ctx, number))
    ctx.require(Action.MANAGE_ACTIVITY, ctx.storage.roster.alliance(activity.alliance_id))
    cancelled = ctx.storage.activities.cancel(activity.id, reason or None, at=ctx.clock.now())
    ctx.storage.audit.record(ctx.clock.now(), ctx.incoming.userid, "activity.cancel", activity.code)
    because = f"，原因：{reason}" if reason else ""
    return [
        Broadcast(
            text=f"【活动取消】{fmt.activity_line(cancelled, ctx.zone)} 已取消{because}。",
            alliance_ids=ctx.storage.roster.descendants(activity.alliance_id),
        ),
        Reply(text=f"已取消活动 {activity.code}，并通知了参与者。", private=True),
    ]


@router.command(
    "活动",
    aliases=("活动列表", "近期活动", "hd"),
    summary="查看本联盟近期和即将开展的活动",
    usage="活动",
    examples=("活动",),
)
def list_activities(ctx: Context, args: Args) -> str:
    alliance = ctx.require_alliance()
    roster = ctx.storage.roster
    scope = sorted(set(roster.ancestors(alliance.id)) | set(roster.descendants(alliance.id)))
    now = ctx.clock.now()
    items = ctx.storage.activities.in_alliances(
        scope, starts_from=now - timedelta(days=14), starts_before=now + timedelta(days=60)
    )
    upcoming = _one_per_series([a for a in items if a.ends_at >= now])
    recent = [a for a in items if a.ends_at < now][-5:]
    if not upcoming and not recent:
        return (
            f"「{alliance.name}」近期没有活动。负责人可发送：发起活动 周五 14:30 集体备课 地点:一中"
        )
    lines = [f"「{alliance.name}」的活动："]
    if upcoming:
        lines.append("即将开展：")
        lines.extend(f"· {_list_line(ctx, a)}" for a in upcoming[:10])
    if recent:
        lines.append("最近结束：")
        lines.extend(f"· {fmt.activity_line(a, ctx.zone)}" for a in recent)
    lines.append("签到：签到 A编号；交反思：反思 A编号 正文")
    return "\n".join(lines)


def _one_per_series(activities: list[Activity]) -> list[Activity]:
    """Each series once, at its next instance: 活动 shows a series as one line."""
    seen: set[int] = set()
    kept = []
    for activity in activities:
        if activity.series_id is not None:
            if activity.series_id in seen:
                continue
            seen.add(activity.series_id)
        kept.append(activity)
    return kept


def _list_line(ctx: Context, activity: Activity) -> str:
    series = ctx.storage.series.get(activity.series_id) if activity.series_id else None
    if series is None:
        return fmt.activity_line(activity, ctx.zone)
    return recurring.list_line(series, activity, ctx)


def create_series(
    ctx: Context, alliance: Alliance, fields: ActivityFields, repeat: Repeat
) -> list[Effect]:
    """发起活动 每周三 …: every instance at once, announced once."""
    ctx.require(Action.START_SERIES, alliance)
    when = fields.when
    if when is None:
        raise Hint(f"请写每次的时间，{_SERIES_EXAMPLE}")
    if not fields.title:
        raise Hint(f"请写活动标题，{_SERIES_EXAMPLE}")
    if fields.reflection_due is not None:
        raise Hint(
            f"系列活动的反思截止是每次活动后 {DEFAULT_REFLECTION_DAYS} 天，不能统一指定一个日期；"
            "发起后可逐次修改，例如：修改活动 A12 反思截止:12月20日"
        )
    plan = recurring.plan(ctx, repeat, when)
    target = parse_target(ctx, fields.target, alliance.id) if fields.target else None
    school = ctx.storage.roster.find_school(fields.place) if fields.place else None
    instances = []
    for day in plan.schedule.days:
        start, end = recurring.at_clock(when, day)
        end = end or start + DEFAULT_DURATION
        instances.append(
            Instance(
                starts_at=start,
                ends_at=end,
                signin_opens_at=start - timedelta(minutes=ctx.config.signin_open_minutes),
                reflection_due=default_reflection_due(end, ctx),
            )
        )
    now = ctx.clock.now()
    series, activities = ctx.storage.series.create(
        alliance_id=alliance.id,
        title=fields.title,
        rule=repeat.label,
        created_at=now,
        created_by=ctx.member.id if ctx.member else None,
        instances=instances,
        target=target,
        kind=fields.kind or infer_kind(fields.title),
        place=fields.place,
        school_id=school.id if school else None,
        signin_code=fields.signin_code,
        hours=fields.hours if fields.hours is not None else 2.0,
    )
    ctx.storage.audit.record(
        now, ctx.incoming.userid, "series.create", f"{series.code} {len(activities)}"
    )
    lines, reply = recurring.created_texts(series, activities, plan, ctx)
    audience = target_label(ctx, target) if target is not None else None
    if audience:
        lines.insert(2, f"对象：{audience}")
    return [
        Broadcast(text="\n".join(lines), alliance_ids=ctx.storage.roster.descendants(alliance.id)),
        Reply(text=reply, private=True),
    ]


def change_series(ctx: Context, series: ActivitySeries, text: str) -> list[Effect]:
    """修改活动 S3 …: the instances not yet started, announced once."""
    ctx.require(Action.MANAGE_ACTIVITY, ctx.storage.roster.alliance(series.alliance_id))
    left = recurring.remaining(ctx, series)
    fields = parse_fields(text, ctx.now(), ctx.config.lessons)
    if fields.repeat is not None:
        raise Hint(f"不能修改重复规则。请先「取消活动 {series.code}」，再按新规则发起系列活动。")
    if fields.when is not None and fields.when.has_date:
        raise Hint(
            f"系列活动只能统一改几点，例如：修改活动 {series.code} 16:00-17:30；"
            f"要改某一次的日期请用：修改活动 {left[0].code} 12月17日 15:00"
        )
    if fields.reflection_due is not None:
        raise Hint(f"反思截止请逐次修改，例如：修改活动 {left[0].code} 反思截止:12月20日")
    changes = [changes_for(ctx, activity, fields) for activity in left]
    target = parse_target(ctx, fields.target, series.alliance_id) if fields.target else None
    if not changes[0] and target is None:
        raise Hint(f"没有看到要修改的内容。例如：修改活动 {series.code} 16:00 或 地点:二小")
    updated = ctx.storage.series.update_instances([a.id for a in left], changes, at=ctx.clock.now())
    if target is not None:
        ctx.storage.series.set_target([a.id for a in left], target)
    ctx.storage.audit.record(
        ctx.clock.now(),
        ctx.incoming.userid,
        "series.change",
        f"{series.code} {sorted(changes[0]) + (['target'] if target else [])}",
    )
    changed = [
        line
        for line in describe_changes(left[0], updated[0], ctx.zone)
        if not line.startswith("时间：")
    ]
    span = recurring.series_span_change(left[0], updated[0], series.rule, ctx)
    if span is not None:
        changed.insert(0, span)
    if target is not None:
        label = target_label(ctx, target)
        changed.append(f"对象：{label}" if label else "对象：已调整")
    scope = recurring.scope_text(series, updated, ctx)
    return [
        Broadcast(
            text="\n".join([f"【活动调整】{scope}", *changed]),
            alliance_ids=ctx.storage.roster.descendants(series.alliance_id),
        ),
        Reply(
            text=f"已修改系列活动 {series.code} 以后的 {len(updated)} 次，并通知了参与者。",
            private=True,
        ),
    ]


def cancel_series(ctx: Context, series: ActivitySeries, reason: str) -> list[Effect]:
    """取消活动 S3 [原因]: the instances not yet started, announced once; held ones stay."""
    ctx.require(Action.MANAGE_ACTIVITY, ctx.storage.roster.alliance(series.alliance_id))
    left = recurring.remaining(ctx, series)
    scope = recurring.scope_text(series, left, ctx)
    ctx.storage.series.cancel(series.id, [a.id for a in left], reason or None, at=ctx.clock.now())
    ctx.storage.audit.record(ctx.clock.now(), ctx.incoming.userid, "series.cancel", series.code)
    because = f"，原因：{reason}" if reason else ""
    return [
        Broadcast(
            text=f"【活动取消】{scope}已取消{because}。",
            alliance_ids=ctx.storage.roster.descendants(series.alliance_id),
        ),
        Reply(
            text=f"已取消系列活动 {series.code} 以后的 {len(left)} 次，并通知了参与者。",
            private=True,
        ),
    ]
