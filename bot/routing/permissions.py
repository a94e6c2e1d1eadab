"""Who may do what — the one place every permission decision is made."""

from __future__ import annotations

from enum import StrEnum

from storage.models import Alliance, Member, Role


class Action(StrEnum):
    PUBLIC = "public"  # anyone, even someone not yet in the roster: help, 我是
    USE = "use"  # anything a bound member may do: help, own records, sign in, reflect, ack
    POST_NOTICE = "post_notice"
    MANAGE_ACTIVITY = "manage_activity"
    START_SERIES = "start_series"  # 发起活动 每周三 …: a recurring activity (series)
    VIEW_RECEIPTS = "view_receipts"
    PROXY_SIGNIN = "proxy_signin"
    VIEW_SUMMARY = "view_summary"
    VIEW_NAMES = "view_names"
    REMIND = "remind"
    BIND_CHAT = "bind_chat"
    SET_ROLE = "set_role"
    RECOMMEND_RESOURCE = "recommend_resource"  # push a shared resource to the groups
    REQUEST_FEEDBACK = "request_feedback"  # 征集: ask the schools for information
    VIEW_FEEDBACK = "view_feedback"  # see every school's answers side by side
    SET_CONTACT = "set_contact"  # name the person who answers 征集 for a school
    MANAGE_TEAMS = "manage_teams"  # 校级联盟 teams and 梯队
    UNBIND_MEMBER = "unbind_member"  # 解绑: undo a 我是 claim (its alliance's leader, staff)
    VIEW_REVIEWS = "view_reviews"  # read every 评课/听课 of an alliance in full
    SET_RATING_FORM = "set_rating_form"  # 量表: the items a 评课 scores, per activity type
    SET_OBSERVATION_QUOTA = "set_observation_quota"  # 听课任务: 听课 per teacher per term
    VIEW_ARCHIVE = "view_archive"  # 档案 王芳: another member's 成长档案


_STAFFISH = frozenset({Role.ADMIN, Role.STAFF, Role.LEADER})

ALLOWED: dict[Action, frozenset[Role]] = {
    Action.PUBLIC: frozenset(Role),
    Action.USE: frozenset(Role),
    Action.POST_NOTICE: _STAFFISH,
    Action.MANAGE_ACTIVITY: _STAFFISH,
    # Staff and the alliance's leaders schedule a term's worth of activities; teachers do not.
    Action.START_SERIES: _STAFFISH,
    Action.VIEW_RECEIPTS: _STAFFISH,
    Action.PROXY_SIGNIN: _STAFFISH,
    Action.VIEW_SUMMARY: _STAFFISH,
    Action.VIEW_NAMES: _STAFFISH,
    Action.REMIND: _STAFFISH,
    Action.BIND_CHAT: frozenset({Role.ADMIN, Role.STAFF}),
    Action.SET_ROLE: frozenset({Role.ADMIN}),
    Action.RECOMMEND_RESOURCE: _STAFFISH,
    # A leader asks the schools of their own alliance (Context.require checks the reach).
    Action.REQUEST_FEEDBACK: _STAFFISH,
    Action.VIEW_FEEDBACK: frozenset({Role.ADMIN, Role.STAFF}),
    Action.SET_CONTACT: _STAFFISH,
    Action.MANAGE_TEAMS: _STAFFISH,
    Action.UNBIND_MEMBER: _STAFFISH,
    Action.VIEW_REVIEWS: _STAFFISH,
    Action.SET_RATING_FORM: frozenset({Role.ADMIN, Role.STAFF}),
    Action.SET_OBSERVATION_QUOTA: _STAFFISH,
    Action.VIEW_ARCHIVE: _STAFFISH,
}

# Roles whose reach covers every alliance; a leader only reaches their own alliance tree.
_DISTRICT_WIDE = frozenset({Role.ADMIN, Role.STAFF})


def effective_role(member: Member | None, userid: str, admins: frozenset[str]) -> Role | None:
    """Configured admins are admins whatever the roster says; unknown users have no role."""
    if userid in admins:
        return Role.ADMIN
    return member.role if member is not None and member.active else None


def may(role: Role | None, action: Action) -> bool:
    if action is Action.PUBLIC:
        return True
    return role is not None and role in ALLOWED[action]


def reaches(
    role: Role | None, member: Member | None, alliance: Alliance | None, tree: list[int]
) -> bool:
    """Whether this person may act on `alliance`; `tree` is the member's alliance and below.

    `alliance` None means "all alliances" (a notice to 全部), which only district-wide roles reach.
    """
    if role in _DISTRICT_WIDE:
        return True
    if alliance is None or member is None:
        return False
    return alliance.id in tree


def needed_role_label(action: Action) -> str:
    labels = [
        role.label for role in (Role.ADMIN, Role.STAFF, Role.LEADER) if role in ALLOWED[action]
    ]
    return "、".join(labels)


def answers_for(
    role: Role | None, member: Member | None, contact_of: list[int], own_uncovered: bool = False
) -> list[int]:
    """The schools whose 征集 this person answers: their own school as its leader (业务领导),
    every school that named them its contact (`联系人 学校 姓名`), and their own school when
    it has neither (`own_uncovered`: the 征集 went to its teachers, any of whom answers)."""
    schools = list(contact_of)
    own = member.school_id if member is not None else None
    if (role is Role.LEADER or own_uncovered) and own is not None and own not in schools:
        schools.insert(0, own)
    return schools


def runs_feedback(
    role: Role | None, member: Member | None, created_by: int | None, reaches_alliance: bool
) -> bool:
    """Who sees a 征集's answers side by side and closes it: staff and admins, and the leader
    who started it within their own alliance. Other leaders see their own school's answer."""
    if role in _DISTRICT_WIDE:
        return True
    return (
        role is Role.LEADER and member is not None and created_by == member.id and reaches_alliance
    )


def reads_review(
    role: Role | None,
    member: Member | None,
    teacher_id: int | None,
    observer_id: int,
    reaches_alliance: bool,
) -> bool:
    """Who reads a 评课/听课 in full: the teacher who taught the lesson, the one who wrote it,
    and leaders and staff whose reach covers its alliance. Everyone else sees counts only
    (as for 反思, the group is told how many, never what)."""
    if member is not None and member.id in (teacher_id, observer_id):
        return True
    return may(role, Action.VIEW_REVIEWS) and reaches_alliance


def reads_archive(
    role: Role | None, member: Member | None, subject_id: int, reaches_alliance: bool
) -> bool:
    """Who gets a member's 成长档案: the member, and leaders and staff whose reach covers the
    member's alliance (a leader their own alliance tree). Other teachers never do."""
    if member is not None and member.id == subject_id:
        return True
    return may(role, Action.VIEW_ARCHIVE) and reaches_alliance


def manages_school(
    role: Role | None,
    member: Member | None,
    school_id: int | None,
    school_alliance_id: int | None,
    tree: list[int],
) -> bool:
    """Whether this person forms teams and sets contacts for a school: district-wide roles
    for any school, a leader for their own school (or, for a leader without a school, the
    schools of their alliance tree)."""
    if role in _DISTRICT_WIDE:
        return True
    if role is not Role.LEADER or member is None or school_id is None:
        return False
    if member.school_id is not None:
        return member.school_id == school_id
    return school_alliance_id is not None and school_alliance_id in tree


class TeamScope(StrEnum):
    """Which teams and 梯队 a person oversees (团队, 梯队 without arguments)."""

    DISTRICT = "district"  # every team (of the chat's alliance tree, when the chat has one)
    SCHOOL = "school"  # a school's leader: their school's teams and teachers
    ALLIANCE = "alliance"  # a leader without a school: their alliance tree
    OWN = "own"  # everyone else: the teams they belong to


def team_scope(role: Role | None, member: Member | None) -> TeamScope:
    """District-wide roles oversee every team; a leader their school, or without a school
    their alliance tree; anyone else only the teams they are in."""
    if role in _DISTRICT_WIDE:
        return TeamScope.DISTRICT
    if role is not Role.LEADER or member is None:
        return TeamScope.OWN
    if member.school_id is not None:
        return TeamScope.SCHOOL
    return TeamScope.ALLIANCE if member.alliance_id is not None else TeamScope.OWN


def new_team_school(
    role: Role | None, member: Member | None, first_member_school: int | None
) -> int | None:
    """Where a new team is based: a school's leader forms teams for their own school (even
    with members from a neighbouring school); anyone else at its first member's school."""
    if team_scope(role, member) is TeamScope.SCHOOL and member is not None:
        return member.school_id
    return first_member_school


# The alliance boundary ------------------------------------------------------------------------
# An activity's audience is its alliance tree, or the schools or team it targets (发起活动 …
# 对象:…); `storage.attendance.is_expected` answers "is this member in it", the same rule as the
# roll. A notice's audience is its alliance tree, or everyone for a notice to 全部. Only the
# audience takes part (签到, 请假, 反思, 收到, being 代签'd); leaders act on activities and
# notices their alliance tree reaches (`reaches`). Refusals store nothing.


def outside_activity(code: str, alliance_name: str, who: str | None = None) -> str:
    """The refusal for someone outside an activity's audience: whose activity, who adds them."""
    if who is None:
        return (
            f"{code} 是{alliance_name}的活动，你不在参与范围内。"
            f"如需参加，请联系{alliance_name}负责人把你加入活动对象。"
        )
    return (
        f"{who} 不在 {code} 的参与范围内（{code} 是{alliance_name}的活动），不能代签。"
        f"如需参加，请联系{alliance_name}负责人把 {who} 加入活动对象。"
    )


def outside_notice(code: str, alliance_name: str) -> str:
    """The refusal for confirming a notice that was not sent to this person's alliance."""
    return (
        f"通知 {code} 是发给{alliance_name}的，你不在通知范围内，不用确认。"
        f"如有疑问请联系{alliance_name}负责人。"
    )


def notice_reaches(member: Member | None, notice_tree: list[int] | None) -> bool:
    """Whether a notice is addressed to this member: a notice to 全部 (`notice_tree` None)
    reaches everyone on the roster; otherwise the members of its alliance tree."""
    if member is None:
        return False
    return notice_tree is None or member.alliance_id in notice_tree


def visible_part(
    role: Role | None, notice_tree: list[int] | None, own_tree: list[int]
) -> list[int] | None:
    """The alliances whose recipients of a notice this person may see in 回执 (None: all).

    District-wide roles see the whole audience; a leader sees the part of it inside their own
    alliance tree (for a notice to 全部: their tree). An empty list means nothing to see."""
    if role in _DISTRICT_WIDE:
        return notice_tree
    if notice_tree is None:
        return own_tree
    return [alliance_id for alliance_id in notice_tree if alliance_id in own_tree]
