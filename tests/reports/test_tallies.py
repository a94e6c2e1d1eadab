"""Tallies (the digest's light rolls) give exactly what the full rolls give.

The digest counts from `ReportingQueries.tallies`, which loads only sign-in statuses, leave
ids and reflection texts; the dashboard, exports and 汇总 count from full `ActivityRoll`s.
A random district with legacy sign-ins from outside the audience (not counted), leaves with and without sign-ins, reflections from people on
leave or from outside, resubmissions, targeted activities and several time zones must give
the same numbers, the same names and the same digest keywords and excerpts both ways.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.text.dates import Period
from reports.digest import EXCERPTS, KEYWORDS, build_digest
from reports.keywords import ExcerptSource, default_extractor, pick_excerpts
from reports.markdown import md_text
from reports.stats import (
    HELD_SLACK,
    PeriodStats,
    period_stats,
    period_tallies,
    roll_total,
    school_totals,
    teacher_stats,
    total_of,
)
from storage import Storage
from storage.attendance import (
    NO_SCHOOL,
    ActivityRoll,
    ReflectionText,
    Roll,
    RollTally,
    SchoolCounts,
    count_by_group,
    count_by_school,
    merge_by_school,
    signin_marks,
)
from storage.models import (
    Activity,
    ActivityTarget,
    Alliance,
    Leave,
    Member,
    Reflection,
    Role,
    Signin,
    SigninStatus,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 9, 1, tzinfo=SHANGHAI)
NOW = datetime(2026, 10, 30, 18, 0, tzinfo=SHANGHAI)
PHRASES = (
    "小组合作的分工要更明确。",
    "学习任务群的设计让学生有话可说。",
    "朗读指导扎实，学生读出了感情。",
    "板书设计清晰，重点突出。",
    "评价量表要提前发给学生。",
    "   ",
    "单元整体设计让课与课之间有了联系。",
)
ZONES = (SHANGHAI, UTC, timezone(timedelta(hours=-5, minutes=-30)))


def seed(storage: Storage, rng: random.Random) -> Alliance:
    """A district with two alliances (one with a sub-alliance) and a month of submissions."""
    roster, subs = storage.roster, storage.submissions
    t0 = START - timedelta(days=7)
    district = roster.ensure_alliance("随机区", at=t0)
    east = roster.ensure_alliance("东联盟", at=t0, parent_id=district.id)
    south = roster.ensure_alliance("东联盟南片", at=t0, parent_id=east.id)
    west = roster.ensure_alliance("西联盟", at=t0, parent_id=district.id)
    schools = {
        a.id: [roster.ensure_school(f"{a.name}{i}校", a.id).id for i in range(3)]
        for a in (east, south, west)
    }
    people: list[Member] = []
    for alliance in (east, south, west):
        for n in range(14):
            role = (Role.LEADER, Role.TEACHER, Role.TEACHER, Role.STAFF)[n % 4]
            school = None if n % 7 == 3 else rng.choice(schools[alliance.id])
            people.append(
                roster.add_member(
                    f"{alliance.name}老师{n}",
                    at=t0,
                    role=role,
                    school_id=school,
                    alliance_id=alliance.id,
                    userid=f"{alliance.id}-{n}" if n % 5 else None,
                )
            )
    roster.update_member(people[5].id, active=False)  # inactive: expected nowhere
    team = storage.teams.create("青年教师团队", at=t0, alliance_id=east.id, school_id=None)
    storage.teams.add_members(team.id, [p.id for p in people[::3]], at=t0)

    statuses = list(SigninStatus)
    for day in range(0, 60, 2):
        alliance = rng.choice((east, south, west))
        starts = START + timedelta(days=day, hours=14)
        activity = storage.activities.create(
            alliance_id=alliance.id,
            kind=rng.choice(("同课异构", "集体备课")),
            title=f"研讨{day}",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            signin_opens_at=starts - timedelta(minutes=30),
            created_at=t0,
            school_id=rng.choice(schools[alliance.id]),
        )
        if day % 10 == 4:
            storage.teams.set_activity_target(
                activity.id, ActivityTarget(school_ids=[schools[alliance.id][0]])
            )
        elif day % 10 == 8:
            storage.teams.set_activity_target(activity.id, ActivityTarget(team_id=team.id))
        # Legacy rows: anyone may have signed in (other alliances, staff, the inactive member).
        for person in rng.sample(people, rng.randint(0, 25)):
            when = starts + timedelta(
                minutes=rng.randint(-30, 40), microseconds=rng.randint(0, 999)
            )
            subs.sign_in(
                activity.id,
                person.id,
                at=when.astimezone(rng.choice(ZONES)),
                status=rng.choice(statuses),
                by_member_id=rng.choice([None, people[0].id]),
            )
        for person in rng.sample(people, rng.randint(0, 8)):  # some of them also signed in
            subs.request_leave(activity.id, person.id, rng.choice([None, "外出培训"]), at=starts)
        for person in rng.sample(people, rng.randint(0, 20)):
            for version in range(rng.choice((1, 1, 2))):  # a resubmission keeps the first time
                body = "".join(rng.sample(PHRASES, rng.randint(1, 4)))
                # Equal texts and times from different people test the ties.
                minutes = rng.choice((60, 60, 90, 600)) + version * 30
                when = starts + timedelta(minutes=minutes)
                subs.submit_reflection(
                    activity.id, person.id, body, at=when.astimezone(rng.choice(ZONES))
                )
    return district


def row(c: SchoolCounts) -> tuple[object, ...]:
    return (c.school, c.expected, c.signed, c.late, c.on_leave, c.reflected)


def numbers(stats: PeriodStats[ActivityRoll] | PeriodStats[RollTally]) -> object:
    """What the digest shows or sends: order of activities, school lines, totals, names."""
    return (
        [roll.activity.id for roll in stats.rolls],
        [row(c) for c in stats.schools],
        row(stats.total),
        [
            ([m.id for m in r.missing_signin()], [m.id for m in r.missing_reflection()])
            for r in stats.rolls
        ],
    )


def test_tallies_equal_full_rolls_on_a_random_district(
    db_targets: Callable[[], Path | str],
) -> None:
    for seed_value in (1, 2, 3):
        storage = Storage.open(db_targets())
        try:
            district = seed(storage, random.Random(seed_value))
            outside = leaves_and_signins = 0
            for alliance in storage.roster.alliances():
                full = period_stats(storage, alliance, START, NOW, NOW, storage.reporting())
                light = period_tallies(storage, alliance, START, NOW, NOW, storage.reporting())
                assert numbers(light) == numbers(full)
                for roll, tally in zip(full.rolls, light.rolls, strict=True):
                    assert [m.id for m in tally.participants] == [m.id for m in roll.participants]
                    assert {k: v.status for k, v in tally.signins.items()} == {
                        k: v.status for k, v in roll.signins.items()
                    }
                    assert tally.leaves == roll.leaves.keys()
                    assert tally.reflections == {
                        k: ReflectionText(r.body, r.first_submitted_at.timestamp())
                        for k, r in roll.reflections.items()
                    }
                    assert [row(c) for c in count_by_school([tally]).values()] == [
                        row(c) for c in merge_by_school([roll]).values()
                    ]
                    assert not any(m.role is Role.STAFF for m in tally.participants)
                    outside += len(tally.signins.keys() - {m.id for m in tally.participants})
                    leaves_and_signins += len(tally.leaves & tally.signins.keys())
            assert full.total.on_leave and full.total.late and district
            assert outside and leaves_and_signins  # the cases this test is about did occur
        finally:
            storage.close()


def _object_path_reflections(stats: PeriodStats[ActivityRoll]) -> list[tuple[Member, Reflection]]:
    """Every participant who reflected, roll by roll in participant order (the definition)."""
    return [
        (member, roll.reflections[member.id])
        for roll in stats.rolls
        for member in roll.participants
        if member.id in roll.reflections
    ]


def test_digest_keywords_and_excerpts_equal_the_object_path(
    emptied_db_target: Path | str,
) -> None:
    storage = Storage.open(emptied_db_target)
    try:
        district = seed(storage, random.Random(7))
        quoted = 0
        for alliance in storage.roster.alliances():
            period = Period(start=START, end=START + timedelta(days=61), label="本期")
            digest = build_digest(storage, alliance, period, NOW, with_chart=False)
            text = "\n".join(digest.group_parts)
            stats = period_stats(storage, alliance, period.start, period.end, NOW)
            found = _object_path_reflections(stats)
            if not found:
                assert "这段时间还没有收到反思。" in text
                continue
            quoted += 1
            newest_first = sorted(found, key=lambda f: -f[1].first_submitted_at.timestamp())
            keywords = default_extractor().top([r.body for _, r in newest_first], KEYWORDS)
            if keywords:
                words = "、".join(f"{md_text(k.word)}（{k.reflections}篇）" for k in keywords)
                assert f"**反思关键词**（共 {len(found)} 篇）\n{words}" in text
            sources = [
                ExcerptSource(
                    text=r.body,
                    school=m.school_name or NO_SCHOOL,
                    author=m.name,
                    order=r.first_submitted_at.timestamp(),
                )
                for m, r in found
            ]
            quotes = "\n".join(
                f"> “{md_text(quote)}”——{md_text(s.author)}（{md_text(s.school)}）"
                for s, quote in pick_excerpts(sources, EXCERPTS)
            )
            assert f"**反思摘录**\n{quotes}".rstrip() in text
        assert quoted >= 3 and district
    finally:
        storage.close()


def test_digest_keywords_read_only_the_most_recent_reflections(
    emptied_db_target: Path | str,
) -> None:
    """With more reflections than the sample holds, keywords and excerpts come from the
    newest ones only, the digest says so, and the overview still counts every one."""
    storage = Storage.open(emptied_db_target)
    try:
        seed(storage, random.Random(7))
        period = Period(start=START, end=START + timedelta(days=61), label="本期")
        sample = 10
        checked = 0
        for alliance in storage.roster.alliances():
            stats = period_stats(storage, alliance, period.start, period.end, NOW)
            found = _object_path_reflections(stats)
            if len(found) <= sample:
                continue
            checked += 1
            digest = build_digest(
                storage, alliance, period, NOW, with_chart=False, reflection_sample=sample
            )
            text = "\n".join(digest.group_parts)
            newest = sorted(found, key=lambda f: -f[1].first_submitted_at.timestamp())[:sample]
            keywords = default_extractor().top([r.body for _, r in newest], KEYWORDS)
            words = "、".join(f"{md_text(k.word)}（{k.reflections}篇）" for k in keywords)
            assert f"**反思关键词**（最近提交的 {sample} 篇）\n{words}" in text
            assert all(k.reflections <= sample for k in keywords)
            sources = [
                ExcerptSource(
                    text=r.body,
                    school=m.school_name or NO_SCHOOL,
                    author=m.name,
                    order=r.first_submitted_at.timestamp(),
                )
                for m, r in newest
            ]
            quotes = "\n".join(
                f"> “{md_text(quote)}”——{md_text(s.author)}（{md_text(s.school)}）"
                for s, quote in pick_excerpts(sources, EXCERPTS)
            )
            assert f"**反思摘录**\n{quotes}".rstrip() in text
            total = stats.total
            assert f"反思提交率 **{total.reflected}/{total.counted}" in text
        assert checked >= 2
    finally:
        storage.close()


def _activity() -> Activity:
    starts = datetime(2026, 9, 1, 14, tzinfo=SHANGHAI)
    return Activity(
        id=1,
        alliance_id=1,
        kind="同课异构",
        title="秋天的雨",
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        signin_opens_at=starts - timedelta(minutes=30),
    )


def _member(member_id: int, school: str | None) -> Member:
    return Member(id=member_id, name=f"老师{member_id}", role=Role.TEACHER, school_name=school)


def test_duplicate_participants_and_groups_count_the_same_both_ways() -> None:
    """A member listed twice counts twice, and once per group label, in both roll forms."""
    activity = _activity()
    a, b, c, d = _member(1, "一小"), _member(2, "一小"), _member(3, None), _member(4, "二小")
    people = [a, b, c, d, a]  # a twice
    at = activity.starts_at
    statuses = {1: SigninStatus.LATE, 3: SigninStatus.ON_TIME, 4: SigninStatus.MAKEUP}
    on_leave = {2, 4}  # 2 only on leave, 4 on leave but signed in anyway
    reflected = {1: "一", 2: "二", 9: "外人"}  # 2 reflected while on leave; 9 is no participant
    full = ActivityRoll(
        activity=activity,
        participants=people,
        signins={
            i: Signin(activity_id=1, member_id=i, at=at, status=s) for i, s in statuses.items()
        },
        leaves={i: Leave(activity_id=1, member_id=i, reason=None, at=at) for i in on_leave},
        reflections={
            i: Reflection(
                id=i,
                activity_id=1,
                member_id=i,
                body=body,
                version=1,
                first_submitted_at=at,
                updated_at=at,
            )
            for i, body in reflected.items()
        },
    )
    marks = signin_marks()
    tally = RollTally(
        activity=activity,
        participants=people,
        signins={i: marks[s.value] for i, s in statuses.items()},
        leaves=set(on_leave),
        reflections={i: ReflectionText(body, at.timestamp()) for i, body in reflected.items()},
    )

    def groups(member: Member) -> list[str]:
        return ["全体", member.school_name or NO_SCHOOL]

    rolls: list[Roll] = [full, tally]
    for roll in rolls:
        assert [row(c) for c in count_by_school([roll]).values()] == [
            ("一小", 3, 2, 2, 1, 2),
            (NO_SCHOOL, 1, 1, 0, 0, 0),
            ("二小", 1, 1, 1, 0, 0),
        ]
        everyone = count_by_group([roll], groups)["全体"]
        assert (everyone.expected, everyone.signed, everyone.on_leave, everyone.reflected) == (
            5,
            4,
            1,
            2,
        )
    assert [m.id for m in tally.missing_signin()] == [m.id for m in full.missing_signin()] == []
    assert [m.id for m in tally.missing_reflection()] == [m.id for m in full.missing_reflection()]
    assert [m.id for m in tally.missing_reflection()] == [3, 4]


def test_sums_in_sql_equal_the_rolls_on_a_random_district(
    db_targets: Callable[[], Path | str],
) -> None:
    """汇总's counts summed by the database, the export's per-teacher tally and per-activity
    totals (which look only at records) give what counting every roll gives: legacy rows,
    leaves with sign-ins, reflections from people on leave, targets, sub-alliances."""
    for seed_value in (1, 2, 3):
        storage = Storage.open(db_targets())
        try:
            seed(storage, random.Random(seed_value))
            for alliance in storage.roster.alliances():
                full = period_stats(storage, alliance, START, NOW, NOW, storage.reporting())
                tree = storage.roster.descendants(alliance.id)
                summed = storage.reporting().school_counts(tree, START, NOW + HELD_SLACK)
                assert sorted(row(c) for c in summed.values()) == sorted(
                    row(c) for c in full.schools
                )
                teachers = teacher_stats(full.rolls)
                # The definition: every participant of every roll, one by one.
                defined: dict[int, list[float]] = {}
                for roll in full.rolls:
                    for m in roll.participants:
                        d = defined.setdefault(m.id, [0, 0, 0, 0, 0, 0.0])
                        d[0] += 1
                        signin = roll.signins.get(m.id)
                        if m.id in roll.leaves and signin is None:
                            d[3] += 1
                            continue
                        if signin is not None:
                            d[1] += 1
                            d[2] += signin.status is not SigninStatus.ON_TIME
                            d[5] += roll.activity.hours if m.id in roll.reflections else 0
                        d[4] += m.id in roll.reflections
                assert {
                    t.member.id: [t.expected, t.signed, t.late, t.on_leave, t.reflected, t.hours]
                    for t in teachers
                } == defined
                assert sorted(row(c) for c in school_totals(teachers).values()) == sorted(
                    row(c) for c in full.schools
                )
                for roll in full.rolls:
                    present = {m.id for m in roll.participants}
                    assert row(roll_total(roll, present)) == row(total_of(roll.by_school()))
        finally:
            storage.close()
