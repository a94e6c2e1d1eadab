"""What a handler gets to work with: who is asking, where, and the services it may use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.messages import Incoming
from bot.parsing.dates import DEFAULT_LESSONS, Lessons
from bot.permissions import Action, may, needed_role_label, reaches
from bot.settings import DEFAULT_PUBLIC_URL, Settings
from storage import Storage
from storage.models import Alliance, Member, Role


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

    def reaches(self, alliance: Alliance | None) -> bool:
        tree = (
            self.storage.roster.descendants(self.member.alliance_id)
            if self.member is not None and self.member.alliance_id is not None
            else []
        )
        return reaches(self.role, self.member, alliance, tree)

    def require(self, action: Action, alliance: Alliance | None = None) -> None:
        """Raise a Hint unless this person may do `action` on `alliance`."""
        if not self.may(action):
            raise Hint(f"这个操作需要{needed_role_label(action)}权限。")
        if not self.reaches(alliance):
            where = alliance.name if alliance is not None else "全部联盟"
            raise Hint(f"你只能管理本联盟的事务，不能操作「{where}」。")

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
