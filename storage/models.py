"""Pydantic models that repositories return; nothing outside storage sees rows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


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

    @property
    def code(self) -> str:
        return f"A{self.id}"


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
