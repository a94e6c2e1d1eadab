"""Batch reads for reports: a whole period's rolls, notices and reflections in a few queries.

Summaries, digests, exports and the dashboard look at hundreds of activities and tens of
thousands of submissions at once; loading them one activity at a time (as `roll_of` does
for a single activity) would cost several queries per activity. The rolls built here are the
same `ActivityRoll` objects (or their lighter `RollTally` form, for what only counts and
quotes), so attendance is still counted the one way `storage.attendance` defines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from storage.activities import ACTIVITY_COLUMNS, activity_from_row
from storage.attendance import (
    NO_SCHOOL,
    PARTICIPANT_ROLES,
    ActivityRoll,
    ReflectionText,
    RollTally,
    SchoolCounts,
    SigninMark,
    count_by_school,
    participants,
    signin_marks,
)
from storage.db import from_db_time, to_db_time
from storage.models import (
    Activity,
    Leave,
    Member,
    Notice,
    Reflection,
    Role,
    Signin,
    SigninStatus,
)
from storage.notices import NOTICE_COLUMNS, notice_from_row
from storage.roster import MEMBER_SELECT, RosterRepo, member_from_row
from storage.submissions import leave_from_row, reflection_from_row, signin_from_row
from storage.teams import TeamsRepo

if TYPE_CHECKING:
    from storage.db import Database

# SQLite allows 32766 host parameters; stay far below it and keep statements short.
_CHUNK = 500


@dataclass(frozen=True)
class ReflectionHit:
    """A reflection with who wrote it, for search results and excerpts."""

    reflection: Reflection
    member_name: str
    school_name: str | None


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])


def _marks(count: int) -> str:
    return ",".join("?" * count)


class ReflectionSample(NamedTuple):
    """A reflection as the digest quotes it: text, first submission (POSIX s), who, school."""

    body: str
    first_submitted: float
    author: str
    school: str


class ReportingQueries:
    """Read-only, batch queries over the same tables the repositories write.

    Make one per report (`Storage.reporting()`): it remembers each alliance tree's
    participants for its lifetime, so a digest comparing two periods loads the roster once.
    """

    def __init__(self, db: Database, roster: RosterRepo, teams: TeamsRepo) -> None:
        self._db = db
        self._roster = roster
        self._teams = teams
        self._expected: dict[int, list[Member]] = {}

    def _rows_in(self, select: str, column: str, ids: Sequence[int]) -> Iterator[Any]:
        """Rows of `select ... WHERE column IN (ids)`, queried in chunks of bound variables."""
        for chunk in _chunks(ids):
            yield from self._db.execute(f"{select} WHERE {column} IN ({_marks(len(chunk))})", chunk)

    # members ---------------------------------------------------------------
    def members_by_id(self, member_ids: Iterable[int]) -> dict[int, Member]:
        ids = sorted(set(member_ids))
        found: dict[int, Member] = {}
        for row in self._rows_in(MEMBER_SELECT, "m.id", ids):
            found[int(row[0])] = member_from_row(row)
        return found

    # rolls -----------------------------------------------------------------
    def rolls(self, activities: Sequence[Activity]) -> list[ActivityRoll]:
        """`roll_of` for every activity, in a constant number of queries per alliance tree.

        Activities aimed at some schools or a team (发起活动 … 对象:…) take their participants
        from `storage.attendance.participants`, which defines who those are.
        """
        if not activities:
            return []
        ids = [a.id for a in activities]
        signins = self._signins(ids)
        leaves = self._leaves(ids)
        reflections = self._reflections(ids)
        people = self._participants(activities)
        return [
            ActivityRoll(
                activity=activity,
                participants=people_of,
                signins=signins.get(activity.id, {}),
                leaves=leaves.get(activity.id, {}),
                reflections=reflections.get(activity.id, {}),
            )
            for activity, people_of in zip(activities, people, strict=True)
        ]

    def tallies(self, activities: Sequence[Activity]) -> list[RollTally]:
        """`rolls` with only what counting and the digest read (the same participants).

        Sign-ins keep only their status and reflections their text and first submission
        time; leaves are just member ids. A district term is ~130,000 submissions: full
        records for them took most of a term digest.
        """
        if not activities:
            return []
        ids = [a.id for a in activities]
        signins = self._signin_marks(ids)
        leaves = self._leave_ids(ids)
        reflections = self._reflection_texts(ids)
        people = self._participants(activities)
        return [
            RollTally(
                activity=activity,
                participants=people_of,
                signins=signins.get(activity.id, {}),
                leaves=leaves.get(activity.id, set()),
                reflections=reflections.get(activity.id, {}),
            )
            for activity, people_of in zip(activities, people, strict=True)
        ]

    def school_counts(
        self, alliance_ids: Sequence[int], start: datetime, before: datetime
    ) -> dict[str, SchoolCounts]:
        """`count_by_school` of the tallies of the scheduled activities of these alliances
        starting in [start, before), with the sums done in SQL.

        Why: a province term is 20,000 activities with 1.3M sign-ins and reflections; loading
        them into Python to count them took seconds. For activities open to their whole
        alliance tree (nearly all), the database counts the participants' records grouped
        by (activity's alliance, member's alliance, school), a few thousand rows; a member
        counts for an activity when their alliance is in the activity's tree, the same rule
        as `participants`. Targeted activities (对象:…) are counted the usual way.
        """
        if not alliance_ids:
            return {}
        window = (
            f"a.alliance_id IN ({_marks(len(alliance_ids))}) AND a.status = 'scheduled' "
            "AND a.starts_at >= ? AND a.starts_at < ?"
        )
        window_params: list[object] = [*alliance_ids, to_db_time(start), to_db_time(before)]
        has_target = "EXISTS (SELECT 1 FROM activity_targets t WHERE t.activity_id = a.id)"
        special = [
            activity_from_row(row)
            for row in self._db.execute(
                f"SELECT {ACTIVITY_COLUMNS} FROM activities a WHERE {window} AND {has_target} "
                "ORDER BY a.starts_at, a.id",
                window_params,
            )
        ]
        totals = count_by_school(self.tallies(special)) if special else {}
        roles = [role.value for role in PARTICIPANT_ROLES]
        school_names: dict[int | None, str] = {None: NO_SCHOOL}

        def counts_of(school_id: int | None) -> SchoolCounts:
            name = school_names.get(school_id) or NO_SCHOOL
            found = totals.get(name)
            if found is None:
                found = totals[name] = SchoolCounts(school=name)
            return found

        # Expected: every activity of alliance A expects each participant of A's tree.
        held = self._db.execute(
            f"SELECT a.alliance_id, COUNT(*) FROM activities a WHERE {window} "
            f"AND NOT {has_target} GROUP BY a.alliance_id",
            window_params,
        ).fetchall()
        reach = {int(aid): set(self._roster.descendants(int(aid))) for aid, _ in held}
        # Only the people of the alliances these activities reach, and their schools' names.
        reached = sorted(set().union(*reach.values())) if reach else []
        people: dict[int, list[tuple[int | None, int]]] = defaultdict(list)
        for chunk in _chunks(reached):
            for member_alliance, school_id, count in self._db.execute(
                "SELECT alliance_id, school_id, COUNT(*) FROM members WHERE active = 1 "
                f"AND alliance_id IN ({_marks(len(chunk))}) AND role IN ({_marks(len(roles))}) "
                "GROUP BY alliance_id, school_id",
                [*chunk, *roles],
            ):
                people[int(member_alliance)].append((school_id, int(count)))
        named = sorted({s for found in people.values() for s, _ in found if s is not None})
        for row in self._rows_in("SELECT id, name FROM schools", "id", named):
            school_names[int(row[0])] = str(row[1])
        for alliance_id, times in held:
            for member_alliance in reach[int(alliance_id)]:
                for school_id, count in people.get(member_alliance, ()):
                    counts_of(school_id).expected += int(times) * count

        def grouped(table: str, condition: str, params: Sequence[object] = ()) -> Any:
            """(activity alliance, member alliance, school id, count) of the participants'
            rows of `table` that meet `condition` (with its `params`)."""
            return self._db.execute(
                "SELECT a.alliance_id, m.alliance_id, m.school_id, COUNT(*) "
                f"FROM {table} x JOIN activities a ON a.id = x.activity_id "
                "JOIN members m ON m.id = x.member_id "
                f"WHERE {window} AND NOT {has_target} AND m.active = 1 "
                f"AND m.role IN ({_marks(len(roles))}){condition} "
                "GROUP BY a.alliance_id, m.alliance_id, m.school_id",
                [*window_params, *roles, *params],
            )

        signed = (
            "EXISTS (SELECT 1 FROM signins s "
            "WHERE s.activity_id = x.activity_id AND s.member_id = x.member_id)"
        )
        late = [status.value for status in SigninStatus if status is not SigninStatus.ON_TIME]
        for alliance_id, member_alliance, school_id, count in grouped("signins", ""):
            if member_alliance in reach[alliance_id]:
                counts_of(school_id).signed += count
        # Few sign-ins are late: the signins_status index finds just those.
        for alliance_id, member_alliance, school_id, count in grouped(
            "signins", f" AND x.status IN ({_marks(len(late))})", late
        ):
            if member_alliance in reach[alliance_id]:
                counts_of(school_id).late += count
        for alliance_id, member_alliance, school_id, count in grouped(
            "leaves", f" AND NOT {signed}"
        ):
            if member_alliance in reach[alliance_id]:
                counts_of(school_id).on_leave += count
        # A reflection counts unless its author was on leave and did not sign in: count them
        # all, then take away those few (found from the leaves, a small table).
        for alliance_id, member_alliance, school_id, count in grouped("reflections", ""):
            if member_alliance in reach[alliance_id]:
                counts_of(school_id).reflected += count
        excused = (
            " AND EXISTS (SELECT 1 FROM reflections r "
            "WHERE r.activity_id = x.activity_id AND r.member_id = x.member_id)"
        )
        for alliance_id, member_alliance, school_id, count in grouped(
            "leaves", f" AND NOT {signed}{excused}"
        ):
            if member_alliance in reach[alliance_id]:
                counts_of(school_id).reflected -= count
        return totals

    def recent_reflections(
        self, alliance_ids: Sequence[int], start: datetime, before: datetime, limit: int
    ) -> list[ReflectionSample]:
        """The `limit` most recently submitted reflections of the participants of the
        scheduled activities of these alliances starting in [start, before), newest first,
        with author and school (the same participants as `tallies`).

        Why: a province term holds 500,000 reflections; the digest's keywords and excerpts
        read this bounded, deterministic sample instead of every text. The database sorts
        and cuts; only the alliance-tree rule is checked here, page by page.
        """
        if not alliance_ids or limit <= 0:
            return []
        window = (
            f"a.alliance_id IN ({_marks(len(alliance_ids))}) AND a.status = 'scheduled' "
            "AND a.starts_at >= ? AND a.starts_at < ?"
        )
        window_params: list[object] = [*alliance_ids, to_db_time(start), to_db_time(before)]
        has_target = "EXISTS (SELECT 1 FROM activity_targets t WHERE t.activity_id = a.id)"
        roles = [role.value for role in PARTICIPANT_ROLES]
        reach: dict[int, set[int]] = {}
        found: list[ReflectionSample] = []
        offset = 0
        while len(found) < limit:
            page = self._db.execute(
                "SELECT r.body, r.first_submitted_at, a.alliance_id, m.alliance_id, m.name, "
                "s.name FROM reflections r JOIN activities a ON a.id = r.activity_id "
                "JOIN members m ON m.id = r.member_id LEFT JOIN schools s ON s.id = m.school_id "
                f"WHERE {window} AND NOT {has_target} AND m.active = 1 "
                f"AND m.role IN ({_marks(len(roles))}) "
                "ORDER BY r.first_submitted_at DESC, r.id DESC LIMIT ? OFFSET ?",
                [*window_params, *roles, limit, offset],
            ).fetchall()
            for body, first, alliance_id, member_alliance, author, school in page:
                tree = reach.get(alliance_id)
                if tree is None:
                    tree = reach[alliance_id] = set(self._roster.descendants(alliance_id))
                if member_alliance in tree and len(found) < limit:
                    found.append(
                        ReflectionSample(
                            str(body),
                            from_db_time(first).timestamp(),
                            str(author),
                            school or NO_SCHOOL,
                        )
                    )
            if len(page) < limit:
                break
            offset += limit
        # Activities aimed at some schools or a team: their participants, the usual way.
        special = [
            activity_from_row(row)
            for row in self._db.execute(
                f"SELECT {ACTIVITY_COLUMNS} FROM activities a WHERE {window} AND {has_target}",
                window_params,
            )
        ]
        for roll in self.tallies(special):
            for member in roll.participants:
                if (text := roll.reflections.get(member.id)) is not None:
                    found.append(
                        ReflectionSample(
                            text.body,
                            text.first_submitted,
                            member.name,
                            member.school_name or NO_SCHOOL,
                        )
                    )
        found.sort(key=lambda r: -r.first_submitted)  # stable: ties keep the database's order
        return found[:limit]

    def record_count(self, activity_ids: Sequence[int]) -> int:
        """Sign-ins, reflections and leaves stored for these activities (for progress)."""
        total = 0
        for table in ("signins", "reflections", "leaves"):
            for chunk in _chunks(activity_ids):
                row = self._db.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE activity_id IN ({_marks(len(chunk))})",
                    chunk,
                ).fetchone()
                total += int(row[0])
        return total

    def _participants(self, activities: Sequence[Activity]) -> list[list[Member]]:
        """Each activity's participants (as `participants`): its audience only, like `roll_of`
        (records of people outside it are not counted). Activities of one alliance share
        one list.
        """
        targeted = self._targeted([a.id for a in activities])
        found = []
        for activity in activities:
            if activity.id in targeted:
                found.append(participants(self._roster, self._teams, activity))
                continue
            alliance_id = activity.alliance_id
            if alliance_id not in self._expected:
                tree = self._roster.descendants(alliance_id)
                self._expected[alliance_id] = self._roster.members_in(tree, PARTICIPANT_ROLES)
            found.append(self._expected[alliance_id])
        return found

    def _targeted(self, activity_ids: Sequence[int]) -> set[int]:
        """Activities with their own target (schools or a team) instead of the whole tree."""
        found: set[int] = set()
        select = "SELECT DISTINCT activity_id FROM activity_targets"
        found.update(int(row[0]) for row in self._rows_in(select, "activity_id", activity_ids))
        return found

    def _signins(self, activity_ids: Sequence[int]) -> dict[int, dict[int, Signin]]:
        found: dict[int, dict[int, Signin]] = defaultdict(dict)
        select = "SELECT activity_id, member_id, at, status, by_member_id FROM signins"
        for row in self._rows_in(select, "activity_id", activity_ids):
            found[int(row[0])][int(row[1])] = signin_from_row(row)
        return found

    def _leaves(self, activity_ids: Sequence[int]) -> dict[int, dict[int, Leave]]:
        found: dict[int, dict[int, Leave]] = defaultdict(dict)
        select = "SELECT activity_id, member_id, reason, at FROM leaves"
        for row in self._rows_in(select, "activity_id", activity_ids):
            found[int(row[0])][int(row[1])] = leave_from_row(row)
        return found

    def _reflections(self, activity_ids: Sequence[int]) -> dict[int, dict[int, Reflection]]:
        found: dict[int, dict[int, Reflection]] = defaultdict(dict)
        select = (
            "SELECT id, activity_id, member_id, body, version, first_submitted_at, updated_at "
            "FROM reflections"
        )
        for row in self._rows_in(select, "activity_id", activity_ids):
            found[int(row[1])][int(row[2])] = reflection_from_row(row)
        return found

    def _signin_marks(self, activity_ids: Sequence[int]) -> dict[int, dict[int, SigninMark]]:
        marks = signin_marks()
        found: dict[int, dict[int, SigninMark]] = defaultdict(dict)
        select = "SELECT activity_id, member_id, status FROM signins"
        for activity_id, member_id, status in self._rows_in(select, "activity_id", activity_ids):
            found[int(activity_id)][int(member_id)] = marks[status]
        return found

    def _leave_ids(self, activity_ids: Sequence[int]) -> dict[int, set[int]]:
        found: dict[int, set[int]] = defaultdict(set)
        select = "SELECT activity_id, member_id FROM leaves"
        for activity_id, member_id in self._rows_in(select, "activity_id", activity_ids):
            found[int(activity_id)].add(int(member_id))
        return found

    def _reflection_texts(
        self, activity_ids: Sequence[int]
    ) -> dict[int, dict[int, ReflectionText]]:
        found: dict[int, dict[int, ReflectionText]] = defaultdict(dict)
        select = "SELECT activity_id, member_id, body, first_submitted_at FROM reflections"
        for activity_id, member_id, body, first in self._rows_in(
            select, "activity_id", activity_ids
        ):
            found[int(activity_id)][int(member_id)] = ReflectionText(
                body, from_db_time(first).timestamp()
            )
        return found

    # reflections -----------------------------------------------------------
    def search_reflections(
        self, activity_ids: Sequence[int], query: str = "", *, limit: int = 200
    ) -> tuple[int, list[ReflectionHit]]:
        """Reflections of these activities whose text contains `query` (all if empty).

        Returns the number of matches and up to `limit` of them, newest first.
        """
        if not activity_ids:
            return 0, []
        ids = list(activity_ids)
        where = f"r.activity_id IN ({_marks(len(ids))})"
        params: list[object] = list(ids)
        if query:
            where += " AND instr(r.body, ?) > 0"
            params.append(query)
        total = int(
            self._db.execute(
                f"SELECT COUNT(*) FROM reflections r WHERE {where}", params
            ).fetchone()[0]
        )
        rows = self._db.execute(
            "SELECT r.id, r.activity_id, r.member_id, r.body, r.version, r.first_submitted_at, "
            "r.updated_at, m.name, s.name FROM reflections r JOIN members m ON m.id = r.member_id "
            f"LEFT JOIN schools s ON s.id = m.school_id WHERE {where} "
            "ORDER BY r.updated_at DESC, r.id DESC LIMIT ?",
            [*params, limit],
        )
        hits = [
            ReflectionHit(
                reflection=reflection_from_row(row[:7]), member_name=row[7], school_name=row[8]
            )
            for row in rows
        ]
        return total, hits

    # notices ---------------------------------------------------------------
    def notices_for(
        self, alliance_ids: Sequence[int] | None, *, published_from: datetime, before: datetime
    ) -> list[Notice]:
        """Published notices in [from, before) addressed to these alliances or to everyone.

        `alliance_ids` None means every notice.
        """
        sql = (
            f"SELECT {NOTICE_COLUMNS} FROM notices WHERE status = 'published' "
            "AND publish_at >= ? AND publish_at < ?"
        )
        params: list[object] = [to_db_time(published_from), to_db_time(before)]
        if alliance_ids is not None:
            sql += f" AND (alliance_id IS NULL OR alliance_id IN ({_marks(len(alliance_ids))}))"
            params.extend(alliance_ids)
        rows = self._db.execute(sql + " ORDER BY publish_at, id", params)
        return [notice_from_row(row) for row in rows]

    def acks(self, notice_ids: Sequence[int]) -> dict[int, dict[int, datetime]]:
        """For each notice: member id -> when they confirmed."""
        found: dict[int, dict[int, datetime]] = defaultdict(dict)
        select = "SELECT notice_id, member_id, at FROM notice_acks"
        for row in self._rows_in(select, "notice_id", notice_ids):
            found[int(row[0])][int(row[1])] = from_db_time(row[2])
        return found

    def leaders_of(self, alliance_id: int) -> list[Member]:
        """Active leaders whose own alliance is this one (not sub-alliances)."""
        rows = self._db.execute(
            MEMBER_SELECT + " WHERE m.active = 1 AND m.role = ? AND m.alliance_id = ? "
            "ORDER BY m.id",
            (Role.LEADER.value, alliance_id),
        )
        return [member_from_row(row) for row in rows]
