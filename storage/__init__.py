"""SQLite storage: one repository per aggregate, bundled in `Storage` for injection."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from storage.activities import ActivitiesRepo
from storage.audit import AuditRepo
from storage.calendar import CalendarRepo
from storage.chats import ChatsRepo
from storage.db import open_database
from storage.evidence import EvidenceRepo
from storage.feedback import FeedbackRepo
from storage.lesson_studies import LessonStudiesRepo
from storage.messaging import InboxRepo, OutboxRepo
from storage.notices import NoticesRepo
from storage.reminders import RemindersRepo
from storage.reporting import ReportingQueries
from storage.resources import ResourcesRepo
from storage.reviews import ReviewsRepo
from storage.roster import RosterRepo
from storage.series import SeriesRepo
from storage.submissions import SubmissionsRepo
from storage.teams import TeamsRepo

if TYPE_CHECKING:
    import sqlite_utils


@dataclass(frozen=True)
class Storage:
    db: sqlite_utils.Database
    roster: RosterRepo
    chats: ChatsRepo
    notices: NoticesRepo
    activities: ActivitiesRepo
    submissions: SubmissionsRepo
    audit: AuditRepo
    resources: ResourcesRepo
    feedback: FeedbackRepo
    teams: TeamsRepo
    reminders: RemindersRepo
    inbox: InboxRepo
    outbox: OutboxRepo
    reviews: ReviewsRepo
    series: SeriesRepo
    calendar: CalendarRepo
    evidence: EvidenceRepo
    lesson_studies: LessonStudiesRepo

    @classmethod
    def open(cls, path: Path | str, *, memory: bool = False) -> Storage:
        db = open_database(path, memory=memory)
        activities = ActivitiesRepo(db)
        teams = TeamsRepo(db)
        return cls(
            db=db,
            roster=RosterRepo(db),
            chats=ChatsRepo(db),
            notices=NoticesRepo(db),
            activities=activities,
            submissions=SubmissionsRepo(db),
            audit=AuditRepo(db),
            resources=ResourcesRepo(db),
            feedback=FeedbackRepo(db),
            teams=teams,
            reminders=RemindersRepo(db),
            inbox=InboxRepo(db),
            outbox=OutboxRepo(db),
            reviews=ReviewsRepo(db),
            series=SeriesRepo(db, activities, teams),
            calendar=CalendarRepo(db),
            evidence=EvidenceRepo(db),
            lesson_studies=LessonStudiesRepo(db),
        )

    def reporting(self) -> ReportingQueries:
        """Batch queries for one report. A fresh one per report, because it remembers each
        alliance tree's participants for its lifetime (two periods load the roster once)."""
        return ReportingQueries(self.db, self.roster, self.teams)

    @cached_property
    def path(self) -> Path | None:
        """The database file behind this storage (None for an in-memory database).

        Cached: the dispatcher asks for every message, and resolving the path costs more than
        handling a sign-in."""
        rows = self.db.execute("PRAGMA database_list").fetchall()
        main = next((row[2] for row in rows if row[1] == "main"), "")
        return Path(main).resolve() if main else None

    def close(self) -> None:
        self.db.conn.close()
