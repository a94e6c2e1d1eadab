"""导出 and 汇总 网页: the Excel archive and the dashboard link, always sent privately.

Both answer with a signed, expiring link (`reports.links`) to the dashboard served by
`jiaoyan-bot serve`; the link is a credential, so it never goes to a group. Both need
JIAOYAN_DASHBOARD_SECRET (and JIAOYAN_PUBLIC_URL for an address users can open).

导出 also attaches the workbook itself to the private answer: channels that can send files
(the self-built app, the long connection) deliver it as a file; the others send the text,
whose link still gets it. The file stays in the data directory's exports/ for a retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.core.messages import Attachment, AttachmentKind, Effect, Reply
from bot.routing.context import BotConfig, Context, Hint
from bot.routing.permissions import Action
from bot.routing.router import Args, Router
from bot.text.dates import parse_period
from reports.export import (
    EXPORT_FILE,
    ExportScope,
    download_name,
    export_workbook_apart,
    exports_dir,
)
from reports.links import DEFAULT_TTL, dashboard_url, sign
from reports.text import when
from storage.models import Alliance

router = Router("exports")

KEEP_EXPORTS = timedelta(days=2)  # longer than a link lives
# `汇总 网页` (and these variants) answer with the dashboard link instead of a text summary.
DASHBOARD_WORDS = frozenset({"网页", "网页版", "看板", "链接", "web"})
NO_LINK = (
    "文件随本消息发送。网页下载链接未开启：如需要，请管理员设置 JIAOYAN_DASHBOARD_SECRET"
    " 和 JIAOYAN_PUBLIC_URL。"
)
NO_SECRET = (
    "网页看板和导出下载还没有开启：请管理员在配置里设置 JIAOYAN_DASHBOARD_SECRET"
    "（一串足够长的随机字符）和 JIAOYAN_PUBLIC_URL（老师们能打开的网址），然后重启机器人。"
)


@dataclass(frozen=True)
class LinkSettings:
    secret: str | None
    public_url: str
    ttl: timedelta = DEFAULT_TTL


def link_settings(config: BotConfig) -> LinkSettings:
    """The dashboard secret and public address (JIAOYAN_DASHBOARD_SECRET, JIAOYAN_PUBLIC_URL)."""
    return LinkSettings(secret=config.dashboard_secret or None, public_url=config.public_url)


def _private(
    ctx: Context, text: str, done: str, attachment: Attachment | None = None
) -> list[Effect]:
    """The link privately; in a group, also a public line saying where it went."""
    if ctx.incoming.in_group:
        return [Reply(text=done), Reply(text=text, private=True, attachment=attachment)]
    return [Reply(text=text, attachment=attachment)]


def _token(ctx: Context, links: LinkSettings, alliance: Alliance) -> tuple[str, datetime]:
    assert links.secret is not None
    expires = ctx.clock.now() + links.ttl
    return sign(links.secret, alliance.id, ctx.incoming.userid, expires), expires


def dashboard_link(ctx: Context) -> list[Effect]:
    """汇总 网页: a private, expiring link to this alliance's dashboard."""
    alliance = ctx.require_alliance()
    ctx.require(Action.VIEW_NAMES, alliance)
    links = link_settings(ctx.config)
    if links.secret is None:
        raise Hint(NO_SECRET)
    token, expires = _token(ctx, links, alliance)
    text = (
        f"「{alliance.name}」教研看板（各校签到率、反思率、趋势图、缺勤名单、反思全文和 Excel 下载）：\n"
        f"{dashboard_url(links.public_url, token)}\n"
        f"链接 {when(expires, ctx.zone)} 前有效，仅供你本人查看，请勿转发。"
    )
    return _private(ctx, text, "看板链接已私信发给你。")


@router.command(
    "看板",
    aliases=("汇总网页", "网页汇总", "网页看板", "教研看板"),
    action=Action.VIEW_NAMES,
    summary="获取本联盟的网页看板链接（私信发送，24小时有效）；也可以发「汇总 网页」",
    usage="看板",
    examples=("看板", "汇总 网页"),
)
def dashboard_command(ctx: Context, args: Args) -> list[Effect]:
    return dashboard_link(ctx)


@router.command(
    "导出",
    aliases=("导出表格", "导出excel", "导出Excel", "dc"),
    action=Action.VIEW_NAMES,
    summary="导出 Excel 教研档案（活动、签到、反思、请假、通知、统计和学时），下载链接私信发送",
    usage="导出 [本学期|本月|上周|11月|日期~日期] [联盟名]",
    background=True,
    examples=("导出", "导出 本月", "导出 9月1日~11月30日"),
)
def export_archive(ctx: Context, args: Args) -> list[Effect]:
    links = link_settings(ctx.config)
    words = args.text.split(" ") if args.text else []
    period = parse_period(words[0], ctx.now()) if words else None
    rest = " ".join(words[1:] if period else words)
    if period is None:
        period = parse_period("本学期", ctx.now())
        assert period is not None
    if rest:
        alliance = ctx.storage.roster.find_alliance(rest)
        if alliance is None:
            raise Hint(
                f"没看懂「{rest}」。例如：导出 本学期 / 导出 11月 / 导出 9月1日~11月30日"
                "（也可以在后面写联盟名）"
            )
    else:
        alliance = ctx.require_alliance()
    ctx.require(Action.VIEW_NAMES, alliance)
    folder = exports_dir(ctx.storage)
    if folder is None:
        raise Hint("当前数据库在内存中，无法保存导出文件。")
    now = ctx.clock.now()
    _prune(folder, now, ctx)
    name = _file_name(folder, alliance, now, ctx)
    signed = _token(ctx, links, alliance) if links.secret is not None else None
    base = dashboard_url(links.public_url, signed[0]) if signed else None
    scope = ExportScope(
        alliance=alliance, start=period.start, end=period.end, zone=ctx.zone, links=base
    )
    result = export_workbook_apart(ctx.storage, scope, folder / name, now)
    text = f"已导出「{alliance.name}」{period.label}的教研档案：{result.summary()}。\n"
    if signed is not None:
        token, expires = signed
        text += (
            f"下载：{dashboard_url(links.public_url, token, f'files/{name}')}\n"
            f"链接 {when(expires, ctx.zone)} 前有效，仅供你本人下载，请勿转发。"
        )
    else:
        # No signed links without the secret: the file itself is the delivery (it goes as an
        # attachment where the channel can carry one), and the admin learns how to add links.
        text += NO_LINK
    attachment = Attachment(
        kind=AttachmentKind.FILE,
        path=str(result.path.resolve()),
        name=download_name(scope, now),
    )
    return _private(ctx, text, "导出完成，下载链接已私信发给你。", attachment)


def _file_name(folder: Path, alliance: Alliance, now: datetime, ctx: Context) -> str:
    """a<alliance id>_<local time>.xlsx — the dashboard serves it only to that alliance."""
    stamp = now.astimezone(ctx.zone).strftime("%Y%m%d-%H%M%S")
    name = f"a{alliance.id}_{stamp}.xlsx"
    number = 2
    while (folder / name).exists():
        name = f"a{alliance.id}_{stamp}-{number}.xlsx"
        number += 1
    return name


def _prune(folder: Path, now: datetime, ctx: Context) -> None:
    """Delete exports older than KEEP_EXPORTS (by the time in their name: the bot's clock)."""
    if not folder.is_dir():
        return
    cutoff = (now - KEEP_EXPORTS).astimezone(ctx.zone).replace(tzinfo=None)
    for old in folder.glob("a*_*.xlsx"):
        matched = EXPORT_FILE.match(old.name)
        if matched is None:
            continue
        made = datetime.strptime(old.name.split("_", 1)[1][:15], "%Y%m%d-%H%M%S")
        if made < cutoff:
            old.unlink(missing_ok=True)
