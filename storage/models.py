"""Pydantic models that repositories return; nothing outside storage sees rows."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    LEADER = "leader"
    TEACHER = "teacher"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "管理员",
    Role.STAFF: "教研员",
    Role.LEADER: "联盟负责人",
    Role.TEACHER: "教师",
}


class Alliance(BaseModel):
    id: int
    name: str
    parent_id: int | None = None
    timezone: str | None = None
    digest_weekday: int = 4
    digest_time: str = "17:00"
    digest_enabled: bool = True
    quiet_start: str = "21:30"
    quiet_end: str = "07:30"


class School(BaseModel):
    id: int
    name: str
    alliance_id: int | None = None


class Member(BaseModel):
    id: int
    name: str
    school_id: int | None = None
    school_name: str | None = None
    alliance_id: int | None = None
    userid: str | None = None
    role: Role = Role.TEACHER
    active: bool = True


class ChatBinding(BaseModel):
    chat_id: str
    channel: str
    alliance_id: int
    webhook_url: str | None = None


class NoticeStatus(StrEnum):
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class Notice(BaseModel):
    id: int
    alliance_id: int | None
    body: str
    needs_ack: bool
    author_id: int | None
    created_at: datetime
    publish_at: datetime
    status: NoticeStatus

    @property
    def code(self) -> str:
        return f"N{self.id}"


class ActivityStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Activity(BaseModel):
    id: int
    alliance_id: int
    kind: str
    title: str
    place: str | None = None
    school_id: int | None = None
    starts_at: datetime
    ends_at: datetime
    signin_opens_at: datetime
    signin_code: str | None = None
    hours: float = 2.0
    reflection_due: datetime | None = None
    status: ActivityStatus = ActivityStatus.SCHEDULED
    cancel_reason: str | None = None
    created_by: int | None = None
    series_id: int | None = None  # an instance of a recurring activity (S3)

    @property
    def code(self) -> str:
        return f"A{self.id}"


class SeriesStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class ActivitySeries(BaseModel):
    """A recurring activity (发起活动 每周三 …): its instances are ordinary activities."""

    id: int
    alliance_id: int
    title: str
    rule: str  # how it recurs, as shown: 每周三 / 每两周的周二、周四
    status: SeriesStatus = SeriesStatus.ACTIVE
    created_by: int | None = None

    @property
    def code(self) -> str:
        return f"S{self.id}"


class CalendarDayKind(StrEnum):
    HOLIDAY = "holiday"  # no activities that day
    WORKDAY = "workday"  # 调休: a make-up working day, never skipped


class CalendarDay(BaseModel):
    day: date
    kind: CalendarDayKind
    name: str


class Term(BaseModel):
    name: str
    starts_on: date  # 开学
    ends_on: date  # 放假: the first day of the vacation


class TermCalendar(BaseModel):
    """The imported school calendar; empty when none was imported (then nothing is skipped)."""

    terms: list[Term] = Field(default_factory=list)
    days: dict[date, CalendarDay] = Field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.terms and not self.days

    def closed(self, day: date) -> str | None:
        """Why no activity is held on `day` (a holiday's name, 假期), or None if it is open.
        A 调休 working day is always open; with terms imported, days outside them are 假期."""
        entry = self.days.get(day)
        if entry is not None:
            return entry.name if entry.kind is CalendarDayKind.HOLIDAY else None
        if self.terms and not any(t.starts_on <= day < t.ends_on for t in self.terms):
            return "假期"
        return None

    def term_of(self, day: date) -> Term | None:
        return next((t for t in self.terms if t.starts_on <= day < t.ends_on), None)


class SigninStatus(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    MAKEUP = "makeup"


SIGNIN_LABELS: dict[SigninStatus, str] = {
    SigninStatus.ON_TIME: "准时",
    SigninStatus.LATE: "迟到",
    SigninStatus.MAKEUP: "补签",
}


class Signin(BaseModel):
    activity_id: int
    member_id: int
    at: datetime
    status: SigninStatus
    by_member_id: int | None = None


class Leave(BaseModel):
    activity_id: int
    member_id: int
    reason: str | None
    at: datetime


class Reflection(BaseModel):
    id: int
    activity_id: int
    member_id: int
    body: str
    version: int
    first_submitted_at: datetime
    updated_at: datetime


class ReflectionVersion(BaseModel):
    version: int
    body: str
    submitted_at: datetime


# Alliance work: school-level teams, resources, school feedback (issue 7) ----------------------


class Tier(StrEnum):
    """梯队: the development stage a teacher's school places them in."""

    YOUNG = "young"
    GROWING = "growing"
    FAMOUS = "famous"

    @property
    def label(self) -> str:
        return TIER_LABELS[self]


TIER_LABELS: dict[Tier, str] = {
    Tier.YOUNG: "青年教师",
    Tier.GROWING: "成长教师",
    Tier.FAMOUS: "名优教师",
}


class Team(BaseModel):
    """A 校级联盟 team of 5–10 teachers; may span two schools (校际联盟)."""

    id: int
    name: str
    alliance_id: int | None = None
    school_id: int | None = None  # home school; members may come from others
    created_by: int | None = None


class ActivityTarget(BaseModel):
    """Who an activity is for; both empty means the whole alliance (the default)."""

    school_ids: list[int] = Field(default_factory=list)
    team_id: int | None = None

    @property
    def whole_alliance(self) -> bool:
        return not self.school_ids and self.team_id is None


class StoredFile(BaseModel):
    id: int
    sha256: str
    name: str
    size: int
    path: str  # relative to the files directory
    executable: bool = False
    uploaded_by: int | None = None
    uploaded_at: datetime


class Resource(BaseModel):
    id: int
    alliance_id: int
    title: str
    kind: str
    url: str | None = None
    file_id: int | None = None
    tags: list[str] = Field(default_factory=list)
    activity_id: int | None = None
    shared_by: int | None = None
    shared_at: datetime
    recommended_at: datetime | None = None
    recommended_by: int | None = None
    recommend_note: str | None = None

    @property
    def code(self) -> str:
        return f"R{self.id}"


class FeedbackStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class FeedbackRequest(BaseModel):
    """征集: a question a 教研员 puts to every school of an alliance."""

    id: int
    alliance_id: int
    question: str
    due_at: datetime
    created_by: int | None = None
    created_at: datetime
    status: FeedbackStatus = FeedbackStatus.OPEN

    @property
    def code(self) -> str:
        return f"F{self.id}"


class FeedbackAnswer(BaseModel):
    """One school's current answer; earlier versions are kept as FeedbackVersion."""

    id: int
    request_id: int
    school_id: int
    member_id: int | None
    body: str
    version: int
    first_at: datetime
    updated_at: datetime


class FeedbackVersion(BaseModel):
    version: int
    body: str
    member_id: int | None
    at: datetime


# 听评课 records (issue 18) --------------------------------------------------------------------


class ReviewKind(StrEnum):
    REVIEW = "review"  # 评课: on an activity
    OBSERVATION = "observation"  # 听课: a lesson observed outside any activity (推门听课)

    @property
    def label(self) -> str:
        return "评课" if self is ReviewKind.REVIEW else "听课"


class LessonReview(BaseModel):
    """A 评课 or 听课 record in the 三个一 form: one strength, one weakness, one hope."""

    id: int
    kind: ReviewKind
    alliance_id: int
    activity_id: int | None = None
    observer_id: int
    teacher_id: int | None = None
    lesson_date: date
    topic: str | None = None
    subject: str | None = None
    strengths: str
    weaknesses: str
    suggestions: str
    score_items: list[str] = Field(default_factory=list)
    scores: list[int] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class RatingForm(BaseModel):
    """量表: items scored 1–5 in a 评课 of an activity of one kind."""

    alliance_id: int
    activity_kind: str
    items: list[str]


class EvidenceKind(StrEnum):
    """What kind of record a photo or file is evidence of."""

    REFLECTION = "reflection"
    REVIEW = "review"
    FEEDBACK = "feedback"
    NOTICE = "notice"


class Evidence(BaseModel):
    """A received file attached to a record (record_id None: kept for a reflection to come)."""

    id: int
    kind: EvidenceKind
    record_id: int | None = None
    activity_id: int | None = None
    member_id: int
    attached_at: datetime
    file: StoredFile


class RecentRecord(BaseModel):
    """The last record a person made: what a caption-less photo sent just after it joins."""

    kind: EvidenceKind
    record_id: int
    activity_id: int | None = None
    request_id: int | None = None  # the 征集 a 反馈 answers
    at: datetime


class LessonStudy(BaseModel):
    """课例 (一课多研): one lesson studied over several rounds (activities)."""

    id: int
    alliance_id: int
    name: str
    created_at: datetime


class StudyRound(BaseModel):
    study_id: int
    activity_id: int
    round: int  # 第1轮, 第2轮, …
    teacher_id: int | None = None  # 执教


class Design(BaseModel):
    """A 说课 submission: the teaching design, as text and/or a file."""

    id: int
    activity_id: int
    member_id: int
    body: str
    file_id: int | None = None
    submitted_at: datetime
