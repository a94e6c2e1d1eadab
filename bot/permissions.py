"""Who may do what — the one place every permission decision is made."""

from __future__ import annotations

from enum import StrEnum

from storage.models import Alliance, Member, Role


class Action(StrEnum):
    PUBLIC = "public"  # anyone, even someone not yet in the roster: help, 我是
    USE = "use"  # anything a bound member may do: help, own records, sign in, reflect, ack
    POST_NOTICE = "post_notice"
    MANAGE_ACTIVITY = "manage_activity"
    VIEW_RECEIPTS = "view_receipts"
    PROXY_SIGNIN = "proxy_signin"
    VIEW_SUMMARY = "view_summary"
    VIEW_NAMES = "view_names"
    REMIND = "remind"
    BIND_CHAT = "bind_chat"
    SET_ROLE = "set_role"


_STAFFISH = frozenset({Role.ADMIN, Role.STAFF, Role.LEADER})

ALLOWED: dict[Action, frozenset[Role]] = {
    Action.PUBLIC: frozenset(Role),
    Action.USE: frozenset(Role),
    Action.POST_NOTICE: _STAFFISH,
    Action.MANAGE_ACTIVITY: _STAFFISH,
    Action.VIEW_RECEIPTS: _STAFFISH,
    Action.PROXY_SIGNIN: _STAFFISH,
    Action.VIEW_SUMMARY: _STAFFISH,
    Action.VIEW_NAMES: _STAFFISH,
    Action.REMIND: _STAFFISH,
    Action.BIND_CHAT: frozenset({Role.ADMIN, Role.STAFF}),
    Action.SET_ROLE: frozenset({Role.ADMIN}),
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
