"""School-level teams (校级联盟), teachers' 梯队, and whom an activity is for.

A team belongs to one alliance and has a home school, but its members may come from a
neighbouring school (校际联盟). The 梯队 is a property of a teacher, kept beside the roster.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from storage.db import inserted_id, to_db_time, transaction
from storage.models import ActivityTarget, Member, Role, Team, Tier
from storage.roster import MEMBER_ORDER, MEMBER_SELECT, member_from_row

if TYPE_CHECKING:
    from storage.db import Database

_TEAM_COLUMNS = "id, name, alliance_id, school_id, created_by"
_CHUNK = 500  # ids bound per IN (...)


class TeamsRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    # teams -----------------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        at: datetime,
        alliance_id: int | None,
        school_id: int | None,
        created_by: int | None = None,
        member_ids: Iterable[int] = (),
    ) -> Team:
        """A new team with its first members, all in one commit: never a team half-filled."""
        with transaction(self._db.conn):
            cursor = self._db.execute(
                "INSERT INTO teams (name, alliance_id, school_id, created_by, created_at) "
                "VALUES (?, ?, ?, ?, ?) RETURNING id",
                (name, alliance_id, school_id, created_by, to_db_time(at)),
            )
            team = self.get(inserted_id(cursor) or 0)
            assert team is not None
            self.add_members(team.id, member_ids, at=at)
        return team

    def get(self, team_id: int) -> Team | None:
        row = self._db.execute(
            f"SELECT {_TEAM_COLUMNS} FROM teams WHERE id = ?", (team_id,)
        ).fetchone()
        return _team(row) if row else None

    def named(self, name: str) -> Team | None:
        row = self._db.execute(
            f"SELECT {_TEAM_COLUMNS} FROM teams WHERE name = ?", (name,)
        ).fetchone()
        return _team(row) if row else None

    def find(self, text: str) -> Team | None:
        """Exact name, else the only team whose name contains the text."""
        exact = self.named(text)
        if exact is not None:
            return exact
        rows = self._db.execute(
            f"SELECT {_TEAM_COLUMNS} FROM teams WHERE instr(name, ?) > 0", (text,)
        ).fetchall()
        return _team(rows[0]) if len(rows) == 1 else None

    def all(self) -> list[Team]:
        rows = self._db.execute(f"SELECT {_TEAM_COLUMNS} FROM teams ORDER BY name, id")
        return [_team(row) for row in rows]

    def touching_schools(self, school_ids: Iterable[int]) -> list[Team]:
        """Teams based at these schools or with a member from one of them."""
        ids = list(school_ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"SELECT {_TEAM_COLUMNS} FROM teams WHERE school_id IN ({marks}) OR id IN ("
            "SELECT tm.team_id FROM team_members tm JOIN members m ON m.id = tm.member_id "
            f"WHERE m.school_id IN ({marks})) ORDER BY name, id",
            [*ids, *ids],
        )
        return [_team(row) for row in rows]

    def in_alliances(self, alliance_ids: Iterable[int]) -> list[Team]:
        ids = list(alliance_ids)
        if not ids:
            return []
        rows = self._db.execute(
            f"SELECT {_TEAM_COLUMNS} FROM teams WHERE alliance_id IN "
            f"({','.join('?' * len(ids))}) ORDER BY name, id",
            ids,
        )
        return [_team(row) for row in rows]

    def delete(self, team_id: int) -> None:
        with transaction(self._db.conn):
            self._db.execute("DELETE FROM team_members WHERE team_id = ?", (team_id,))
            self._db.execute("DELETE FROM teams WHERE id = ?", (team_id,))

    def is_targeted(self, team_id: int) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM activity_targets WHERE team_id = ? LIMIT 1", (team_id,)
        ).fetchone()
        return row is not None

    # membership ------------------------------------------------------------
    def add_members(self, team_id: int, member_ids: Iterable[int], *, at: datetime) -> list[int]:
        """Add people; returns the ids that were not in the team yet."""
        added: list[int] = []
        with transaction(self._db.conn):
            for member_id in dict.fromkeys(member_ids):
                cursor = self._db.execute(
                    "INSERT INTO team_members (team_id, member_id, added_at) "
                    "VALUES (?, ?, ?) ON CONFLICT (team_id, member_id) DO NOTHING",
                    (team_id, member_id, to_db_time(at)),
                )
                if cursor.rowcount:
                    added.append(member_id)
        return added

    def remove_members(self, team_id: int, member_ids: Iterable[int]) -> list[int]:
        removed: list[int] = []
        with transaction(self._db.conn):
            for member_id in dict.fromkeys(member_ids):
                cursor = self._db.execute(
                    "DELETE FROM team_members WHERE team_id = ? AND member_id = ?",
                    (team_id, member_id),
                )
                if cursor.rowcount:
                    removed.append(member_id)
        return removed

    def members(self, team_id: int, *, active_only: bool = True) -> list[Member]:
        """The team's members, ordered like the roster (school, then name)."""
        sql = (
            MEMBER_SELECT + " WHERE m.id IN (SELECT member_id FROM team_members WHERE team_id = ?)"
        )
        if active_only:
            sql += " AND m.active = 1"
        return [member_from_row(row) for row in self._db.execute(sql + MEMBER_ORDER, (team_id,))]

    def team_names_of(self, member_ids: Iterable[int] | None = None) -> dict[int, list[str]]:
        """member id → names of the teams they are in (every member when ids is None)."""
        sql = "SELECT tm.member_id, t.name FROM team_members tm JOIN teams t ON t.id = tm.team_id"
        params: list[int] = []
        if member_ids is not None:
            params = list(member_ids)
            if not params:
                return {}
            sql += f" WHERE tm.member_id IN ({','.join('?' * len(params))})"
        result: dict[int, list[str]] = {}
        for member_id, name in self._db.execute(sql + " ORDER BY t.name", params):
            result.setdefault(int(member_id), []).append(str(name))
        return result

    # 梯队 ---------------------------------------------------------------------
    def set_tier(self, member_id: int, tier: Tier | None) -> None:
        if tier is None:
            self._db.execute("DELETE FROM member_tiers WHERE member_id = ?", (member_id,))
            return
        self._db.execute(
            "INSERT INTO member_tiers (member_id, tier) VALUES (?, ?) "
            "ON CONFLICT(member_id) DO UPDATE SET tier = excluded.tier",
            (member_id, tier.value),
        )

    def tiers(self, member_ids: Iterable[int] | None = None) -> dict[int, Tier]:
        sql = "SELECT member_id, tier FROM member_tiers"
        params: list[int] = []
        if member_ids is not None:
            params = list(member_ids)
            if not params:
                return {}
            sql += f" WHERE member_id IN ({','.join('?' * len(params))})"
        return {int(row[0]): Tier(row[1]) for row in self._db.execute(sql, params)}

    # activity targets ------------------------------------------------------
    def set_activity_target(self, activity_id: int, target: ActivityTarget) -> None:
        with transaction(self._db.conn):
            self._db.execute("DELETE FROM activity_targets WHERE activity_id = ?", (activity_id,))
            for school_id in dict.fromkeys(target.school_ids):
                self._db.execute(
                    "INSERT INTO activity_targets (activity_id, school_id) VALUES (?, ?)",
                    (activity_id, school_id),
                )
            if target.team_id is not None:
                self._db.execute(
                    "INSERT INTO activity_targets (activity_id, team_id) VALUES (?, ?)",
                    (activity_id, target.team_id),
                )

    def activity_target(self, activity_id: int) -> ActivityTarget:
        return self.activity_targets([activity_id]).get(activity_id) or ActivityTarget()

    def activity_targets(self, activity_ids: Sequence[int]) -> dict[int, ActivityTarget]:
        """The targets of those of these activities that have one (the rest are for their
        whole alliance), in one query per 500 ids: 我的 asks about every activity of a
        term, and on PostgreSQL each query is a round trip."""
        rows: list[Any] = []
        for start in range(0, len(activity_ids), _CHUNK):
            chunk = activity_ids[start : start + _CHUNK]
            rows += self._db.execute(
                "SELECT activity_id, school_id, team_id FROM activity_targets "
                f"WHERE activity_id IN ({','.join('?' * len(chunk))}) ORDER BY id",
                list(chunk),
            ).fetchall()
        found: dict[int, ActivityTarget] = {}
        for activity_id, school_id, team_id in rows:
            target = found.setdefault(int(activity_id), ActivityTarget())
            if school_id is not None:
                target.school_ids.append(int(school_id))
            if team_id is not None and target.team_id is None:
                target.team_id = int(team_id)
        return found

    def target_members(self, target: ActivityTarget, roles: Iterable[Role]) -> list[Member]:
        """Active members of some roles that a (non-default) target names."""
        role_values = [r.value for r in roles]
        role_marks = ",".join("?" * len(role_values))
        if target.team_id is not None:
            sql = (
                MEMBER_SELECT + " WHERE m.active = 1 AND m.id IN "
                "(SELECT member_id FROM team_members WHERE team_id = ?)"
                f" AND m.role IN ({role_marks})"
            )
            params: list[object] = [target.team_id, *role_values]
        else:
            ids = target.school_ids
            sql = (
                MEMBER_SELECT
                + f" WHERE m.active = 1 AND m.school_id IN ({','.join('?' * len(ids))})"
                f" AND m.role IN ({role_marks})"
            )
            params = [*ids, *role_values]
        return [member_from_row(row) for row in self._db.execute(sql + MEMBER_ORDER, params)]


def _team(row: tuple[Any, ...]) -> Team:
    return Team(
        id=row[0],
        name=row[1],
        alliance_id=row[2],
        school_id=row[3],
        created_by=row[4],
    )


_TIER_WORDS: dict[str, Tier] = {
    **{word: Tier.YOUNG for word in ("青年", "青年教师", "青年教师团队", "青年梯队", "young")},
    **{word: Tier.GROWING for word in ("成长", "成长教师", "成长教师团队", "成长梯队", "growing")},
    **{word: Tier.FAMOUS for word in ("名优", "名优教师", "名优教师团队", "名优梯队", "famous")},
}
TIER_HINT = "青年、成长或名优"


def parse_tier(text: str) -> Tier | None:
    """A 梯队 as people write it (青年 / 青年教师 / 青年教师团队 …); None if not one."""
    folded = "".join(unicodedata.normalize("NFKC", text).split()).lower()
    return _TIER_WORDS.get(folded)
