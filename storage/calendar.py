"""The term calendar (校历) that recurring activities skip: terms, holidays, 调休 days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from storage.db import transaction
from storage.models import CalendarDay, CalendarDayKind, Term, TermCalendar

if TYPE_CHECKING:
    from storage.db import Database


class CalendarRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    def load(self) -> TermCalendar:
        terms = [
            Term(
                name=row[0],
                starts_on=date.fromisoformat(row[1]),
                ends_on=date.fromisoformat(row[2]),
            )
            for row in self._db.execute(
                "SELECT name, starts_on, ends_on FROM calendar_terms ORDER BY starts_on"
            )
        ]
        days = {
            date.fromisoformat(row[0]): CalendarDay(
                day=date.fromisoformat(row[0]), kind=CalendarDayKind(row[1]), name=row[2]
            )
            for row in self._db.execute("SELECT day, kind, name FROM calendar_days ORDER BY day")
        }
        return TermCalendar(terms=terms, days=days)

    def import_term(self, term: Term, days: Sequence[CalendarDay]) -> None:
        """Replace the term that starts on the same day (and the days inside it) with this
        one, in one commit: a re-import of a corrected file leaves no stale holiday behind."""
        with transaction(self._db.conn):
            self._db.execute(
                "DELETE FROM calendar_terms WHERE starts_on = ?", (term.starts_on.isoformat(),)
            )
            self._db.execute(
                "INSERT INTO calendar_terms (name, starts_on, ends_on) VALUES (?, ?, ?)",
                (term.name, term.starts_on.isoformat(), term.ends_on.isoformat()),
            )
            self._db.execute(
                "DELETE FROM calendar_days WHERE day >= ? AND day <= ?",
                (term.starts_on.isoformat(), term.ends_on.isoformat()),
            )
            for entry in days:
                self._db.execute(
                    "INSERT INTO calendar_days (day, kind, name) VALUES (?, ?, ?) "
                    "ON CONFLICT (day) DO UPDATE SET kind = excluded.kind, name = excluded.name",
                    (entry.day.isoformat(), entry.kind.value, entry.name),
                )
