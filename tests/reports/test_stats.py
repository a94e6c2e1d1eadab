"""Batch-loaded rolls count exactly like `roll_of`, one activity at a time."""

from __future__ import annotations

from storage.attendance import roll_of
from storage.models import ActivityTarget, SigninStatus

from .conftest import District, at


def summary_of(roll) -> dict[str, tuple[int, ...]]:  # type: ignore[no-untyped-def]
    return {
        school: (c.expected, c.signed, c.late, c.on_leave, c.reflected)
        for school, c in roll.by_school().items()
    }


def test_batch_rolls_equal_one_by_one_rolls(district: District) -> None:
    storage = district.storage
    # A legacy sign-in from the west on an east activity; A2 is aimed at one school only.
    storage.submissions.sign_in(
        1, district.people["孙丽"].id, at=at(11, 24, 14), status=SigninStatus.ON_TIME
    )
    erxiao = storage.roster.school_by_name("东部二小")
    assert erxiao is not None
    storage.teams.set_activity_target(2, ActivityTarget(school_ids=[erxiao.id]))
    activities = storage.activities.in_alliances(None, include_cancelled=True)
    batch = storage.reporting().rolls(activities)
    assert [r.activity.id for r in batch] == [a.id for a in activities]
    for roll, activity in zip(batch, activities, strict=True):
        single = roll_of(storage, activity)
        assert sorted(m.id for m in roll.participants) == sorted(m.id for m in single.participants)
        assert summary_of(roll) == summary_of(single)
        assert roll.signins == single.signins and roll.reflections == single.reflections
        assert roll.leaves == single.leaves
    a2 = next(r for r in batch if r.activity.id == 2)
    # Only 东部二小 is expected; 王芳 (东部一小) has a sign-in but is outside the audience:
    # her record stays stored and is not counted.
    assert {m.name for m in a2.participants} == {"张敏", "赵磊"}
    assert district.people["王芳"].id in a2.signins
    a1 = next(r for r in batch if r.activity.id == 1)
    assert "孙丽" not in {m.name for m in a1.participants}
    assert sum(c.signed for c in a1.by_school().values()) == len(a1.signins) - 1
