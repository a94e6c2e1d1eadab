"""团队 / 梯队: a school's 校级联盟 teams (5–10 teachers, possibly across two schools) and
its 梯队 (青年、成长、名优教师). A school's leader manages their school; staff any school."""

from __future__ import annotations

from collections import defaultdict

from bot.routing.context import Context, Hint
from bot.routing.permissions import Action, TeamScope
from bot.routing.router import Args, Router
from bot.text.normalize import split_words
from handlers.lookup import member_named
from storage.models import ActivityTarget, Member, Role, Team, Tier
from storage.teams import TIER_HINT, parse_tier

router = Router("teams")

TEAM_SIZE = (5, 10)
NO_TIER = "未分梯队"
_CREATE = ("新建", "创建", "组建", "成立")
_ADD = ("加入", "添加", "增加")
_REMOVE = ("移除", "删除", "退出")
_DISSOLVE = ("解散",)
_CLEAR = ("清除", "取消", "无")
CREATE_EXAMPLE = "团队 新建 一小青年语文组 王芳 李强 张敏(东部二小)"


def _people(ctx: Context, names: list[str]) -> list[Member]:
    people = [member_named(ctx, name) for name in names]
    for person in people:
        alliance = ctx.storage.roster.alliance(person.alliance_id) if person.alliance_id else None
        if not ctx.reaches(alliance):
            raise Hint(f"{person.name}不在你所在的联盟，不能加入团队。")
    return list({p.id: p for p in people}.values())


def _team(ctx: Context, name: str) -> Team:
    team = ctx.storage.teams.find(name)
    if team is None:
        raise Hint(f"没有找到团队「{name}」。发送「团队」查看已有团队。")
    return team


def _schools_of(people: list[Member]) -> list[str]:
    return list(dict.fromkeys(p.school_name or "（未填学校）" for p in people))


def _size_note(count: int) -> str:
    low, high = TEAM_SIZE
    if low <= count <= high:
        return ""
    return f"（提示：校级联盟团队一般 {low}–{high} 人，目前 {count} 人）"


def team_text(ctx: Context, team: Team) -> str:
    people = ctx.storage.teams.members(team.id)
    tiers = ctx.storage.teams.tiers(p.id for p in people)
    home = ctx.storage.roster.school(team.school_id)
    schools = _schools_of(people)
    cross = f"，校际联盟：{'、'.join(schools)}" if len(schools) > 1 else ""
    head = f"团队「{team.name}」（{home.name if home else '未定学校'}，{len(people)} 人{cross}）"
    if not people:
        return f"{head}：还没有成员。添加：团队 加入 {team.name} 姓名…"
    by_school: dict[str, list[str]] = defaultdict(list)
    for person in people:
        tier = tiers.get(person.id)
        label = f"{person.name}（{tier.label[:2]}）" if tier else person.name
        by_school[person.school_name or "（未填学校）"].append(label)
    lines = [head + "："]
    lines.extend(f"· {school}：{'、'.join(names)}" for school, names in by_school.items())
    return "\n".join(lines)


def _visible_teams(ctx: Context) -> tuple[str, list[Team]]:
    teams = ctx.storage.teams
    roster = ctx.storage.roster
    scope = ctx.team_scope()
    if scope is TeamScope.DISTRICT:
        if ctx.alliance is None:
            return "全部团队", teams.all()
        return f"「{ctx.alliance.name}」的团队", teams.in_alliances(
            roster.descendants(ctx.alliance.id)
        )
    member = ctx.require_member()
    if scope is TeamScope.SCHOOL and member.school_id is not None:
        return f"{member.school_name}的团队", teams.touching_schools([member.school_id])
    if scope is TeamScope.ALLIANCE and member.alliance_id is not None:
        return "本联盟的团队", teams.in_alliances(roster.descendants(member.alliance_id))
    names = teams.team_names_of([member.id]).get(member.id, [])
    own = [team for name in names if (team := teams.named(name)) is not None]
    return "你所在的团队", own


@router.command(
    "团队",
    aliases=("校级联盟", "td"),
    summary="查看或组建校级联盟团队（可跨校组成校际联盟）",
    usage="团队 [名称] ｜ 团队 新建 名称 成员… ｜ 团队 加入/移除 名称 成员… ｜ 团队 解散 名称",
    examples=(CREATE_EXAMPLE, "团队 加入 一小青年语文组 赵磊", "团队", "团队 一小青年语文组"),
)
def teams_command(ctx: Context, args: Args) -> str:
    words = split_words(args.text)
    if not words:
        return _list(ctx)
    verb, rest = words[0], words[1:]
    if verb in _CREATE:
        return _create(ctx, rest)
    if verb in _ADD + _REMOVE:
        return _change(ctx, rest, adding=verb in _ADD)
    if verb in _DISSOLVE:
        return _dissolve(ctx, rest)
    return team_text(ctx, _team(ctx, args.text))


def _list(ctx: Context) -> str:
    title, teams = _visible_teams(ctx)
    if not teams:
        hint = f"组建：{CREATE_EXAMPLE}" if ctx.may(Action.MANAGE_TEAMS) else ""
        return f"{title}：还没有。{hint}".rstrip("。") + ("" if hint else "。")
    lines = [f"{title}（{len(teams)} 个）："]
    for team in teams:
        people = ctx.storage.teams.members(team.id)
        schools = _schools_of(people)
        cross = "，跨校" if len(schools) > 1 else ""
        home = ctx.storage.roster.school(team.school_id)
        lines.append(
            f"· {team.name}（{home.name if home else '未定学校'}，{len(people)} 人{cross}）"
        )
    lines.append("查看成员：团队 名称")
    return "\n".join(lines)


def _create(ctx: Context, rest: list[str]) -> str:
    ctx.require_role(Action.MANAGE_TEAMS)
    if not rest:
        raise Hint(f"请写团队名称和成员，例如：{CREATE_EXAMPLE}")
    name, names = rest[0], rest[1:]
    if len(name) > 30:
        raise Hint("团队名称太长了，请控制在 30 字以内。")
    if ctx.storage.teams.named(name) is not None:
        raise Hint(f"团队「{name}」已经存在。添加成员：团队 加入 {name} 姓名")
    people = _people(ctx, names)
    leader = ctx.member
    home_id = ctx.new_team_school(people[0].school_id if people else None)
    ctx.require_school(home_id)
    home = ctx.storage.roster.school(home_id)
    alliance_id = home.alliance_id if home else (ctx.alliance.id if ctx.alliance else None)
    now = ctx.clock.now()
    team = ctx.storage.teams.create(
        name,
        at=now,
        alliance_id=alliance_id,
        school_id=home_id,
        created_by=leader.id if leader else None,
        member_ids=[p.id for p in people],
    )
    ctx.storage.audit.record(now, ctx.incoming.userid, "team.create", name)
    return f"已组建团队「{name}」。{_size_note(len(people))}\n{team_text(ctx, team)}"


def _change(ctx: Context, rest: list[str], *, adding: bool) -> str:
    verb = "加入" if adding else "移除"
    if len(rest) < 2:
        raise Hint(f"请写团队名称和成员，例如：团队 {verb} 一小青年语文组 赵磊")
    team = _team(ctx, rest[0])
    ctx.require_school(team.school_id)
    people = _people(ctx, rest[1:])
    ids = [p.id for p in people]
    if adding:
        changed = ctx.storage.teams.add_members(team.id, ids, at=ctx.clock.now())
    else:
        changed = ctx.storage.teams.remove_members(team.id, ids)
    ctx.storage.audit.record(
        ctx.clock.now(), ctx.incoming.userid, f"team.{'add' if adding else 'remove'}", team.name
    )
    done = [p.name for p in people if p.id in changed]
    skipped = [p.name for p in people if p.id not in changed]
    parts = []
    if done:
        parts.append(f"已{verb}：{'、'.join(done)}。")
    if skipped:
        state = "已在团队中" if adding else "不在团队中"
        parts.append(f"{'、'.join(skipped)}{state}。")
    count = len(ctx.storage.teams.members(team.id))
    return "".join(parts) + _size_note(count) + "\n" + team_text(ctx, team)


def _dissolve(ctx: Context, rest: list[str]) -> str:
    if not rest:
        raise Hint("请写团队名称，例如：团队 解散 一小青年语文组")
    team = _team(ctx, rest[0])
    ctx.require_school(team.school_id)
    if ctx.storage.teams.is_targeted(team.id):
        raise Hint(f"团队「{team.name}」有面向它的活动，不能解散（可移除成员）。")
    ctx.storage.teams.delete(team.id)
    ctx.storage.audit.record(ctx.clock.now(), ctx.incoming.userid, "team.dissolve", team.name)
    return f"已解散团队「{team.name}」。"


@router.command(
    "梯队",
    aliases=("梯队建设",),
    summary="查看或设置教师梯队（青年、成长、名优教师）",
    usage="梯队 ｜ 梯队 青年|成长|名优|清除 姓名…",
    examples=("梯队", "梯队 青年 王芳 李强", "梯队 名优 刘洋"),
)
def tiers_command(ctx: Context, args: Args) -> str:
    words = split_words(args.text)
    if not words:
        return _tier_overview(ctx)
    tier = parse_tier(words[0])
    clear = words[0] in _CLEAR
    if tier is None and not clear:
        raise Hint(f"梯队请写{TIER_HINT}，例如：梯队 青年 王芳 李强")
    if len(words) < 2:
        raise Hint(f"请写老师姓名，例如：梯队 {words[0]} 王芳 李强")
    ctx.require_role(Action.MANAGE_TEAMS)
    people = _people(ctx, words[1:])
    for person in people:
        ctx.require_school(person.school_id)
    for person in people:
        ctx.storage.teams.set_tier(person.id, tier)
    ctx.storage.audit.record(ctx.clock.now(), ctx.incoming.userid, "tier.set", words[0])
    names = "、".join(p.name for p in people)
    if tier is None:
        return f"已清除 {names} 的梯队。"
    return f"已把 {names} 列入{tier.label}梯队。查看：梯队"


def _tier_overview(ctx: Context) -> str:
    member = ctx.require_member()
    if not ctx.may(Action.MANAGE_TEAMS):
        tier = ctx.storage.teams.tiers([member.id]).get(member.id)
        mine = f"{tier.label}梯队" if tier else "还没有分梯队（由学校业务领导设置）"
        return f"{member.name}：{mine}。"
    roster = ctx.storage.roster
    if ctx.team_scope() is TeamScope.SCHOOL:
        title = f"{member.school_name}"
        people = [
            p
            for p in roster.members_in(roster.descendants(member.alliance_id or 0))
            if p.school_id == member.school_id
        ]
    else:
        alliance = ctx.require_alliance()
        title = f"「{alliance.name}」"
        people = roster.members_in(roster.descendants(alliance.id), (Role.TEACHER, Role.LEADER))
    people = [p for p in people if p.role in (Role.TEACHER, Role.LEADER)]
    tiers = ctx.storage.teams.tiers(p.id for p in people)
    groups: dict[str, list[Member]] = {tier.label: [] for tier in Tier}
    groups[NO_TIER] = []
    for person in people:
        tier = tiers.get(person.id)
        groups[tier.label if tier else NO_TIER].append(person)
    lines = [f"{title}梯队（{len(people)} 人）："]
    for label, members in groups.items():
        if not members:
            continue
        names = "、".join(p.name for p in members[:20])
        more = f"等 {len(members)} 人" if len(members) > 20 else ""
        lines.append(f"· {label} {len(members)} 人：{names}{more}")
    lines.append("设置：梯队 青年 王芳 李强（也可在名册中填写「梯队」列）")
    return "\n".join(lines)


# activity targets (发起活动 … 对象:…) ------------------------------------------------------

WHOLE_ALLIANCE_WORDS = ("全联盟", "全部", "全体", "所有人")
TARGET_EXAMPLE = "对象:东部一小,东部二小 或 对象:团队 一小青年语文组"


def parse_target(ctx: Context, text: str, alliance_id: int) -> ActivityTarget:
    """`团队 名称`, or schools separated by commas, or 全联盟; within the alliance's tree."""
    value = text.strip()
    tree = set(ctx.storage.roster.descendants(alliance_id))
    if value in WHOLE_ALLIANCE_WORDS:
        return ActivityTarget()
    for word in ("团队", "校级联盟"):
        if value.startswith(word):
            name = value[len(word) :].strip(" :：")
            if not name:
                raise Hint(f"请写团队名称，例如：{TARGET_EXAMPLE}")
            team = _team(ctx, name)
            if team.alliance_id is not None and team.alliance_id not in tree:
                raise Hint(f"团队「{team.name}」不属于本联盟。")
            return ActivityTarget(team_id=team.id)
    schools: list[int] = []
    for name in split_words(value):
        school = ctx.storage.roster.find_school(name)
        if school is None:
            if ctx.storage.teams.named(name) is not None:
                raise Hint(f"「{name}」是团队，请写成：对象:团队 {name}")
            raise Hint(f"没有找到学校「{name}」。例如：{TARGET_EXAMPLE}")
        if school.alliance_id not in tree:
            raise Hint(f"{school.name}不在本联盟，不能作为活动对象。")
        schools.append(school.id)
    if not schools:
        raise Hint(f"请写活动对象，例如：{TARGET_EXAMPLE}")
    return ActivityTarget(school_ids=schools)


def target_label(ctx: Context, target: ActivityTarget) -> str | None:
    """e.g. `团队「一小青年语文组」` or `东部一小、东部二小`; None for the whole alliance."""
    if target.team_id is not None:
        team = ctx.storage.teams.get(target.team_id)
        return f"团队「{team.name}」" if team else "团队"
    if target.school_ids:
        roster = ctx.storage.roster
        names = [s.name for sid in target.school_ids if (s := roster.school(sid)) is not None]
        return "、".join(names)
    return None
