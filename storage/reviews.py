"""听评课 records (评课 on an activity, 听课 outside one), 量表 and per-term 听课 quotas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from storage.db import from_db_time, to_db_time
from storage.models import LessonReview, RatingForm, ReviewKind

if TYPE_CHECKING:
    from storage.db import Database

_COLUMNS = (
    "id, kind, alliance_id, activity_id, observer_id, teacher_id, lesson_date, topic, subject, "
    "strengths, weaknesses, suggestions, score_items, scores, created_at, updated_at"
)
# Items of a 量表 and scores are stored one per line / comma-separated: they are only ever
# read whole, with the record.
_ITEM_SEP = "\n"


@dataclass(frozen=True)
class ReviewParts:
    """The three parts of a 三个一 comment."""

    strengths: str
    weaknesses: str
    suggestions: str


@dataclass(frozen=True)
class ObservationQuota:
    """听课任务: how many lessons each teacher of an alliance (and below) observes per term."""

    alliance_id: int
    per_term: int
    set_at: datetime


@dataclass
class ReviewCounts:
    """How many 听课 and 评课 someone (or a school) wrote."""

    observations: int = 0
    reviews: int = 0

    def add(self, other: ReviewCounts) -> None:
        self.observations += other.observations
        self.reviews += other.reviews


def _marks(count: int) -> str:
    return ",".join("?" * count)


class ReviewsRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    # records ---------------------------------------------------------------
    def review_activity(
        self,
        *,
        activity_id: int,
        alliance_id: int,
        observer_id: int,
        teacher_id: int | None,
        lesson_date: date,
        parts: ReviewParts,
        at: datetime,
    ) -> tuple[LessonReview, bool]:
        """Store a 评课; the same observer's 评课 of the same lesson (activity and teacher) is
        replaced. Returns the record and whether it is new."""
        row = self._db.execute(
            "SELECT id FROM lesson_reviews WHERE kind = 'review' AND activity_id = ? "
            "AND observer_id = ? AND COALESCE(teacher_id, 0) = ?",
            (activity_id, observer_id, teacher_id or 0),
        ).fetchone()
        when = to_db_time(at)
        if row is not None:
            self._db.execute(
                "UPDATE lesson_reviews SET strengths = ?, weaknesses = ?, suggestions = ?, "
                "updated_at = ? WHERE id = ?",
                (parts.strengths, parts.weaknesses, parts.suggestions, when, row[0]),
            )
            review = self.get(int(row[0]))
            assert review is not None
            return review, False
        review_id = self._insert(
            ReviewKind.REVIEW,
            alliance_id=alliance_id,
            activity_id=activity_id,
            observer_id=observer_id,
            teacher_id=teacher_id,
            lesson_date=lesson_date,
            topic=None,
            subject=None,
            parts=parts,
            at=at,
        )
        review = self.get(review_id)
        assert review is not None
        return review, True

    def observe(
        self,
        *,
        alliance_id: int,
        observer_id: int,
        teacher_id: int,
        lesson_date: date,
        topic: str,
        subject: str | None,
        parts: ReviewParts,
        at: datetime,
    ) -> LessonReview:
        """Store a 听课 record (each observed lesson is its own record)."""
        review_id = self._insert(
            ReviewKind.OBSERVATION,
            alliance_id=alliance_id,
            activity_id=None,
            observer_id=observer_id,
            teacher_id=teacher_id,
            lesson_date=lesson_date,
            topic=topic,
            subject=subject,
            parts=parts,
            at=at,
        )
        review = self.get(review_id)
        assert review is not None
        return review

    def _insert(
        self,
        kind: ReviewKind,
        *,
        alliance_id: int,
        activity_id: int | None,
        observer_id: int,
        teacher_id: int | None,
        lesson_date: date,
        topic: str | None,
        subject: str | None,
        parts: ReviewParts,
        at: datetime,
    ) -> int:
        when = to_db_time(at)
        row = self._db.execute(
            "INSERT INTO lesson_reviews (kind, alliance_id, activity_id, observer_id, "
            "teacher_id, lesson_date, topic, subject, strengths, weaknesses, suggestions, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                kind.value,
                alliance_id,
                activity_id,
                observer_id,
                teacher_id,
                lesson_date.isoformat(),
                topic,
                subject,
                parts.strengths,
                parts.weaknesses,
                parts.suggestions,
                when,
                when,
            ),
        ).fetchone()
        return int(row[0])

    def set_scores(self, review_id: int, items: Sequence[str], scores: Sequence[int]) -> None:
        self._db.execute(
            "UPDATE lesson_reviews SET score_items = ?, scores = ? WHERE id = ?",
            (_ITEM_SEP.join(items), ",".join(str(s) for s in scores), review_id),
        )

    def get(self, review_id: int) -> LessonReview | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM lesson_reviews WHERE id = ?", (review_id,)
        ).fetchone()
        return review_from_row(row) if row else None

    def of_activity(self, activity_id: int) -> list[LessonReview]:
        return self._select("WHERE activity_id = ? ORDER BY id", [activity_id])

    def about_teacher(self, teacher_id: int) -> list[LessonReview]:
        """Every record on lessons this teacher taught, oldest first."""
        return self._select("WHERE teacher_id = ? ORDER BY lesson_date, id", [teacher_id])

    def by_observer(self, observer_id: int) -> list[LessonReview]:
        return self._select("WHERE observer_id = ? ORDER BY lesson_date, id", [observer_id])

    def latest_review_by(self, observer_id: int, activity_id: int | None) -> LessonReview | None:
        """The observer's latest 评课 (of one activity, when given): what 评分 scores."""
        sql = "WHERE kind = 'review' AND observer_id = ?"
        params: list[object] = [observer_id]
        if activity_id is not None:
            sql += " AND activity_id = ?"
            params.append(activity_id)
        found = self._select(sql + " ORDER BY updated_at DESC, id DESC LIMIT 1", params)
        return found[0] if found else None

    def in_alliances(
        self, alliance_ids: Sequence[int], *, first_day: date, after_day: date
    ) -> list[LessonReview]:
        """Records of these alliances on lessons in [first_day, after_day), by date."""
        if not alliance_ids:
            return []
        return self._select(
            f"WHERE alliance_id IN ({_marks(len(alliance_ids))}) "
            "AND lesson_date >= ? AND lesson_date < ? ORDER BY lesson_date, id",
            [*alliance_ids, first_day.isoformat(), after_day.isoformat()],
        )

    def counts_by_observer(
        self, alliance_ids: Sequence[int], *, first_day: date, after_day: date
    ) -> dict[int, ReviewCounts]:
        """observer id → how many 听课 and 评课 they wrote on lessons of these alliances in
        [first_day, after_day)."""
        if not alliance_ids:
            return {}
        rows = self._db.execute(
            "SELECT observer_id, kind, COUNT(*) FROM lesson_reviews "
            f"WHERE alliance_id IN ({_marks(len(alliance_ids))}) "
            "AND lesson_date >= ? AND lesson_date < ? GROUP BY observer_id, kind",
            [*alliance_ids, first_day.isoformat(), after_day.isoformat()],
        )
        found: dict[int, ReviewCounts] = {}
        for observer_id, kind, count in rows:
            counts = found.setdefault(int(observer_id), ReviewCounts())
            if kind == ReviewKind.OBSERVATION.value:
                counts.observations += int(count)
            else:
                counts.reviews += int(count)
        return found

    def _select(self, where: str, params: Sequence[object]) -> list[LessonReview]:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM lesson_reviews {where}", list(params))
        return [review_from_row(row) for row in rows]

    # 量表 ------------------------------------------------------------------
    def set_form(
        self, alliance_id: int, kind: str, items: Sequence[str], *, by: int | None, at: datetime
    ) -> None:
        self._db.execute(
            "INSERT INTO rating_forms (alliance_id, activity_kind, items, set_by, set_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (alliance_id, activity_kind) DO UPDATE SET "
            "items = excluded.items, set_by = excluded.set_by, set_at = excluded.set_at",
            (alliance_id, kind, _ITEM_SEP.join(items), by, to_db_time(at)),
        )

    def delete_form(self, alliance_id: int, kind: str) -> bool:
        cursor = self._db.execute(
            "DELETE FROM rating_forms WHERE alliance_id = ? AND activity_kind = ?",
            (alliance_id, kind),
        )
        return cursor.rowcount > 0

    def forms(self, alliance_ids: Sequence[int]) -> list[RatingForm]:
        if not alliance_ids:
            return []
        rows = self._db.execute(
            "SELECT alliance_id, activity_kind, items FROM rating_forms "
            f"WHERE alliance_id IN ({_marks(len(alliance_ids))}) ORDER BY alliance_id, id",
            list(alliance_ids),
        )
        return [
            RatingForm(alliance_id=row[0], activity_kind=row[1], items=row[2].split(_ITEM_SEP))
            for row in rows
        ]

    # 听课任务 ---------------------------------------------------------------
    def set_quota(
        self, alliance_id: int, per_term: int | None, *, by: int | None, at: datetime
    ) -> None:
        """Set the per-term 听课 count of an alliance's teachers; None removes it."""
        if per_term is None:
            self._db.execute("DELETE FROM observation_quotas WHERE alliance_id = ?", (alliance_id,))
            return
        self._db.execute(
            "INSERT INTO observation_quotas (alliance_id, per_term, set_by, set_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (alliance_id) DO UPDATE SET "
            "per_term = excluded.per_term, set_by = excluded.set_by, set_at = excluded.set_at",
            (alliance_id, per_term, by, to_db_time(at)),
        )

    def quota_rows(self) -> list[ObservationQuota]:
        rows = self._db.execute(
            "SELECT alliance_id, per_term, set_at FROM observation_quotas ORDER BY alliance_id"
        )
        return [ObservationQuota(int(r[0]), int(r[1]), from_db_time(r[2])) for r in rows]

    def nearest_quota(self, chain: Sequence[int]) -> ObservationQuota | None:
        """The quota that applies along an alliance chain (nearest first, as `ancestors`)."""
        found = {q.alliance_id: q for q in self.quota_rows() if q.alliance_id in set(chain)}
        return next((found[a] for a in chain if a in found), None)

    def observations_by(
        self, observer_ids: Sequence[int], *, first_day: date, after_day: date
    ) -> dict[int, int]:
        """observer id → 听课 they recorded on lessons in [first_day, after_day)."""
        found: dict[int, int] = {}
        for start in range(0, len(observer_ids), 500):
            chunk = list(observer_ids[start : start + 500])
            rows = self._db.execute(
                "SELECT observer_id, COUNT(*) FROM lesson_reviews WHERE kind = 'observation' "
                f"AND observer_id IN ({_marks(len(chunk))}) AND lesson_date >= ? "
                "AND lesson_date < ? GROUP BY observer_id",
                [*chunk, first_day.isoformat(), after_day.isoformat()],
            )
            found.update({int(r[0]): int(r[1]) for r in rows})
        return found


def review_from_row(row: tuple[Any, ...]) -> LessonReview:
    return LessonReview(
        id=row[0],
        kind=ReviewKind(row[1]),
        alliance_id=row[2],
        activity_id=row[3],
        observer_id=row[4],
        teacher_id=row[5],
        lesson_date=date.fromisoformat(row[6]),
        topic=row[7],
        subject=row[8],
        strengths=row[9],
        weaknesses=row[10],
        suggestions=row[11],
        score_items=row[12].split(_ITEM_SEP) if row[12] else [],
        scores=[int(s) for s in row[13].split(",")] if row[13] else [],
        created_at=from_db_time(row[14]),
        updated_at=from_db_time(row[15]),
    )
