"""周报: when this alliance's weekly digest is pushed, switching it off, or asking for it now.

The handler only changes settings (or records a request); the scheduler, which reads them
from the database, does the sending.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.routing.context import Context, Hint
from bot.routing.permissions import Action
from bot.routing.router import Args, Router
from bot.text.dates import parse_when
from handlers import format as fmt
from scheduling.zones import at_local, parse_hhmm
from storage.models import Alliance
from storage.reminders import DigestRequest, RemindersRepo

router = Router("digest")

ON_WORDS = ("开", "开启", "打开", "恢复", "启用")
OFF_WORDS = ("关", "关闭", "停", "停止", "暂停", "取消")
NOW_WORDS = ("现在", "立即", "马上", "立刻", "now")
SHOW_WORDS = ("", "设置", "状态", "查看")
EXAMPLE = "周报 周五 17:00"
_WEEKDAY = re.compile(r"^每?\s*(?:周|星期|礼拜)([一二三四五六日天1-7])\s*")
_WEEKDAY_INDEX = (
    {c: i for i, c in enumerate("一二三四五六日")}
    | {"天": 6}
    | {str(k): k - 1 for k in range(1, 8)}
)


def schedule_text(alliance: Alliance) -> str:
    """e.g. 每周五 17:00."""
    return f"每周{fmt.WEEKDAYS[alliance.digest_weekday]} {alliance.digest_time}"


def next_digest(alliance: Alliance, ctx: Context) -> datetime:
    """The next scheduled digest after now, in the alliance's zone."""
    now = ctx.now()
    at = parse_hhmm(alliance.digest_time)
    day = now.date() + timedelta(days=(alliance.digest_weekday - now.weekday()) % 7)
    moment = at_local(day, at, ctx.zone)
    if moment <= ctx.clock.now():
        moment = at_local(day + timedelta(days=7), at, ctx.zone)
    return moment


@router.command(
    "周报",
    aliases=("周报设置", "zb"),
    action=Action.VIEW_SUMMARY,
    summary="查看或设置本联盟的周报（默认每周五 17:00 自动推送到本联盟的群）",
    usage="周报 [开|关|周五 17:00|现在]",
    examples=("周报", "周报 周五 17:00", "周报 关", "周报 现在"),
)
def digest(ctx: Context, args: Args) -> str:
    alliance = ctx.require_alliance()
    ctx.require(Action.VIEW_SUMMARY, alliance)
    text = args.text.strip()
    repo = ctx.storage.reminders
    now = ctx.clock.now()
    if text in SHOW_WORDS:
        return _describe(ctx, alliance)
    if text in NOW_WORDS:
        incoming = ctx.incoming
        repo.request_digest(
            DigestRequest(
                alliance_id=alliance.id,
                at=now,
                userid=incoming.userid,
                chat_id=incoming.chat_id if incoming.in_group else None,
            )
        )
        if incoming.in_group:
            return f"好的，马上生成「{alliance.name}」的本周周报，发到本联盟的群里。"
        return f"好的，马上生成「{alliance.name}」的本周周报，私信发给你预览（不发到群里）。"
    if text in ON_WORDS:
        if alliance.digest_enabled:
            return f"「{alliance.name}」的周报已经是开启的：{schedule_text(alliance)} 推送。"
        updated = _update(ctx, repo, alliance, digest_enabled=1)
        return (
            f"已开启「{alliance.name}」的周报，{schedule_text(updated)} 推送，"
            f"下次：{fmt.when(next_digest(updated, ctx), ctx.zone)}。"
        )
    if text in OFF_WORDS:
        if not alliance.digest_enabled:
            return f"「{alliance.name}」的周报已经是关闭的。需要时发送「周报 开」。"
        _update(ctx, repo, alliance, digest_enabled=0)
        return f"已关闭「{alliance.name}」的自动周报。需要时发送「周报 开」或「周报 现在」。"
    weekday, at = parse_schedule(text, ctx.now())
    changes: dict[str, object] = {"digest_enabled": 1}
    if weekday is not None:
        changes["digest_weekday"] = weekday
    if at is not None:
        changes["digest_time"] = at
    updated = _update(ctx, repo, alliance, **changes)
    return (
        f"好的，「{alliance.name}」的周报改为{schedule_text(updated)} 推送，"
        f"下次：{fmt.when(next_digest(updated, ctx), ctx.zone)}。"
    )


def _describe(ctx: Context, alliance: Alliance) -> str:
    if not alliance.digest_enabled:
        return (
            f"「{alliance.name}」的自动周报已关闭。"
            f"开启：周报 开；改时间：{EXAMPLE}；立即生成：周报 现在。"
        )
    return (
        f"「{alliance.name}」的周报{schedule_text(alliance)} 推送到本联盟的群，"
        f"下次：{fmt.when(next_digest(alliance, ctx), ctx.zone)}。"
        f"改时间：{EXAMPLE}；关闭：周报 关；立即生成：周报 现在。"
    )


def parse_schedule(text: str, now: datetime) -> tuple[int | None, str | None]:
    """'周五 17:00' / '每周六上午9点' / '周一' / '16:30' → (weekday, 'HH:MM'); Hint if unclear.

    `now` (aware, local) only anchors the time parser; the result does not depend on it.
    """
    weekday: int | None = None
    rest = text
    matched = _WEEKDAY.match(text)
    if matched:
        weekday = _WEEKDAY_INDEX[matched.group(1)]
        rest = text[matched.end() :].strip()
    at: str | None = None
    if rest:
        when = parse_when(rest, now)
        if when is None or not when.has_time:
            raise Hint(f"没看懂周报时间「{text}」。例如：{EXAMPLE}、周报 关、周报 现在")
        at = f"{when.start:%H:%M}"
    if weekday is None and at is None:
        raise Hint(f"请写星期和时间，例如：{EXAMPLE}")
    return weekday, at


def _update(ctx: Context, repo: RemindersRepo, alliance: Alliance, **changes: object) -> Alliance:
    now = ctx.clock.now()
    ctx.storage.roster.update_alliance(alliance.id, **changes)
    repo.mark_digest_schedule_changed(alliance.id, now)
    ctx.storage.audit.record(
        now, ctx.incoming.userid, "digest.schedule", f"{alliance.name} {sorted(changes.items())}"
    )
    updated = ctx.storage.roster.alliance(alliance.id)
    assert updated is not None
    return updated
