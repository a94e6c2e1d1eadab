"""课例 (一课多研): named lessons, their rounds (one activity each, with its 执教) and the
说课 designs submitted for a round."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from storage.db import from_db_time, to_db_time, transaction
from storage.models import Design, LessonStudy, StudyRound

if TYPE_CHECKING:
    from storage.db import Database

_STUDY = "id, alliance_id, name, created_at"
_ROUND = "study_id, activity_id, round, teacher_id"
_DESIGN = "id, activity_id, member_id, body, file_id, submitted_at"


class LessonStudiesRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_round(
        self, *, alliance_id: int, name: str, activity_id: int, teacher_id: int | None, at: datetime
    ) -> StudyRound:
        """Put the activity into the named 课例 (made on first use) as its next round."""
        conn = self._db.conn
        with transaction(conn):
            conn.execute(
                "INSERT INTO lesson_studies (alliance_id, name, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (alliance_id, name) DO NOTHING",
                (alliance_id, name, to_db_time(at)),
            )
            study_id = int(
                conn.execute(
                    "SELECT id FROM lesson_studies WHERE alliance_id = ? AND name = ?",
                    (alliance_id, name),
                ).fetchone()[0]
            )
            last = conn.execute(
                "SELECT COALESCE(MAX(round), 0) FROM lesson_study_rounds WHERE study_id = ?",
                (study_id,),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO lesson_study_rounds (study_id, activity_id, round, teacher_id) "
                "VALUES (?, ?, ?, ?)",
                (study_id, activity_id, int(last) + 1, teacher_id),
            )
        return StudyRound(
            study_id=study_id, activity_id=activity_id, round=int(last) + 1, teacher_id=teacher_id
        )

    def named(self, alliance_ids: Iterable[int], name: str) -> LessonStudy | None:
        ids = list(alliance_ids)
        if not ids:
            return None
        marks = ", ".join("?" for _ in ids)
        row = self._db.execute(
            f"SELECT {_STUDY} FROM lesson_studies WHERE name = ? AND alliance_id IN ({marks}) "
            "ORDER BY id LIMIT 1",
            (name, *ids),
        ).fetchone()
        return _study(row) if row else None

    def in_alliances(self, alliance_ids: Iterable[int] | None) -> list[LessonStudy]:
        """Every 课例 of these alliances (None: all), oldest first."""
        if alliance_ids is None:
            rows = self._db.execute(f"SELECT {_STUDY} FROM lesson_studies ORDER BY id")
            return [_study(row) for row in rows]
        ids = list(alliance_ids)
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = self._db.execute(
            f"SELECT {_STUDY} FROM lesson_studies WHERE alliance_id IN ({marks}) ORDER BY id", ids
        )
        return [_study(row) for row in rows]

    def get(self, study_id: int) -> LessonStudy | None:
        row = self._db.execute(
            f"SELECT {_STUDY} FROM lesson_studies WHERE id = ?", (study_id,)
        ).fetchone()
        return _study(row) if row else None

    def rounds(self, study_id: int) -> list[StudyRound]:
        rows = self._db.execute(
            f"SELECT {_ROUND} FROM lesson_study_rounds WHERE study_id = ? ORDER BY round",
            (study_id,),
        )
        return [_round(row) for row in rows]

    def round_of(self, activity_id: int) -> StudyRound | None:
        row = self._db.execute(
            f"SELECT {_ROUND} FROM lesson_study_rounds WHERE activity_id = ?", (activity_id,)
        ).fetchone()
        return _round(row) if row else None

    # 说课 designs ------------------------------------------------------------
    def submit_design(
        self,
        *,
        activity_id: int,
        member_id: int,
        body: str,
        file_id: int | None,
        at: datetime,
        source: str,
    ) -> tuple[Design, int]:
        """Store a design (the same message again stores it once); (design, its version)."""
        self._db.execute(
            "INSERT INTO designs (activity_id, member_id, body, file_id, submitted_at, source) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source) DO NOTHING",
            (activity_id, member_id, body, file_id, to_db_time(at), source),
        )
        row = self._db.execute(
            f"SELECT {_DESIGN} FROM designs WHERE source = ?", (source,)
        ).fetchone()
        design = _design(row)
        version = self._db.execute(
            "SELECT COUNT(*) FROM designs WHERE activity_id = ? AND member_id = ? AND id <= ?",
            (activity_id, member_id, design.id),
        ).fetchone()[0]
        return design, int(version)

    def design_count(self, activity_id: int) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM designs WHERE activity_id = ?", (activity_id,)
        ).fetchone()
        return int(row[0])

    def latest_design(self, activity_id: int) -> Design | None:
        """The newest design submitted for the activity (by anyone)."""
        row = self._db.execute(
            f"SELECT {_DESIGN} FROM designs WHERE activity_id = ? ORDER BY id DESC LIMIT 1",
            (activity_id,),
        ).fetchone()
        return _design(row) if row else None


def _study(row: tuple[Any, ...]) -> LessonStudy:
    return LessonStudy(id=row[0], alliance_id=row[1], name=row[2], created_at=from_db_time(row[3]))


def _round(row: tuple[Any, ...]) -> StudyRound:
    return StudyRound(study_id=row[0], activity_id=row[1], round=row[2], teacher_id=row[3])


def _design(row: tuple[Any, ...]) -> Design:
    return Design(
        id=row[0],
        activity_id=row[1],
        member_id=row[2],
        body=row[3],
        file_id=row[4],
        submitted_at=from_db_time(row[5]),
    )
