"""Storage (SQLite, or PostgreSQL for a URL): one repository per aggregate, bundled in
`Storage` for injection."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from storage.activities import ActivitiesRepo
from storage.audit import AuditRepo
from storage.calendar import CalendarRepo
from storage.chats import ChatsRepo
from storage.db import Database, data_dir_for, open_database
from storage.dialect import dialect_of, is_postgres_url
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


@dataclass(frozen=True)
class Storage:
    db: Database
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
    # The PostgreSQL URL this storage was opened from (None for SQLite).
    url: str | None = None

    @classmethod
    def open(cls, target: Path | str, *, memory: bool = False) -> Storage:
        """Open what `JIAOYAN_DB` names: a SQLite file, or a `postgresql://` URL."""
        db = open_database(target, memory=memory)
        activities = ActivitiesRepo(db)
        teams = TeamsRepo(db)
        return cls(
            url=str(target) if is_postgres_url(target) else None,
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
        if dialect_of(self.db.conn) != "sqlite":
            return None
        rows = self.db.execute("PRAGMA database_list").fetchall()
        main = next((row[2] for row in rows if row[1] == "main"), "")
        return Path(main).resolve() if main else None

    @property
    def location(self) -> Path | str | None:
        """What another thread or process passes to `Storage.open` to reach the same data:
        the SQLite file or the PostgreSQL URL (None for an in-memory database)."""
        return self.url if self.url is not None else self.path

    @cached_property
    def data_dir(self) -> Path | None:
        """Where files kept beside the data live (received files, exports, digest charts):
        the SQLite file's folder; `data/` for PostgreSQL; None in memory."""
        location = self.location
        return data_dir_for(location) if location is not None else None

    def close(self) -> None:
        self.db.conn.close()
