"""A team and its first members are stored together or not at all; a team's school is
looked up by its id."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage import Storage
from tests.postgres import INTEGRITY_ERRORS

T0 = datetime(2024, 9, 2, 8, 0, tzinfo=UTC)


def test_a_team_whose_members_cannot_be_added_is_not_created(db_target: Path | str) -> None:
    storage = Storage.open(db_target)
    with pytest.raises(INTEGRITY_ERRORS):
        storage.teams.create(
            "青年教师团队", at=T0, alliance_id=None, school_id=None, member_ids=[404]
        )
    assert storage.teams.named("青年教师团队") is None


def test_a_school_is_found_by_its_id_and_no_id_finds_none(db_target: Path | str) -> None:
    storage = Storage.open(db_target)
    east = storage.roster.ensure_alliance("东部联盟", at=T0)
    school = storage.roster.ensure_school("东部一小", east.id)
    assert storage.roster.school(school.id) == school
    assert storage.roster.school(school.id + 1) is None
    assert storage.roster.school(None) is None
