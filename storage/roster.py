"""Alliances, schools and members: who belongs where and with which role."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from storage.db import inserted_id, to_db_time, update_row
from storage.models import Alliance, Member, Role, School

if TYPE_CHECKING:
    from storage.db import Database

MEMBER_SELECT = (
    "SELECT m.id, m.name, m.school_id, s.name, m.alliance_id, m.userid, m.role, m.active "
    "FROM members m LEFT JOIN schools s ON s.id = m.school_id"
)
# By school, then name. Members without a school come first, as SQLite always sorted them;
# PostgreSQL puts NULLs last unless told.
MEMBER_ORDER = " ORDER BY s.name NULLS FIRST, m.name, m.id"
_ALLIANCE_COLUMNS = (
    "id, name, parent_id, timezone, digest_weekday, digest_time, digest_enabled, "
    "quiet_start, quiet_end"
)


class RosterRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    # alliances -------------------------------------------------------------
    def ensure_alliance(self, name: str, *, at: datetime, parent_id: int | None = None) -> Alliance:
        found = self.alliance_by_name(name)
        if found is not None:
            if parent_id is not None and found.parent_id != parent_id:
                self._db.execute(
                    "UPDATE alliances SET parent_id = ? WHERE id = ?", (parent_id, found.id)
                )
                found = found.model_copy(update={"parent_id": parent_id})
            return found
        cursor = self._db.execute(
            "INSERT INTO alliances (name, parent_id, created_at) VALUES (?, ?, ?) RETURNING id",
            (name, parent_id, to_db_time(at)),
        )
        created = self.alliance(inserted_id(cursor) or 0)
        assert created is not None
        return created

    def alliance(self, alliance_id: int) -> Alliance | None:
        row = self._db.execute(
            f"SELECT {_ALLIANCE_COLUMNS} FROM alliances WHERE id = ?", (alliance_id,)
        ).fetchone()
        return _alliance(row) if row else None

    def alliance_by_name(self, name: str) -> Alliance | None:
        row = self._db.execute(
            f"SELECT {_ALLIANCE_COLUMNS} FROM alliances WHERE name = ?", (name,)
        ).fetchone()
        return _alliance(row) if row else None

    def alliances(self) -> list[Alliance]:
        rows = self._db.execute(f"SELECT {_ALLIANCE_COLUMNS} FROM alliances ORDER BY id")
        return [_alliance(row) for row in rows]

    def find_alliance(self, text: str) -> Alliance | None:
        """Match a name as users type it: exact, then with or without 联盟/协作体, then prefix."""
        exact = self.alliance_by_name(text)
        if exact is not None:
            return exact
        core = _alliance_core(text)
        candidates = [a for a in self.alliances() if _alliance_core(a.name) == core]
        if len(candidates) == 1:
            return candidates[0]
        prefixed = [a for a in self.alliances() if core and _alliance_core(a.name).startswith(core)]
        return prefixed[0] if len(prefixed) == 1 else None

    def descendants(self, alliance_id: int) -> list[int]:
        """This alliance and every alliance below it (协作体 under 区, 校级 under 协作体)."""
        rows = self._db.execute(
            "WITH RECURSIVE tree(id) AS (SELECT CAST(? AS BIGINT) UNION "
            "SELECT a.id FROM alliances a JOIN tree t ON a.parent_id = t.id) SELECT id FROM tree",
            (alliance_id,),
        )
        return [int(row[0]) for row in rows]

    def ancestors(self, alliance_id: int) -> list[int]:
        """This alliance and every alliance above it."""
        rows = self._db.execute(
            "WITH RECURSIVE up(id, parent) AS (SELECT id, parent_id FROM alliances WHERE id = ? "
            "UNION SELECT a.id, a.parent_id FROM alliances a JOIN up u ON a.id = u.parent) "
            "SELECT id FROM up",
            (alliance_id,),
        )
        return [int(row[0]) for row in rows]

    def update_alliance(self, alliance_id: int, **fields: object) -> None:
        allowed = {
            "timezone",
            "digest_weekday",
            "digest_time",
            "digest_enabled",
            "quiet_start",
            "quiet_end",
            "parent_id",
        }
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"cannot update alliance fields {sorted(unknown)}")
        if fields:
            update_row(self._db, "alliances", alliance_id, fields)

    # schools ---------------------------------------------------------------
    def ensure_school(self, name: str, alliance_id: int | None) -> School:
        found = self.school_by_name(name)
        if found is not None:
            if alliance_id is not None and found.alliance_id != alliance_id:
                self._db.execute(
                    "UPDATE schools SET alliance_id = ? WHERE id = ?", (alliance_id, found.id)
                )
                found = found.model_copy(update={"alliance_id": alliance_id})
            return found
        cursor = self._db.execute(
            "INSERT INTO schools (name, alliance_id) VALUES (?, ?) RETURNING id",
            (name, alliance_id),
        )
        return School(id=inserted_id(cursor) or 0, name=name, alliance_id=alliance_id)

    def school(self, school_id: int | None) -> School | None:
        """The school with this id; None for no id (a member or team without a school)."""
        if school_id is None:
            return None
        row = self._db.execute(
            "SELECT id, name, alliance_id FROM schools WHERE id = ?", (school_id,)
        ).fetchone()
        return School(id=row[0], name=row[1], alliance_id=row[2]) if row else None

    def school_by_name(self, name: str) -> School | None:
        row = self._db.execute(
            "SELECT id, name, alliance_id FROM schools WHERE name = ?", (name,)
        ).fetchone()
        return School(id=row[0], name=row[1], alliance_id=row[2]) if row else None

    def find_school(self, text: str) -> School | None:
        """Exact name, else the only school whose name contains the text."""
        exact = self.school_by_name(text)
        if exact is not None:
            return exact
        rows = self._db.execute(
            "SELECT id, name, alliance_id FROM schools WHERE instr(name, ?) > 0", (text,)
        ).fetchall()
        return (
            School(id=rows[0][0], name=rows[0][1], alliance_id=rows[0][2])
            if len(rows) == 1
            else None
        )

    def schools(self, alliance_ids: Iterable[int] | None = None) -> list[School]:
        sql = "SELECT id, name, alliance_id FROM schools"
        params: list[int] = []
        if alliance_ids is not None:
            ids = list(alliance_ids)
            sql += f" WHERE alliance_id IN ({','.join('?' * len(ids)) or 'NULL'})"
            params = ids
        rows = self._db.execute(sql + " ORDER BY id", params)
        return [School(id=r[0], name=r[1], alliance_id=r[2]) for r in rows]

    # members ---------------------------------------------------------------
    def add_member(
        self,
        name: str,
        *,
        at: datetime,
        role: Role = Role.TEACHER,
        school_id: int | None = None,
        alliance_id: int | None = None,
        userid: str | None = None,
    ) -> Member:
        cursor = self._db.execute(
            "INSERT INTO members (name, school_id, alliance_id, userid, role, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (name, school_id, alliance_id, userid, role.value, to_db_time(at)),
        )
        member = self.member(inserted_id(cursor) or 0)
        assert member is not None
        return member

    def update_member(self, member_id: int, **fields: object) -> None:
        allowed = {"name", "school_id", "alliance_id", "userid", "role", "active"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"cannot update member fields {sorted(unknown)}")
        if "role" in fields and isinstance(fields["role"], Role):
            fields["role"] = fields["role"].value
        if fields:
            update_row(self._db, "members", member_id, fields)

    def member(self, member_id: int) -> Member | None:
        row = self._db.execute(MEMBER_SELECT + " WHERE m.id = ?", (member_id,)).fetchone()
        return member_from_row(row) if row else None

    def member_by_userid(self, userid: str) -> Member | None:
        row = self._db.execute(MEMBER_SELECT + " WHERE m.userid = ?", (userid,)).fetchone()
        return member_from_row(row) if row else None

    def members_named(self, name: str, school_id: int | None = None) -> list[Member]:
        sql = MEMBER_SELECT + " WHERE m.name = ? AND m.active = 1"
        params: list[object] = [name]
        if school_id is not None:
            sql += " AND m.school_id = ?"
            params.append(school_id)
        return [member_from_row(row) for row in self._db.execute(sql + " ORDER BY m.id", params)]

    def members_in(
        self, alliance_ids: Iterable[int], roles: Iterable[Role] | None = None
    ) -> list[Member]:
        """Active members of these alliances, optionally of some roles, by school then name."""
        ids = list(alliance_ids)
        if not ids:
            return []
        sql = (
            MEMBER_SELECT + f" WHERE m.active = 1 AND m.alliance_id IN ({','.join('?' * len(ids))})"
        )
        params: list[object] = list(ids)
        if roles is not None:
            role_values = [r.value for r in roles]
            sql += f" AND m.role IN ({','.join('?' * len(role_values))})"
            params.extend(role_values)
        sql += MEMBER_ORDER
        return [member_from_row(row) for row in self._db.execute(sql, params)]

    def all_members(self) -> list[Member]:
        return [member_from_row(row) for row in self._db.execute(MEMBER_SELECT + " ORDER BY m.id")]

    def count_members(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM members").fetchone()[0])


def _alliance_core(name: str) -> str:
    core = name.strip()
    for suffix in ("协作体联盟", "联盟", "协作体"):
        if core.endswith(suffix) and len(core) > len(suffix):
            core = core[: -len(suffix)]
            break
    return core.replace("（", "(").replace("）", ")")


def _alliance(row: tuple[Any, ...]) -> Alliance:
    return Alliance(
        id=row[0],
        name=row[1],
        parent_id=row[2],
        timezone=row[3],
        digest_weekday=row[4],
        digest_time=row[5],
        digest_enabled=bool(row[6]),
        quiet_start=row[7],
        quiet_end=row[8],
    )


def member_from_row(row: tuple[Any, ...]) -> Member:
    return Member(
        id=row[0],
        name=row[1],
        school_id=row[2],
        school_name=row[3],
        alliance_id=row[4],
        userid=row[5],
        role=Role(row[6]),
        active=bool(row[7]),
    )
