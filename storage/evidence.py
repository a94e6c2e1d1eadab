"""Evidence: received files attached to reflections, 评课, 反馈 answers and notices.

The files themselves are rows of `files` (shared with the resource library) and live on disk
under the data directory; this repository only links them to records.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from storage.db import from_db_time, to_db_time
from storage.models import Evidence, EvidenceKind, RecentRecord, StoredFile

if TYPE_CHECKING:
    from storage.db import Database

_COLUMNS = (
    "e.id, e.kind, e.record_id, e.activity_id, e.member_id, e.attached_at, "
    "f.id, f.sha256, f.name, f.size, f.path, f.executable, f.uploaded_by, f.uploaded_at"
)
_FROM = "FROM evidence e JOIN files f ON f.id = e.file_id"
_CHUNK = 500  # ids bound per IN (...)

# The records a person makes since a moment: (kind, id, activity, 征集 asked, when). The
# first branch types the NULL column, as PostgreSQL reads an untyped NULL as text.
_RECORDS = (
    "SELECT 'reflection' AS kind, id, activity_id, CAST(NULL AS INTEGER) AS request_id, "
    "updated_at AS at "
    "FROM reflections WHERE member_id = ? AND updated_at >= ? "
    "UNION ALL SELECT 'review', id, activity_id, NULL, updated_at FROM lesson_reviews "
    "WHERE observer_id = ? AND updated_at >= ? "
    "UNION ALL SELECT 'feedback', id, NULL, request_id, updated_at FROM feedback_answers "
    "WHERE member_id = ? AND updated_at >= ? "
    "UNION ALL SELECT 'notice', id, NULL, NULL, created_at FROM notices "
    "WHERE author_id = ? AND created_at >= ?"
)


class EvidenceRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    def attach(
        self,
        *,
        file_id: int,
        kind: EvidenceKind,
        record_id: int | None,
        activity_id: int | None,
        member_id: int,
        at: datetime,
        source: str,
    ) -> Evidence:
        """Link a file to a record; the same message processed again links it once."""
        self._db.execute(
            "INSERT INTO evidence (file_id, kind, record_id, activity_id, member_id, "
            "attached_at, source) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source) DO NOTHING",
            (file_id, kind.value, record_id, activity_id, member_id, to_db_time(at), source),
        )
        row = self._db.execute(
            f"SELECT {_COLUMNS} {_FROM} WHERE e.source = ?", (source,)
        ).fetchone()
        return _evidence(row)

    def claim_waiting(self, activity_id: int, member_id: int, reflection_id: int) -> int:
        """Give the photos kept for this person's reflection on the activity to it; how many."""
        cursor = self._db.execute(
            "UPDATE evidence SET record_id = ? WHERE kind = 'reflection' AND record_id IS NULL "
            "AND activity_id = ? AND member_id = ?",
            (reflection_id, activity_id, member_id),
        )
        return int(cursor.rowcount or 0)

    def of_record(self, kind: EvidenceKind, record_id: int) -> list[Evidence]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} {_FROM} WHERE e.kind = ? AND e.record_id = ? ORDER BY e.id",
            (kind.value, record_id),
        )
        return [_evidence(row) for row in rows]

    def get(self, evidence_id: int) -> Evidence | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} {_FROM} WHERE e.id = ?", (evidence_id,)
        ).fetchone()
        return _evidence(row) if row else None

    def for_activities(self, activity_ids: Iterable[int]) -> list[Evidence]:
        """Attached (not waiting) evidence of reflections and 评课 of these activities."""
        found = self._where_in("e.record_id IS NOT NULL AND e.activity_id", (), activity_ids)
        return sorted(found, key=lambda e: (e.activity_id or 0, e.id))

    def for_records(self, kind: EvidenceKind, record_ids: Iterable[int]) -> list[Evidence]:
        """Evidence attached to these records of one kind (notices, 反馈 answers)."""
        found = self._where_in("e.kind = ? AND e.record_id", (kind.value,), record_ids)
        return sorted(found, key=lambda e: (e.record_id or 0, e.id))

    def _where_in(self, column: str, fixed: tuple[Any, ...], ids: Iterable[int]) -> list[Evidence]:
        """Rows whose `column` is one of `ids`, in chunks (a district's ids exceed SQL's
        bound variables)."""
        wanted = list(ids)
        found: list[Evidence] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            rows = self._db.execute(
                f"SELECT {_COLUMNS} {_FROM} WHERE {column} IN ({marks})", (*fixed, *chunk)
            )
            found.extend(_evidence(row) for row in rows)
        return found

    def feedback_request_of(self, answer_id: int) -> int | None:
        """The 征集 a 反馈 answer belongs to (to check who may read its attachment)."""
        row = self._db.execute(
            "SELECT request_id FROM feedback_answers WHERE id = ?", (answer_id,)
        ).fetchone()
        return int(row[0]) if row else None

    def latest_record(self, member_id: int, since: datetime) -> RecentRecord | None:
        """The newest reflection, 评课/听课, 反馈 or notice this person made at or after `since`."""
        when = to_db_time(since)
        row = self._db.execute(
            f"SELECT kind, id, activity_id, request_id, at FROM ({_RECORDS}) AS made ORDER BY at DESC LIMIT 1",
            (member_id, when) * 4,
        ).fetchone()
        if row is None:
            return None
        return RecentRecord(
            kind=EvidenceKind(row[0]),
            record_id=int(row[1]),
            activity_id=row[2],
            request_id=row[3],
            at=from_db_time(row[4]),
        )


def _evidence(row: tuple[Any, ...]) -> Evidence:
    stored = StoredFile(
        id=row[6],
        sha256=row[7],
        name=row[8],
        size=row[9],
        path=row[10],
        executable=bool(row[11]),
        uploaded_by=row[12],
        uploaded_at=from_db_time(row[13]),
    )
    return Evidence(
        id=row[0],
        kind=EvidenceKind(row[1]),
        record_id=row[2],
        activity_id=row[3],
        member_id=row[4],
        attached_at=from_db_time(row[5]),
        file=stored,
    )
