"""A team and its first members are stored together or not at all; a team's school is
looked up by its id."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage import Storage

T0 = datetime(2024, 9, 2, 8, 0, tzinfo=UTC)


def test_a_team_whose_members_cannot_be_added_is_not_created(tmp_path: Path) -> None:
    storage = Storage.open(tmp_path / "bot.db")
    with pytest.raises(sqlite3.IntegrityError):
        storage.teams.create(
            "青年教师团队", at=T0, alliance_id=None, school_id=None, member_ids=[404]
        )
    assert storage.teams.named("青年教师团队") is None


def test_a_school_is_found_by_its_id_and_no_id_finds_none(tmp_path: Path) -> None:
    storage = Storage.open(tmp_path / "bot.db")
    east = storage.roster.ensure_alliance("东部联盟", at=T0)
    school = storage.roster.ensure_school("东部一小", east.id)
    assert storage.roster.school(school.id) == school
    assert storage.roster.school(school.id + 1) is None
    assert storage.roster.school(None) is None
