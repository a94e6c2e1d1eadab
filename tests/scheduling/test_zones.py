"""Quiet hours: what is due inside them waits until they end, in the alliance's own zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from scheduling.zones import Place, QuietHours, parse_hhmm
from storage.models import Alliance

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("window", "due", "expected"),
    [
        (("21:30", "07:30"), "2030-03-05 21:29", "2030-03-05 21:29"),
        (("21:30", "07:30"), "2030-03-05 21:30", "2030-03-06 07:30"),
        (("21:30", "07:30"), "2030-03-05 23:59", "2030-03-06 07:30"),
        (("21:30", "07:30"), "2030-03-06 00:00", "2030-03-06 07:30"),
        (("21:30", "07:30"), "2030-03-06 07:29", "2030-03-06 07:30"),
        (("21:30", "07:30"), "2030-03-06 07:30", "2030-03-06 07:30"),
        (("12:00", "14:00"), "2030-03-06 12:30", "2030-03-06 14:00"),
        (("12:00", "14:00"), "2030-03-06 14:00", "2030-03-06 14:00"),
        (("00:00", "00:00"), "2030-03-06 03:00", "2030-03-06 03:00"),  # no quiet hours
    ],
)
def test_quiet_hours_defer_to_their_end(window: tuple[str, str], due: str, expected: str) -> None:
    quiet = QuietHours(parse_hhmm(window[0]), parse_hhmm(window[1]), SHANGHAI)
    moment = datetime.fromisoformat(due).replace(tzinfo=SHANGHAI)
    assert quiet.defer(moment) == datetime.fromisoformat(expected).replace(tzinfo=SHANGHAI)


def test_alliance_zone_and_quiet_hours_override_the_defaults() -> None:
    alliance = Alliance(id=1, name="x", timezone="America/New_York", quiet_start="22:00")
    place = Place.of(alliance, SHANGHAI)
    assert place.zone == ZoneInfo("America/New_York")
    late = datetime(2030, 3, 5, 22, 30, tzinfo=place.zone)
    assert place.quiet.defer(late) == datetime(2030, 3, 6, 7, 30, tzinfo=place.zone)


def test_broken_alliance_settings_fall_back_to_defaults() -> None:
    alliance = Alliance(id=1, name="x", timezone="Mars/Olympus", quiet_start="晚上")
    place = Place.of(alliance, SHANGHAI)
    assert place.zone == SHANGHAI
    assert (place.quiet.start, place.quiet.end) == (parse_hhmm("21:30"), parse_hhmm("07:30"))
