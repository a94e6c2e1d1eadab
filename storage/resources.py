"""The resource library (资源): shared links and received files, and recommendations.

Files themselves live on disk (bot/pipeline/files.py); this repository keeps what is known about them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from storage.db import from_db_time, inserted_id, to_db_time
from storage.models import Resource, StoredFile

if TYPE_CHECKING:
    from storage.db import Database

_RESOURCE_COLUMNS = (
    "id, alliance_id, title, kind, url, file_id, tags, activity_id, shared_by, shared_at, "
    "recommended_at, recommended_by, recommend_note"
)
_FILE_COLUMNS = "id, sha256, name, size, path, executable, uploaded_by, uploaded_at"


class ResourcesRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    # files -------------------------------------------------------------------
    def add_file(
        self,
        *,
        sha256: str,
        name: str,
        size: int,
        path: str,
        executable: bool,
        uploaded_by: int | None,
        at: datetime,
    ) -> StoredFile:
        """Record a stored file; the same content twice is the same file."""
        self._db.execute(
            "INSERT INTO files (sha256, name, size, path, executable, uploaded_by, "
            "uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
            (sha256, name, size, path, int(executable), uploaded_by, to_db_time(at)),
        )
        row = self._db.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE sha256 = ?", (sha256,)
        ).fetchone()
        return _file(row)

    def file(self, file_id: int) -> StoredFile | None:
        row = self._db.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE id = ?", (file_id,)
        ).fetchone()
        return _file(row) if row else None

    # resources ---------------------------------------------------------------
    def share(
        self,
        *,
        alliance_id: int,
        title: str,
        kind: str,
        at: datetime,
        url: str | None = None,
        file_id: int | None = None,
        tags: Iterable[str] = (),
        activity_id: int | None = None,
        shared_by: int | None = None,
        source: str | None = None,
    ) -> tuple[Resource, bool]:
        """Add a resource; (resource, created). A repeated `source` (the message that shared
        it, processed again after a crash) returns the resource it created the first time."""
        if source is not None:
            row = self._db.execute(
                f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE source = ?", (source,)
            ).fetchone()
            if row:
                return _resource(row), False
        cursor = self._db.execute(
            "INSERT INTO resources (alliance_id, title, kind, url, file_id, tags, activity_id, "
            "shared_by, shared_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                alliance_id,
                title,
                kind,
                url,
                file_id,
                " ".join(dict.fromkeys(tags)),
                activity_id,
                shared_by,
                to_db_time(at),
                source,
            ),
        )
        resource = self.get(inserted_id(cursor) or 0)
        assert resource is not None
        return resource, True

    def get(self, resource_id: int) -> Resource | None:
        row = self._db.execute(
            f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE id = ?", (resource_id,)
        ).fetchone()
        return _resource(row) if row else None

    def recommend(
        self, resource_id: int, *, by: int | None, at: datetime, note: str | None
    ) -> Resource:
        self._db.execute(
            "UPDATE resources SET recommended_at = ?, recommended_by = ?, recommend_note = ? "
            "WHERE id = ?",
            (to_db_time(at), by, note, resource_id),
        )
        resource = self.get(resource_id)
        assert resource is not None
        return resource

    def in_alliances(
        self, alliance_ids: Iterable[int], *, limit: int | None = None
    ) -> list[Resource]:
        """Newest first."""
        ids = list(alliance_ids)
        if not ids:
            return []
        sql = (
            f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE alliance_id IN "
            f"({','.join('?' * len(ids))}) ORDER BY shared_at DESC, id DESC"
        )
        params: list[object] = list(ids)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_resource(row) for row in self._db.execute(sql, params)]

    def for_activity(self, activity_id: int) -> list[Resource]:
        rows = self._db.execute(
            f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE activity_id = ? ORDER BY id",
            (activity_id,),
        )
        return [_resource(row) for row in rows]

    def shared_between(
        self, alliance_ids: Iterable[int] | None, start: datetime, end: datetime
    ) -> list[Resource]:
        """Resources shared in [start, end), oldest first — for the weekly digest and export."""
        return self._between("shared_at", alliance_ids, start, end)

    def shared_by_member(self, member_id: int, start: datetime, end: datetime) -> list[Resource]:
        """What one person shared in [start, end), oldest first — for their 成长档案."""
        rows = self._db.execute(
            f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE shared_by = ? "
            "AND shared_at >= ? AND shared_at < ? ORDER BY shared_at, id",
            (member_id, to_db_time(start), to_db_time(end)),
        )
        return [_resource(row) for row in rows]

    def recommended_between(
        self, alliance_ids: Iterable[int] | None, start: datetime, end: datetime
    ) -> list[Resource]:
        """Resources recommended (pushed to the groups) in [start, end), oldest first."""
        return self._between("recommended_at", alliance_ids, start, end)

    def _between(
        self,
        column: str,
        alliance_ids: Iterable[int] | None,
        start: datetime,
        end: datetime,
    ) -> list[Resource]:
        sql = f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE {column} >= ? AND {column} < ?"
        params: list[object] = [to_db_time(start), to_db_time(end)]
        if alliance_ids is not None:
            ids = list(alliance_ids)
            sql += f" AND alliance_id IN ({','.join('?' * len(ids)) or 'NULL'})"
            params.extend(ids)
        rows = self._db.execute(sql + f" ORDER BY {column}, id", params)
        return [_resource(row) for row in rows]


def _resource(row: tuple[Any, ...]) -> Resource:
    return Resource(
        id=row[0],
        alliance_id=row[1],
        title=row[2],
        kind=row[3],
        url=row[4],
        file_id=row[5],
        tags=[tag for tag in (row[6] or "").split(" ") if tag],
        activity_id=row[7],
        shared_by=row[8],
        shared_at=from_db_time(row[9]),
        recommended_at=from_db_time(row[10]) if row[10] else None,
        recommended_by=row[11],
        recommend_note=row[12],
    )


def _file(row: tuple[Any, ...]) -> StoredFile:
    return StoredFile(
        id=row[0],
        sha256=row[1],
        name=row[2],
        size=row[3],
        path=row[4],
        executable=bool(row[5]),
        uploaded_by=row[6],
        uploaded_at=from_db_time(row[7]),
    )
