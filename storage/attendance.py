"""Read model of an activity's roll: who was expected, signed in, on leave, reflected.

Summaries, personal records, reminders and exports all count the same way through here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Protocol

from storage.models import Activity, Leave, Member, Reflection, Role, Signin, SigninStatus
from storage.roster import RosterRepo
from storage.teams import TeamsRepo

if TYPE_CHECKING:
    from storage import Storage  # storage/__init__ imports this module (via reporting)

PARTICIPANT_ROLES = (Role.TEACHER, Role.LEADER)
NO_SCHOOL = "（未填学校）"


@dataclass
class SchoolCounts:
    school: str
    expected: int = 0
    signed: int = 0
    late: int = 0
    on_leave: int = 0
    reflected: int = 0
    missing_signin: list[Member] = field(default_factory=list)
    missing_reflection: list[Member] = field(default_factory=list)

    @property
    def counted(self) -> int:
        """People who should have attended: expected minus those on leave."""
        return self.expected - self.on_leave

    def add(self, other: SchoolCounts) -> None:
        self.expected += other.expected
        self.signed += other.signed
        self.late += other.late
        self.on_leave += other.on_leave
        self.reflected += other.reflected
        self.missing_signin.extend(other.missing_signin)
        self.missing_reflection.extend(other.missing_reflection)


class HasStatus(Protocol):
    """A sign-in as counting sees it (`Signin` or `SigninMark`)."""

    @property
    def status(self) -> SigninStatus: ...


class Roll(Protocol):
    """What counting and the missing-name lists read: `ActivityRoll` and `RollTally` both fit."""

    @property
    def activity(self) -> Activity: ...

    @property
    def participants(self) -> list[Member]: ...

    @property
    def signins(self) -> Mapping[int, HasStatus]: ...

    @property
    def leaves(self) -> Collection[int]: ...

    @property
    def reflections(self) -> Collection[int]: ...


@dataclass(frozen=True, slots=True)
class SigninMark:
    """A sign-in reduced to its status; one shared instance per status (see `signin_marks`)."""

    status: SigninStatus


def signin_marks() -> dict[str, SigninMark]:
    """Stored status value -> its mark, so loading a sign-in is a dict lookup."""
    return {status.value: SigninMark(status) for status in SigninStatus}


class ReflectionText(NamedTuple):
    """A reflection's text and when it was first submitted (POSIX seconds)."""

    body: str
    first_submitted: float


@dataclass
class RollTally:
    """An `ActivityRoll` with only what the counts and the digest read (same rules).

    Why: a district term has ~80,000 sign-ins and ~50,000 reflections, and building a full
    record for each cost more than everything else the digest does; the digest only counts
    sign-ins (and their status) and leaves, and quotes reflection texts.
    """

    activity: Activity
    participants: list[Member]
    signins: dict[int, SigninMark]
    leaves: set[int]
    reflections: dict[int, ReflectionText]

    def missing_reflection(self) -> list[Member]:
        return _missing_reflection(self)

    def missing_signin(self) -> list[Member]:
        return _missing_signin(self)


def _missing_reflection(roll: Roll) -> list[Member]:
    """Participants who owe a reflection: signed in, or expected and not on leave."""
    signins, leaves, reflections = roll.signins, roll.leaves, roll.reflections
    return [
        m
        for m in roll.participants
        if m.id not in reflections and (m.id in signins or m.id not in leaves)
    ]


def _missing_signin(roll: Roll) -> list[Member]:
    """Participants who neither signed in nor are on leave."""
    signins, leaves = roll.signins, roll.leaves
    return [m for m in roll.participants if m.id not in signins and m.id not in leaves]


@dataclass
class ActivityRoll:
    activity: Activity
    participants: list[Member]
    signins: dict[int, Signin]
    leaves: dict[int, Leave]
    reflections: dict[int, Reflection]

    def by_school(self) -> dict[str, SchoolCounts]:
        return self.by_group(lambda member: [member.school_name or NO_SCHOOL])

    def by_group(self, groups_of: Callable[[Member], Sequence[str]]) -> dict[str, SchoolCounts]:
        """Counts per group label (school, team, 梯队…); a member may count in several groups.

        `SchoolCounts.school` then holds the group's label.
        """
        result: dict[str, SchoolCounts] = {}
        for member in self.participants:
            for name in groups_of(member):
                counts = result.get(name)
                if counts is None:  # not setdefault: that builds a SchoolCounts per member
                    counts = result[name] = SchoolCounts(school=name)
                self._count(counts, member)
        return result

    def _count(self, counts: SchoolCounts, member: Member) -> None:
        counts.expected += 1
        signin = self.signins.get(member.id)
        if member.id in self.leaves and signin is None:
            counts.on_leave += 1
            return
        if signin is not None:
            counts.signed += 1
            if signin.status is not SigninStatus.ON_TIME:
                counts.late += 1
        else:
            counts.missing_signin.append(member)
        if member.id in self.reflections:
            counts.reflected += 1
        else:
            counts.missing_reflection.append(member)

    def missing_reflection(self) -> list[Member]:
        return _missing_reflection(self)

    def missing_signin(self) -> list[Member]:
        return _missing_signin(self)


def participants(roster: RosterRepo, teams: TeamsRepo, activity: Activity) -> list[Member]:
    """Everyone expected at an activity: teachers and leaders of its alliance tree by default,
    or of the schools or the team the activity targets (发起活动 … 对象:…)."""
    target = teams.activity_target(activity.id)
    if target.whole_alliance:
        return roster.members_in(roster.descendants(activity.alliance_id), PARTICIPANT_ROLES)
    return teams.target_members(target, PARTICIPANT_ROLES)


def is_expected(storage: Storage, activity: Activity, member: Member) -> bool:
    """Whether one member is expected at an activity — the same rule as `participants`,
    without listing everybody (for a person's own records and pending items)."""
    return bool(expected_among(storage, [activity], member))


def expected_among(
    storage: Storage, activities: Sequence[Activity], member: Member
) -> list[Activity]:
    """Those of `activities` at which one member is expected (`is_expected` of each), with
    the targets read at once and each alliance tree or team read once: 我的 asks this of
    every activity of a term, and on PostgreSQL every query is a round trip."""
    if not member.active or member.role not in PARTICIPANT_ROLES:
        return []
    roster, teams = storage.roster, storage.teams
    targets = teams.activity_targets([a.id for a in activities])
    trees: dict[int, set[int]] = {}
    in_team: dict[int, bool] = {}
    expected = []
    for activity in activities:
        target = targets.get(activity.id)
        if target is None or target.whole_alliance:
            tree = trees.get(activity.alliance_id)
            if tree is None:
                tree = trees[activity.alliance_id] = set(roster.descendants(activity.alliance_id))
            found = member.alliance_id in tree
        elif target.team_id is not None:
            if target.team_id not in in_team:
                in_team[target.team_id] = any(
                    m.id == member.id for m in teams.members(target.team_id)
                )
            found = in_team[target.team_id]
        else:
            found = member.school_id in target.school_ids
        if found:
            expected.append(activity)
    return expected


def roll_of(storage: Storage, activity: Activity) -> ActivityRoll:
    """Who was expected at one activity and what each of them handed in.

    Only the audience counts. Sign-ins, leaves and reflections of people outside it (legacy
    rows from before the alliance boundary, or of someone since moved out of the audience)
    stay stored but are neither counted, listed, reminded nor exported.
    """
    submissions = storage.submissions
    return ActivityRoll(
        activity=activity,
        participants=participants(storage.roster, storage.teams, activity),
        signins=submissions.signins(activity.id),
        leaves=submissions.leaves(activity.id),
        reflections=submissions.reflections(activity.id),
    )


def merge_by_school(rolls: list[ActivityRoll]) -> dict[str, SchoolCounts]:
    return merge_by_group(rolls, lambda member: [member.school_name or NO_SCHOOL])


def merge_by_group(
    rolls: list[ActivityRoll], groups_of: Callable[[Member], Sequence[str]]
) -> dict[str, SchoolCounts]:
    """Counts of several activities added up per group label (see `ActivityRoll.by_group`)."""
    totals: dict[str, SchoolCounts] = defaultdict(lambda: SchoolCounts(school=""))
    for roll in rolls:
        for name, counts in roll.by_group(groups_of).items():
            total = totals[name]
            total.school = name
            total.add(counts)
    return dict(totals)


def count_by_school(rolls: Sequence[Roll]) -> dict[str, SchoolCounts]:
    """`merge_by_school` without the missing-name lists (see `count_by_group`)."""
    return count_by_group(rolls, lambda member: [member.school_name or NO_SCHOOL])


def count_by_group(
    rolls: Sequence[Roll], groups_of: Callable[[Member], Sequence[str]]
) -> dict[str, SchoolCounts]:
    """The numbers of `merge_by_group` (same labels, same order), but the missing-name lists
    stay empty: use `ActivityRoll.missing_signin`/`missing_reflection` for names.

    Why: a district term is ~1M (member, activity) pairs, while sign-ins, leaves and
    reflections are a few percent of them. Rolls of one alliance share their participant
    list, so each list is grouped once (expected per label) and then only the submissions
    are looked at. `groups_of` must depend on the member only (it is called once per list).
    """
    totals: dict[str, SchoolCounts] = {}
    # Keyed by id() of a participant list; the rolls keep every list alive meanwhile.
    layouts: dict[int, tuple[dict[str, int], dict[int, list[str]]]] = {}
    on_time = SigninStatus.ON_TIME
    for roll in rolls:
        people = roll.participants
        layout = layouts.get(id(people))
        if layout is None:
            layout = layouts[id(people)] = _layout(people, groups_of)
        expected, labels_of = layout
        for name, count in expected.items():
            total = totals.get(name)
            if total is None:
                total = totals[name] = SchoolCounts(school=name)
            total.expected += count
        signins, leaves = roll.signins, roll.leaves
        for member_id, signin in signins.items():
            labels = labels_of.get(member_id)
            if labels:
                late = signin.status is not on_time
                for name in labels:
                    total = totals[name]
                    total.signed += 1
                    if late:
                        total.late += 1
        for member_id in leaves:
            labels = labels_of.get(member_id)
            if labels and member_id not in signins:
                for name in labels:
                    totals[name].on_leave += 1
        for member_id in roll.reflections:
            labels = labels_of.get(member_id)
            if labels and (member_id in signins or member_id not in leaves):
                for name in labels:
                    totals[name].reflected += 1
    return totals


def _layout(
    people: list[Member], groups_of: Callable[[Member], Sequence[str]]
) -> tuple[dict[str, int], dict[int, list[str]]]:
    """Expected people per label (in first-seen order), and each member id's labels (a
    member listed twice counts twice, as in `ActivityRoll.by_group`)."""
    expected: dict[str, int] = {}
    labels_of: dict[int, list[str]] = {}
    for member in people:
        labels = groups_of(member)
        if not labels:
            continue
        for name in labels:
            expected[name] = expected.get(name, 0) + 1
        known = labels_of.get(member.id)
        if known is None:
            labels_of[member.id] = list(labels)
        else:
            known.extend(labels)
    return expected, labels_of
