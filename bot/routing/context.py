"""What a handler gets to work with: who is asking, where, and the services it may use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.clock import Clock
from bot.core.messages import Incoming
from bot.core.settings import DEFAULT_PUBLIC_URL, DEFAULT_WECOM_API_BASE, Settings
from bot.routing.permissions import (
    Action,
    TeamScope,
    manages_school,
    may,
    needed_role_label,
    new_team_school,
    notice_reaches,
    outside_activity,
    outside_notice,
    reaches,
    reads_archive,
    reads_review,
    runs_feedback,
    team_scope,
    visible_part,
)
from bot.text.dates import DEFAULT_LESSONS, Lessons
from storage import Storage
from storage.attendance import is_expected
from storage.models import (
    Activity,
    Alliance,
    FeedbackRequest,
    LessonReview,
    Member,
    Notice,
    Role,
    School,
)


class Hint(Exception):
    """A user-facing, one-line explanation of why a command cannot be done as typed."""


@dataclass(frozen=True)
class BotConfig:
    zone: ZoneInfo
    admins: frozenset[str]
    min_reflection_chars: int = 30
    signin_open_minutes: int = 30
    # Signing key of dashboard and download links; None switches those links off.
    dashboard_secret: str | None = None
    public_url: str = DEFAULT_PUBLIC_URL
    lessons: Lessons = DEFAULT_LESSONS  # 节次表 (第三节)
    # Group robot webhooks bound by 绑定 must be on this origin.
    wecom_api_base: str = DEFAULT_WECOM_API_BASE

    @classmethod
    def from_settings(cls, settings: Settings) -> BotConfig:
        secret = settings.dashboard_secret
        return cls(
            zone=settings.zone,
            admins=frozenset(settings.admins),
            min_reflection_chars=settings.min_reflection_chars,
            signin_open_minutes=settings.signin_open_minutes,
            dashboard_secret=secret.get_secret_value() if secret else None,
            public_url=settings.public_url,
            lessons=settings.bell_schedule,
            wecom_api_base=settings.wecom_api_base,
        )


@dataclass
class Context:
    incoming: Incoming
    member: Member | None
    role: Role | None
    alliance: Alliance | None
    storage: Storage
    clock: Clock
    config: BotConfig

    @property
    def zone(self) -> ZoneInfo:
        if self.alliance is not None and self.alliance.timezone:
            return ZoneInfo(self.alliance.timezone)
        return self.config.zone

    def now(self) -> datetime:
        """Now in the local zone of this chat's alliance, for parsing and display."""
        return self.clock.now().astimezone(self.zone)

    def may(self, action: Action) -> bool:
        return may(self.role, action)

    def own_tree(self) -> list[int]:
        """This person's alliance and every alliance below it (empty without an alliance)."""
        if self.member is None or self.member.alliance_id is None:
            return []
        return self.storage.roster.descendants(self.member.alliance_id)

    def reaches(self, alliance: Alliance | None) -> bool:
        return reaches(self.role, self.member, alliance, self.own_tree())

    def require_role(self, action: Action) -> None:
        """Raise a Hint unless this person's role may do `action` (whatever it acts on)."""
        if not self.may(action):
            raise Hint(f"这个操作需要{needed_role_label(action)}权限。")

    def require(self, action: Action, alliance: Alliance | None = None) -> None:
        """Raise a Hint unless this person may do `action` on `alliance`."""
        self.require_role(action)
        if not self.reaches(alliance):
            where = alliance.name if alliance is not None else "全部联盟"
            raise Hint(f"你只能管理本联盟的事务，不能操作「{where}」。")

    def require_reach(self, action: Action, activity: Activity) -> Alliance | None:
        """`require` for an activity: this person may do `action` on the activity's alliance."""
        alliance = self.storage.roster.alliance(activity.alliance_id)
        self.require(action, alliance)
        return alliance

    def _alliance_name(self, alliance_id: int | None) -> str:
        alliance = self.storage.roster.alliance(alliance_id) if alliance_id else None
        return alliance.name if alliance is not None else "全部联盟"

    def in_audience(self, activity: Activity, person: Member) -> bool:
        """Whether `person` takes part in the activity (the rule of the roll itself)."""
        return is_expected(self.storage, activity, person)

    def require_audience(self, activity: Activity, person: Member | None = None) -> Member:
        """Raise a Hint unless `person` (default: the sender) is in the activity's audience."""
        who = person if person is not None else self.require_member()
        if not self.in_audience(activity, who):
            name = self._alliance_name(activity.alliance_id)
            label = None if person is None else f"{person.name}({person.school_name or '无学校'})"
            raise Hint(outside_activity(activity.code, name, label))
        return who

    def reads_review(self, review: LessonReview) -> bool:
        """Whether this person may read a 评课/听课 in full (others see counts only)."""
        alliance = self.storage.roster.alliance(review.alliance_id)
        return reads_review(
            self.role, self.member, review.teacher_id, review.observer_id, self.reaches(alliance)
        )

    def reads_archive(self, subject: Member) -> bool:
        """Whether this person may get `subject`'s 成长档案."""
        alliance = (
            self.storage.roster.alliance(subject.alliance_id) if subject.alliance_id else None
        )
        return reads_archive(self.role, self.member, subject.id, self.reaches(alliance))

    def require_archive(self, subject: Member) -> None:
        """Raise a Hint unless this person may get `subject`'s 成长档案."""
        if self.reads_archive(subject):
            return
        if not self.may(Action.VIEW_ARCHIVE):
            raise Hint("你只能查看自己的档案：发送「我的档案」。")
        where = self._alliance_name(subject.alliance_id)
        raise Hint(f"{subject.name} 是{where}的成员，你只能查看本联盟成员的档案。")

    def runs_feedback(self, request: FeedbackRequest) -> bool:
        """Whether this person sees a 征集's answers side by side and may close it."""
        alliance = self.storage.roster.alliance(request.alliance_id)
        return runs_feedback(self.role, self.member, request.created_by, self.reaches(alliance))

    def _notice_tree(self, notice: Notice) -> list[int] | None:
        """The alliances a notice was sent to; None for a notice to 全部."""
        if notice.alliance_id is None:
            return None
        return self.storage.roster.descendants(notice.alliance_id)

    def require_notice_audience(self, notice: Notice) -> Member:
        """Raise a Hint unless the notice was sent to the sender (their alliance, or 全部)."""
        member = self.require_member()
        if not notice_reaches(member, self._notice_tree(notice)):
            raise Hint(outside_notice(notice.code, self._alliance_name(notice.alliance_id)))
        return member

    def receipt_scope(self, notice: Notice) -> list[int] | None:
        """The alliances whose recipients of `notice` this person may see (None: all);
        a Hint if none (a leader asking about another alliance's notice)."""
        self.require_role(Action.VIEW_RECEIPTS)
        scope = visible_part(self.role, self._notice_tree(notice), self.own_tree())
        if scope is not None and not scope:
            where = self._alliance_name(notice.alliance_id)
            raise Hint(f"你只能管理本联盟的事务，不能操作「{where}」。")
        return scope

    def school_alliance(self, alliance: Alliance, school: School) -> Alliance:
        """The alliance to report on `school` under: `alliance` when the school is in its
        tree, else the school's own alliance if this person reaches it (staff, admins);
        a Hint naming the school otherwise (a leader asking about another alliance)."""
        if school.alliance_id in self.storage.roster.descendants(alliance.id):
            return alliance
        own = self.storage.roster.alliance(school.alliance_id) if school.alliance_id else None
        if own is not None and self.reaches(own):
            return own
        raise Hint(f"{school.name} 不在{alliance.name}内，你只能查看本联盟学校的情况。")

    def require_school(self, school_id: int | None, action: Action = Action.MANAGE_TEAMS) -> None:
        """Raise a Hint unless this person may do `action` for the school: only its leader (or
        staff) changes its teams, 梯队 and 征集 contact."""
        self.require_role(action)
        school = self.storage.roster.school(school_id)
        alliance_id = school.alliance_id if school else None
        if not manages_school(self.role, self.member, school_id, alliance_id, self.own_tree()):
            name = school.name if school else "（未填学校）"
            raise Hint(f"你只能管理本校的事务，不能操作「{name}」。")

    def team_scope(self) -> TeamScope:
        """Which teams and 梯队 this person oversees."""
        return team_scope(self.role, self.member)

    def new_team_school(self, first_member_school: int | None) -> int | None:
        """The school a team this person forms is based at."""
        return new_team_school(self.role, self.member, first_member_school)

    def require_member(self) -> Member:
        if self.member is None:
            raise Hint("我还不认识你。请先发送「我是 姓名 学校」绑定身份，例如：我是 王芳 一小")
        return self.member

    def require_alliance(self) -> Alliance:
        if self.alliance is None:
            if self.incoming.in_group:
                raise Hint("本群还没有绑定联盟。请管理员或教研员发送「绑定 联盟名」。")
            raise Hint("你还没有所属联盟，请联系管理员在名册中设置。")
        return self.alliance

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)
