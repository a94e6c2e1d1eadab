"""Zoned wall-clock times: "18:00 the day before" means 18:00 where the alliance is.

Every instant is stored and compared in UTC; local dates and times are only used to derive
instants (and to describe them), in the alliance's zone or the deployment's default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storage.models import Alliance

log = logging.getLogger(__name__)

DEFAULT_QUIET_START = "21:30"
DEFAULT_QUIET_END = "07:30"


def parse_hhmm(text: str) -> time:
    """'7:30' / '07:30' → time(7, 30); ValueError for anything else."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"not a HH:MM time: {text!r}")
    return time(int(hours), int(minutes))


def at_local(day: date, moment: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time (a time skipped by DST moves forward)."""
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def local_day_bounds(moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[local midnight, next local midnight) around `moment`, as UTC instants."""
    day = moment.astimezone(zone).date()
    return at_local(day, time(0), zone), at_local(day + timedelta(days=1), time(0), zone)


def key_time(moment: datetime) -> str:
    """The instant a reminder refers to, as it appears in its key (UTC, to the minute)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True)
class QuietHours:
    """A daily window (may cross midnight) in which nothing is pushed; start == end: none."""

    start: time
    end: time
    zone: ZoneInfo

    def contains(self, moment: datetime) -> bool:
        now = moment.astimezone(self.zone).time()
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def defer(self, moment: datetime) -> datetime:
        """`moment`, or the end of the quiet window it falls in."""
        if not self.contains(moment):
            return moment
        local = moment.astimezone(self.zone)
        day = local.date()
        if self.start > self.end and local.time() >= self.start:
            day += timedelta(days=1)
        return at_local(day, self.end, self.zone)


@dataclass(frozen=True)
class Place:
    """Where an item lives in time: its zone and quiet hours (from its alliance or defaults)."""

    zone: ZoneInfo
    quiet: QuietHours

    @classmethod
    def of(cls, alliance: Alliance | None, default_zone: ZoneInfo) -> Place:
        zone = default_zone
        start, end = DEFAULT_QUIET_START, DEFAULT_QUIET_END
        if alliance is not None:
            if alliance.timezone:
                try:
                    zone = ZoneInfo(alliance.timezone)
                except (ZoneInfoNotFoundError, ValueError):
                    log.warning(
                        "alliance %s has unknown timezone %r; using %s",
                        alliance.id,
                        alliance.timezone,
                        default_zone.key,
                    )
            start, end = alliance.quiet_start, alliance.quiet_end
        try:
            quiet = QuietHours(parse_hhmm(start), parse_hhmm(end), zone)
        except ValueError:
            quiet = QuietHours(parse_hhmm(DEFAULT_QUIET_START), parse_hhmm(DEFAULT_QUIET_END), zone)
        return cls(zone=zone, quiet=quiet)
