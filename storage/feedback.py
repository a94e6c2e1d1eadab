"""School feedback (征集/反馈): questions to the schools of an alliance and their answers.

Each school has one current answer per request; every revision is kept as a version.
A school's answer comes from its 业务领导 (a leader there) or a designated contact.

The module also defines, once, which schools a request asks, who answers for a school and
which schools are still missing; the commands, the reminders, the digest and the export
all use these definitions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from storage.db import from_db_time, inserted_id, to_db_time, transaction
from storage.models import (
    FeedbackAnswer,
    FeedbackRequest,
    FeedbackStatus,
    FeedbackVersion,
    Member,
    Role,
    School,
)
from storage.roster import RosterRepo

if TYPE_CHECKING:
    from storage.db import Database

_REQUEST_COLUMNS = "id, alliance_id, question, due_at, created_by, created_at, status"
_ANSWER_COLUMNS = "id, request_id, school_id, member_id, body, version, first_at, updated_at"


class FeedbackRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    # requests ----------------------------------------------------------------
    def create(
        self,
        *,
        alliance_id: int,
        question: str,
        due_at: datetime,
        created_by: int | None,
        at: datetime,
    ) -> FeedbackRequest:
        cursor = self._db.execute(
            "INSERT INTO feedback_requests (alliance_id, question, due_at, created_by, "
            "created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
            (alliance_id, question, to_db_time(due_at), created_by, to_db_time(at)),
        )
        request = self.get(inserted_id(cursor) or 0)
        assert request is not None
        return request

    def get(self, request_id: int) -> FeedbackRequest | None:
        row = self._db.execute(
            f"SELECT {_REQUEST_COLUMNS} FROM feedback_requests WHERE id = ?", (request_id,)
        ).fetchone()
        return _request(row) if row else None

    def close(self, request_id: int) -> None:
        self._db.execute(
            "UPDATE feedback_requests SET status = 'closed' WHERE id = ?", (request_id,)
        )

    def open_requests(self, alliance_ids: Iterable[int] | None = None) -> list[FeedbackRequest]:
        """Open requests (of some alliances, or all), newest first."""
        sql = f"SELECT {_REQUEST_COLUMNS} FROM feedback_requests WHERE status = 'open'"
        params: list[int] = []
        if alliance_ids is not None:
            params = list(alliance_ids)
            sql += f" AND alliance_id IN ({','.join('?' * len(params)) or 'NULL'})"
        rows = self._db.execute(sql + " ORDER BY created_at DESC, id DESC", params)
        return [_request(row) for row in rows]

    def created_between(
        self, alliance_ids: Iterable[int] | None, start: datetime, end: datetime
    ) -> list[FeedbackRequest]:
        """Requests created in [start, end), oldest first — for the export."""
        sql = (
            f"SELECT {_REQUEST_COLUMNS} FROM feedback_requests "
            "WHERE created_at >= ? AND created_at < ?"
        )
        params: list[object] = [to_db_time(start), to_db_time(end)]
        if alliance_ids is not None:
            ids = list(alliance_ids)
            sql += f" AND alliance_id IN ({','.join('?' * len(ids)) or 'NULL'})"
            params.extend(ids)
        return [_request(row) for row in self._db.execute(sql + " ORDER BY created_at, id", params)]

    # answers -----------------------------------------------------------------
    def answer(
        self, request_id: int, school_id: int, *, member_id: int | None, body: str, at: datetime
    ) -> tuple[FeedbackAnswer, bool]:
        """Store a school's answer; (answer, changed). The same text again changes nothing."""
        with transaction(self._db.conn):
            current = self.answer_of(request_id, school_id)
            if current is not None and current.body == body:
                return current, False
            if current is None:
                cursor = self._db.execute(
                    "INSERT INTO feedback_answers (request_id, school_id, member_id, body, "
                    "version, first_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?) RETURNING id",
                    (request_id, school_id, member_id, body, to_db_time(at), to_db_time(at)),
                )
                answer_id, version = inserted_id(cursor) or 0, 1
            else:
                answer_id, version = current.id, current.version + 1
                self._db.execute(
                    "UPDATE feedback_answers SET member_id = ?, body = ?, version = ?, "
                    "updated_at = ? WHERE id = ?",
                    (member_id, body, version, to_db_time(at), answer_id),
                )
            self._db.execute(
                "INSERT INTO feedback_answer_versions (answer_id, version, body, member_id, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (answer_id, version, body, member_id, to_db_time(at)),
            )
        saved = self.answer_of(request_id, school_id)
        assert saved is not None
        return saved, True

    def answer_of(self, request_id: int, school_id: int) -> FeedbackAnswer | None:
        row = self._db.execute(
            f"SELECT {_ANSWER_COLUMNS} FROM feedback_answers "
            "WHERE request_id = ? AND school_id = ?",
            (request_id, school_id),
        ).fetchone()
        return _answer(row) if row else None

    def answers(self, request_id: int) -> dict[int, FeedbackAnswer]:
        """school id → current answer."""
        rows = self._db.execute(
            f"SELECT {_ANSWER_COLUMNS} FROM feedback_answers WHERE request_id = ?", (request_id,)
        )
        return {int(row[2]): _answer(row) for row in rows}

    def versions(self, answer_id: int) -> list[FeedbackVersion]:
        rows = self._db.execute(
            "SELECT version, body, member_id, at FROM feedback_answer_versions "
            "WHERE answer_id = ? ORDER BY version",
            (answer_id,),
        )
        return [
            FeedbackVersion(version=r[0], body=r[1], member_id=r[2], at=from_db_time(r[3]))
            for r in rows
        ]

    # contacts ----------------------------------------------------------------
    def set_contact(self, school_id: int, member_id: int, *, by: str | None, at: datetime) -> None:
        """The one person (besides the school's leaders) who answers for a school."""
        self._db.execute(
            "INSERT INTO school_contacts (school_id, member_id, set_by, set_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(school_id) DO UPDATE SET "
            "member_id = excluded.member_id, set_by = excluded.set_by, set_at = excluded.set_at",
            (school_id, member_id, by, to_db_time(at)),
        )

    def contacts(self, school_ids: Iterable[int] | None = None) -> dict[int, int]:
        """school id → contact member id."""
        sql = "SELECT school_id, member_id FROM school_contacts"
        params: list[int] = []
        if school_ids is not None:
            params = list(school_ids)
            if not params:
                return {}
            sql += f" WHERE school_id IN ({','.join('?' * len(params))})"
        return {int(row[0]): int(row[1]) for row in self._db.execute(sql, params)}

    def schools_contacted_by(self, member_id: int) -> list[int]:
        rows = self._db.execute(
            "SELECT school_id FROM school_contacts WHERE member_id = ? ORDER BY school_id",
            (member_id,),
        )
        return [int(row[0]) for row in rows]


# who is asked, who answers, who is missing --------------------------------------------
# One definition shared by the 反馈 commands, the reminders, the digest and the export.


def expected_schools(roster: RosterRepo, request: FeedbackRequest) -> list[School]:
    """Every school of the request's alliance and the alliances below it."""
    return roster.schools(roster.descendants(request.alliance_id))


def responders_by_school(
    roster: RosterRepo, feedback: FeedbackRepo, schools: Sequence[School]
) -> dict[int, list[Member]]:
    """school id → who answers for it: its active leaders, then its designated contact."""
    alliance_ids = {s.alliance_id for s in schools if s.alliance_id is not None}
    tree = sorted({i for a in alliance_ids for i in roster.descendants(a)})
    wanted = {s.id for s in schools}
    result: dict[int, list[Member]] = defaultdict(list)
    for leader in roster.members_in(tree, [Role.LEADER]):
        if leader.school_id in wanted:
            result[leader.school_id].append(leader)
    for school_id, member_id in feedback.contacts(wanted).items():
        contact = roster.member(member_id)
        known = result[school_id]
        if contact is not None and contact.active and all(p.id != contact.id for p in known):
            known.append(contact)
    return dict(result)


@dataclass(frozen=True)
class FeedbackProgress:
    """Which of the schools asked (possibly narrowed to a scope) answered a request."""

    request: FeedbackRequest
    schools: list[School]
    answers: dict[int, FeedbackAnswer]  # school id → current answer, only for `schools`

    @property
    def answered(self) -> list[School]:
        return [s for s in self.schools if s.id in self.answers]

    @property
    def missing(self) -> list[School]:
        return [s for s in self.schools if s.id not in self.answers]


def feedback_progress(
    roster: RosterRepo,
    feedback: FeedbackRepo,
    request: FeedbackRequest,
    within: Collection[int] | None = None,
) -> FeedbackProgress:
    """The request's expected schools (only those whose id is in `within`, if given), in
    roster order, with their current answers."""
    schools = expected_schools(roster, request)
    if within is not None:
        schools = [s for s in schools if s.id in within]
    ids = {s.id for s in schools}
    answers = {k: v for k, v in feedback.answers(request.id).items() if k in ids}
    return FeedbackProgress(request=request, schools=schools, answers=answers)


def _request(row: tuple[Any, ...]) -> FeedbackRequest:
    return FeedbackRequest(
        id=row[0],
        alliance_id=row[1],
        question=row[2],
        due_at=from_db_time(row[3]),
        created_by=row[4],
        created_at=from_db_time(row[5]),
        status=FeedbackStatus(row[6]),
    )


def _answer(row: tuple[Any, ...]) -> FeedbackAnswer:
    return FeedbackAnswer(
        id=row[0],
        request_id=row[1],
        school_id=row[2],
        member_id=row[3],
        body=row[4],
        version=row[5],
        first_at=from_db_time(row[6]),
        updated_at=from_db_time(row[7]),
    )
