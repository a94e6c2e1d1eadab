"""What is due, derived from the database: every reminder, publication and digest as a `DueItem`.

Nothing here is stored ahead of time. An item's key names the instant it refers to (an
activity's start, a reflection or feedback deadline, a notice's publication, a digest week),
so when an activity moves its old reminders simply stop being derived and new ones appear;
when it is cancelled (or a 征集 closed) none are derived at all.

This is the one place that decides which reminders exist and when; handlers never plan them.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.core.messages import Attachment, AttachmentKind, Broadcast, Channel, Direct, Effect
from bot.pipeline.files import safe_name
from bot.text.dates import Period, parse_period
from handlers.notices import notice_broadcasts, notice_recipients
from reports.model import Digest
from scheduling import texts
from scheduling.zones import Place, at_local, key_time, parse_hhmm
from storage import Storage
from storage.attendance import PARTICIPANT_ROLES, roll_of
from storage.feedback import feedback_progress, responders_by_school
from storage.models import (
    Activity,
    Alliance,
    FeedbackRequest,
    FeedbackStatus,
    Member,
    Notice,
    NoticeStatus,
    School,
)
from storage.reminders import DigestRequest, NoticeUpdate, RemindersRepo, ScheduleChanges
from storage.reviews import ObservationQuota

log = logging.getLogger(__name__)

# `build_digest`, or an async builder that waits for a child process without holding the loop.
DigestBuilder = Callable[[Storage, Alliance, Period, datetime], Digest | Awaitable[Digest]]


@dataclass(frozen=True)
class ReminderPolicy:
    """When things are due and how long a late one is still worth sending."""

    activity_day_before_at: time = time(18, 0)
    activity_lead: timedelta = timedelta(hours=1)
    reflection_day_before_at: time = time(18, 0)
    reflection_morning_at: time = time(8, 0)
    # 征集 deadlines follow the reflection deadlines' rhythm.
    feedback_day_before_at: time = time(18, 0)
    feedback_morning_at: time = time(8, 0)
    ack_after: timedelta = timedelta(hours=24)
    ack_useful_for: timedelta = timedelta(days=2)
    notice_grace: timedelta = timedelta(hours=12)
    digest_grace: timedelta = timedelta(hours=24)
    request_grace: timedelta = timedelta(hours=1)
    # How far back a restarted bot looks for reminders it missed.
    lookback: timedelta = timedelta(days=7)
    # Sent later than this after its time, a reminder is logged as caught up.
    late_after: timedelta = timedelta(minutes=5)
    # The alarm rings at least this often, to notice changes made by other processes.
    max_sleep: timedelta = timedelta(minutes=10)
    # A reminder whose composing failed is tried again after this long.
    retry_after: timedelta = timedelta(minutes=5)
    # 听课任务: teachers behind are reminded once, this long before the term's end (the
    # 本学期 of bot.text.dates), at this time of day.
    quota_before_term_end: timedelta = timedelta(weeks=3)
    quota_at: time = time(9, 0)


@dataclass(frozen=True)
class Outcome:
    """What running an item does: messages, plus bookkeeping that commits with them."""

    effects: list[Effect] = field(default_factory=list)
    notice_update: NoticeUpdate | None = None
    clear_request: DigestRequest | None = None
    why_empty: str = "nobody to remind"


# A compose may be async when it waits for something slow (a digest built elsewhere).
Compose = Callable[[datetime], Outcome | Awaitable[Outcome]]


@dataclass(frozen=True)
class DueItem:
    key: str
    label: str  # for logs, e.g. "A7 reminder 1 h before the start"
    due_at: datetime  # the nominal instant
    fire_at: datetime  # after quiet hours
    born_at: datetime  # when the row it derives from took its present form
    useful_until: datetime | None  # sending at or after this is pointless
    zone: ZoneInfo
    compose: Compose
    # Key prefix of the item's reminders: at most one of them is sent per local day.
    guard: str | None = None
    # What to do instead when it is too late (e.g. tell the author); None: nothing.
    compose_missed: Compose | None = None

    @property
    def applicable(self) -> bool:
        """An instant that passed before the item existed is not a missed reminder."""
        return self.due_at >= self.born_at


class Planner:
    """Derives every due item whose nominal time falls in a window."""

    def __init__(
        self,
        storage: Storage,
        repo: RemindersRepo,
        *,
        zone: ZoneInfo,
        private_channel: Channel | None,
        digest_builder: DigestBuilder,
        policy: ReminderPolicy,
        charts_dir: Path | None = None,
    ) -> None:
        self._storage = storage
        self._repo = repo
        self._zone = zone
        self._private = private_channel is not None
        self._digest_builder = digest_builder
        self._policy = policy
        self._charts_dir = charts_dir

    def items(
        self, start: datetime, end: datetime, only: ScheduleChanges | None = None
    ) -> list[DueItem]:
        """Items due (nominally) in [start, end), plus scheduled notices and digest requests
        due before `end` however old (they stay pending until handled).

        `only`: just the items of those changed activities, notices and 征集 (the scheduler
        works out what a message added without reading the whole window again)."""
        found: list[DueItem] = []
        places: dict[int | None, Place] = {}
        margin = timedelta(days=3)
        activities = only.activities if only is not None else None
        for activity, changed in self._repo.activities_around(start, end + margin, activities):
            place = self._place(activity.alliance_id, places)
            found.extend(self._activity_items(activity, place, changed))
            found.extend(self._reflection_items(activity, place, changed))
        requests = only.feedback_requests if only is not None else None
        for request_id in self._repo.feedback_request_ids_due(start, end + margin, requests):
            asked = self._storage.feedback.get(request_id)
            if asked is not None:
                found.extend(self._feedback_items(asked, self._place(asked.alliance_id, places)))
        after = self._policy.ack_after
        notices = only.notices if only is not None else None
        for notice_id in self._repo.ack_notice_ids_published(start - after, end - after, notices):
            notice = self._storage.notices.get(notice_id)
            if notice is not None:
                found.append(self._ack_item(notice, self._place(notice.alliance_id, places)))
        for notice in self._storage.notices.scheduled() if notices is None or notices else ():
            if notice.publish_at < end and (notices is None or notice.id in notices):
                found.append(self._publish_item(notice, self._place(notice.alliance_id, places)))
        if only is not None:
            return [item for item in found if item.due_at < end]
        for quota in self._storage.reviews.quota_rows():
            place = self._place(quota.alliance_id, places)
            found.extend(self._quota_items(quota, place, start, end))
        for alliance in self._storage.roster.alliances():
            if alliance.digest_enabled:
                found.extend(
                    self._digest_items(alliance, self._place(alliance.id, places), start, end)
                )
        for request in self._repo.digest_requests():
            if request.at < end:
                item = self._request_item(request, places)
                if item is not None:
                    found.append(item)
        return [item for item in found if item.due_at < end]

    def _place(self, alliance_id: int | None, cache: dict[int | None, Place]) -> Place:
        if alliance_id not in cache:
            alliance = self._storage.roster.alliance(alliance_id) if alliance_id else None
            cache[alliance_id] = Place.of(alliance, self._zone)
        return cache[alliance_id]

    # activities ---------------------------------------------------------------
    def _activity_items(self, activity: Activity, place: Place, born: datetime) -> list[DueItem]:
        """`born`: when the activity took its present form (created or last changed)."""
        zone = place.zone
        day = activity.starts_at.astimezone(zone).date()
        stamp = key_time(activity.starts_at)
        roster = self._storage.roster
        day_before = at_local(day - timedelta(days=1), self._policy.activity_day_before_at, zone)
        soon = activity.starts_at - self._policy.activity_lead
        key_before = f"activity:{activity.id}:day_before:{stamp}"
        key_soon = f"activity:{activity.id}:hour_before:{stamp}"

        def before(now: datetime) -> Outcome:
            text = texts.activity_day_before(key_before, activity, zone)
            tree = roster.descendants(activity.alliance_id)
            return Outcome([Broadcast(text=text, alliance_ids=tree, dedup_key=key_before)])

        def shortly(now: datetime) -> Outcome:
            text = texts.activity_soon(key_soon, activity, zone, now)
            tree = roster.descendants(activity.alliance_id)
            return Outcome([Broadcast(text=text, alliance_ids=tree, dedup_key=key_soon)])

        guard = f"activity:{activity.id}:"
        return [
            DueItem(
                key=key_before,
                label=f"{activity.code} reminder the day before",
                due_at=day_before,
                fire_at=place.quiet.defer(day_before),
                born_at=born,
                useful_until=at_local(day, time(0), zone),
                zone=zone,
                compose=before,
                guard=guard,
            ),
            DueItem(
                key=key_soon,
                label=f"{activity.code} reminder before the start",
                due_at=soon,
                fire_at=place.quiet.defer(soon),
                born_at=born,
                useful_until=activity.starts_at,
                zone=zone,
                compose=shortly,
                guard=guard,
            ),
        ]

    def _reflection_items(self, activity: Activity, place: Place, born: datetime) -> list[DueItem]:
        deadline = activity.reflection_due
        if deadline is None:
            return []
        zone = place.zone
        stamp = key_time(deadline)
        slots = deadline_slots(
            deadline,
            zone,
            self._policy.reflection_day_before_at,
            self._policy.reflection_morning_at,
        )
        items = []
        for name, what, due, useful_until in slots:
            if due < activity.ends_at:
                continue  # no reminder before the activity is over
            key = f"reflection:{activity.id}:{name}:{stamp}"
            items.append(
                DueItem(
                    key=key,
                    label=f"{activity.code} reflection reminder {what}",
                    due_at=due,
                    fire_at=place.quiet.defer(due),
                    born_at=born,
                    useful_until=useful_until,
                    zone=zone,
                    compose=self._reflection_composer(key, activity, zone),
                    guard=f"reflection:{activity.id}:",
                )
            )
        return items

    def _reflection_composer(self, key: str, activity: Activity, zone: ZoneInfo) -> Compose:
        def compose(now: datetime) -> Outcome:
            storage = self._storage
            current = storage.activities.get(activity.id) or activity
            roll = roll_of(storage, current)
            missing = [m for m in roll.missing_reflection() if m.userid]
            if not missing:
                return Outcome(why_empty="every participant has handed in")
            if self._private:
                return Outcome(
                    [
                        Direct(
                            userids=[m.userid or ""],
                            text=texts.reflection_private(key, current, m, zone, now),
                            dedup_key=f"{key}:{m.userid}",
                        )
                        for m in missing
                    ]
                )
            text = texts.reflection_group(key, current, zone, now)
            tree = storage.roster.descendants(current.alliance_id)
            return Outcome(
                [
                    Broadcast(
                        text=text,
                        alliance_ids=tree,
                        mention=[m.userid or "" for m in missing],
                        dedup_key=key,
                    )
                ],
                why_empty="no group to post in and no private channel",
            )

        return compose

    # feedback requests (征集) ----------------------------------------------------------
    def _feedback_items(self, request: FeedbackRequest, place: Place) -> list[DueItem]:
        """The day before the deadline and its morning, like reflection deadlines; never
        after the deadline. Each item reminds every school still missing at that moment."""
        if request.status is not FeedbackStatus.OPEN:
            return []
        deadline = request.due_at
        zone = place.zone
        stamp = key_time(deadline)
        slots = deadline_slots(
            deadline, zone, self._policy.feedback_day_before_at, self._policy.feedback_morning_at
        )
        items = []
        for name, what, due, useful_until in slots:
            key = f"feedback:{request.id}:{name}:{stamp}"
            items.append(
                DueItem(
                    key=key,
                    label=f"{request.code} feedback reminder {what}",
                    due_at=due,
                    fire_at=place.quiet.defer(due),
                    # Requests record no change time: reminders count from their creation.
                    born_at=request.created_at,
                    useful_until=useful_until,
                    zone=zone,
                    compose=self._feedback_composer(key, request, zone),
                    guard=f"feedback:{request.id}:",
                )
            )
        return items

    def _feedback_composer(self, key: str, request: FeedbackRequest, zone: ZoneInfo) -> Compose:
        def compose(now: datetime) -> Outcome:
            storage = self._storage
            current = storage.feedback.get(request.id)
            if (
                current is None
                or current.status is not FeedbackStatus.OPEN
                or current.due_at != request.due_at
            ):
                return Outcome(why_empty="the request was closed or its deadline changed")
            progress = feedback_progress(storage.roster, storage.feedback, current)
            responders = responders_by_school(storage.roster, storage.feedback, progress.missing)
            reachable: list[tuple[School, list[str]]] = []
            for school in progress.missing:
                userids = [p.userid for p in responders.get(school.id, []) if p.userid]
                if userids:
                    reachable.append((school, list(dict.fromkeys(userids))))
            if not reachable:
                why = "every school has answered" if not progress.missing else "nobody to remind"
                return Outcome(why_empty=why)
            if self._private:
                return Outcome(
                    [
                        Direct(
                            userids=userids,
                            text=texts.feedback_private(key, current, school, zone, now),
                            dedup_key=f"{key}:{school.id}",
                        )
                        for school, userids in reachable
                    ]
                )
            names = [school.name for school, _ in reachable]
            mention = list(dict.fromkeys(u for _, userids in reachable for u in userids))
            return Outcome(
                [
                    Broadcast(
                        text=texts.feedback_group(key, current, names, zone, now),
                        alliance_ids=storage.roster.descendants(current.alliance_id),
                        mention=mention,
                        dedup_key=key,
                    )
                ],
                why_empty="no group to post in and no private channel",
            )

        return compose

    # 听课任务 (term quotas) ------------------------------------------------------------
    def _quota_items(
        self, quota: ObservationQuota, place: Place, start: datetime, end: datetime
    ) -> list[DueItem]:
        """One reminder per term, `quota_before_term_end` before it ends, to those behind."""
        zone = place.zone
        terms: dict[datetime, Period] = {}
        for moment in (start, end):
            term = parse_period("本学期", moment.astimezone(zone))
            if term is not None:
                terms[term.start] = term
        items = []
        for term in terms.values():
            after = term.end.date()
            due = at_local(after - self._policy.quota_before_term_end, self._policy.quota_at, zone)
            key = f"quota:{quota.alliance_id}:{after.isoformat()}"
            items.append(
                DueItem(
                    key=key,
                    label=f"听课 quota reminder of alliance {quota.alliance_id}",
                    due_at=due,
                    fire_at=place.quiet.defer(due),
                    born_at=quota.set_at,
                    useful_until=term.end,
                    zone=zone,
                    compose=self._quota_composer(key, quota.alliance_id, term),
                    guard=f"quota:{quota.alliance_id}:",
                )
            )
        return items

    def _quota_composer(self, key: str, alliance_id: int, term: Period) -> Compose:
        def compose(now: datetime) -> Outcome:
            storage = self._storage
            roster = storage.roster
            current = storage.reviews.nearest_quota(roster.ancestors(alliance_id))
            if current is None or current.alliance_id != alliance_id:
                return Outcome(why_empty="the quota was removed")
            tree = roster.descendants(alliance_id)
            # Sub-alliances with a quota of their own are reminded by theirs.
            own = {
                a
                for a in tree
                if (q := storage.reviews.nearest_quota(roster.ancestors(a))) is not None
                and q.alliance_id == alliance_id
            }
            people = [m for m in roster.members_in(sorted(own), PARTICIPANT_ROLES) if m.userid]
            done = storage.reviews.observations_by(
                [m.id for m in people], first_day=term.start.date(), after_day=term.end.date()
            )
            behind = [m for m in people if done.get(m.id, 0) < current.per_term]
            if not behind:
                return Outcome(why_empty="everyone has met the 听课 quota")
            last = term.end.date() - timedelta(days=1)
            last_day = f"{last.month}月{last.day}日"
            if self._private:
                return Outcome(
                    [
                        Direct(
                            userids=[m.userid or ""],
                            text=texts.quota_private(
                                key, m, done.get(m.id, 0), current.per_term, last_day
                            ),
                            dedup_key=f"{key}:{m.userid}",
                        )
                        for m in behind
                    ]
                )
            return Outcome(
                [
                    Broadcast(
                        text=texts.quota_group(key, current.per_term, last_day),
                        alliance_ids=tree,
                        mention=[m.userid or "" for m in behind],
                        dedup_key=key,
                    )
                ],
                why_empty="no group to post in and no private channel",
            )

        return compose

    # notices --------------------------------------------------------------------
    def _ack_item(self, notice: Notice, place: Place) -> DueItem:
        due = notice.publish_at + self._policy.ack_after
        key = f"notice:{notice.id}:ack:{key_time(notice.publish_at)}"
        fire = place.quiet.defer(due)

        def compose(now: datetime) -> Outcome:
            storage = self._storage
            acked = storage.notices.acked_member_ids(notice.id)
            missing = [
                m
                for m in notice_recipients(storage, notice)
                if m.id not in acked and m.id != notice.author_id and m.userid
            ]
            if not missing:
                return Outcome(why_empty="everyone has confirmed")
            return Outcome(self._ack_effects(key, notice, missing))

        return DueItem(
            key=key,
            label=f"{notice.code} receipt reminder",
            due_at=due,
            fire_at=fire,
            born_at=notice.publish_at,
            useful_until=fire + self._policy.ack_useful_for,
            zone=place.zone,
            compose=compose,
            guard=f"notice:{notice.id}:",
        )

    def _ack_effects(self, key: str, notice: Notice, missing: list[Member]) -> list[Effect]:
        if self._private:
            return [
                Direct(
                    userids=[m.userid or ""],
                    text=texts.notice_ack_private(key, notice, m),
                    dedup_key=f"{key}:{m.userid}",
                )
                for m in missing
            ]
        ids = (
            None
            if notice.alliance_id is None
            else self._storage.roster.descendants(notice.alliance_id)
        )
        return [
            Broadcast(
                text=texts.notice_ack_group(key, notice, len(missing)),
                alliance_ids=ids,
                mention=[m.userid or "" for m in missing],
                dedup_key=key,
            )
        ]

    def _publish_item(self, notice: Notice, place: Place) -> DueItem:
        key = f"notice:{notice.id}:publish:{key_time(notice.publish_at)}"
        fire = place.quiet.defer(notice.publish_at)

        def compose(now: datetime) -> Outcome:
            current = self._storage.notices.get(notice.id) or notice
            return Outcome(
                [*notice_broadcasts(self._storage, current, key)],
                notice_update=NoticeUpdate(notice.id, NoticeStatus.PUBLISHED, publish_at=now),
                why_empty="no group is bound to its alliances",
            )

        def missed(now: datetime) -> Outcome:
            author = self._storage.roster.member(notice.author_id) if notice.author_id else None
            effects: list[Effect] = []
            if author is not None and author.userid:
                effects.append(
                    Direct(
                        userids=[author.userid],
                        text=texts.notice_missed(notice, place.zone),
                        dedup_key=f"{key}:missed",
                    )
                )
            return Outcome(effects, notice_update=NoticeUpdate(notice.id, NoticeStatus.CANCELLED))

        return DueItem(
            key=key,
            label=f"publication of scheduled notice {notice.code}",
            due_at=notice.publish_at,
            fire_at=fire,
            born_at=min(notice.created_at, notice.publish_at),
            useful_until=fire + self._policy.notice_grace,
            zone=place.zone,
            compose=compose,
            compose_missed=missed,
        )

    # digests --------------------------------------------------------------------
    def _digest_items(
        self, alliance: Alliance, place: Place, start: datetime, end: datetime
    ) -> list[DueItem]:
        try:
            at = parse_hhmm(alliance.digest_time)
        except ValueError:
            log.warning("alliance %s has a bad digest time %r", alliance.id, alliance.digest_time)
            return []
        if not 0 <= alliance.digest_weekday <= 6:
            return []
        zone = place.zone
        created = self._repo.alliance_created_at(alliance.id) or start
        changed = self._repo.digest_schedule_changed_at(alliance.id)
        born = max(created, changed) if changed else created
        items = []
        day = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date() + timedelta(days=1)
        while day <= last:
            if day.weekday() == alliance.digest_weekday:
                due = at_local(day, at, zone)
                if start <= due < end:
                    year, week, _ = day.isocalendar()
                    key = f"digest:{alliance.id}:{year}-W{week:02d}"
                    fire = place.quiet.defer(due)
                    items.append(
                        DueItem(
                            key=key,
                            label=f"weekly digest of alliance {alliance.id}",
                            due_at=due,
                            fire_at=fire,
                            born_at=born,
                            useful_until=fire + self._policy.digest_grace,
                            zone=zone,
                            compose=self._digest_composer(key, alliance, due, zone, None),
                        )
                    )
            day += timedelta(days=1)
        return items

    def _request_item(
        self, request: DigestRequest, places: dict[int | None, Place]
    ) -> DueItem | None:
        alliance = self._storage.roster.alliance(request.alliance_id)
        if alliance is None:
            return None
        zone = self._place(alliance.id, places).zone
        key = f"digest:{alliance.id}:request:{request.at.isoformat()}"
        return DueItem(
            key=key,
            label=f"requested digest of alliance {alliance.id}",
            due_at=request.at,
            fire_at=request.at,  # asked for explicitly: quiet hours do not apply
            born_at=request.at,
            useful_until=request.at + self._policy.request_grace,
            zone=zone,
            compose=self._digest_composer(key, alliance, None, zone, request),
            compose_missed=lambda now: Outcome(clear_request=request),
        )

    def _digest_composer(
        self,
        key: str,
        alliance: Alliance,
        due: datetime | None,
        zone: ZoneInfo,
        request: DigestRequest | None,
    ) -> Compose:
        async def compose(now: datetime) -> Outcome:
            current = self._storage.roster.alliance(alliance.id) or alliance
            period = parse_period("本周", (due or now).astimezone(zone))
            assert period is not None
            built = self._digest_builder(self._storage, current, period, now)
            digest = built if isinstance(built, Digest) else await built
            chart = save_chart(self._charts_dir, key, digest)
            return Outcome(
                digest_effects(key, current, digest, request, chart),
                clear_request=request,
                why_empty="the digest has no recipients",
            )

        return compose


def save_chart(folder: Path | None, key: str, digest: Digest) -> Attachment | None:
    """Keep the digest's chart on disk (once per digest key) so the outbox can send it later.

    None without a chart or a place to keep it (in-memory database); a failed write is logged
    and the digest goes without its picture. Charts are small (tens of KB, one per alliance and
    week) and are not pruned.
    """
    if folder is None or digest.chart_png is None:
        return None
    target = folder / (re.sub(r"[^A-Za-z0-9-]+", "_", key).strip("_") + ".png")
    try:
        if not target.is_file() or target.read_bytes() != digest.chart_png:
            folder.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(dir=folder, prefix=".chart-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(digest.chart_png)
                os.replace(temp, target)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
    except OSError as exc:
        log.warning("digest chart for %s not kept (%s); sending the text only", key, exc)
        return None
    name = safe_name(f"{digest.title}.png", "教研图表.png")
    return Attachment(kind=AttachmentKind.IMAGE, path=str(target.resolve()), name=name)


def digest_effects(
    key: str,
    alliance: Alliance,
    digest: Digest,
    request: DigestRequest | None = None,
    chart: Attachment | None = None,
) -> list[Effect]:
    """Group parts to the alliance's own groups and private notes to their readers; the chart
    (if any) rides on the first part, for channels that can show a picture.

    A digest asked for in a private chat is a preview: it goes to the asker alone.
    """
    effects: list[Effect] = []
    if request is not None and request.chat_id is None:
        for index, part in enumerate(digest.group_parts):
            effects.append(
                Direct(
                    userids=[request.userid],
                    text=part,
                    markdown=True,
                    dedup_key=f"{key}:part{index}",
                    attachment=chart if index == 0 else None,
                )
            )
        note = digest.private_notes.get(request.userid)
        if note:
            effects.append(
                Direct(userids=[request.userid], text=note, markdown=True, dedup_key=f"{key}:note")
            )
        return effects
    for index, part in enumerate(digest.group_parts):
        effects.append(
            Broadcast(
                text=part,
                alliance_ids=[alliance.id],
                markdown=True,
                dedup_key=f"{key}:part{index}",
                attachment=chart if index == 0 else None,
            )
        )
    for userid, note in digest.private_notes.items():
        effects.append(Direct(userids=[userid], text=note, markdown=True, dedup_key=f"{key}:note"))
    return effects


def deadline_slots(
    deadline: datetime, zone: ZoneInfo, day_before_at: time, morning_at: time
) -> list[tuple[str, str, datetime, datetime]]:
    """The two deadline reminders — the evening before and the deadline morning — as
    (name, description, due, useful until), leaving out any that would fall at or after it."""
    day = deadline.astimezone(zone).date()
    slots = [
        (
            "day_before",
            "the day before its deadline",
            at_local(day - timedelta(days=1), day_before_at, zone),
            min(at_local(day, time(0), zone), deadline),
        ),
        ("due_morning", "on its deadline morning", at_local(day, morning_at, zone), deadline),
    ]
    return [slot for slot in slots if slot[2] < deadline]
