"""我的档案 and 档案 王芳: a member's 成长档案 (the record for evaluation), sent privately.

The workbook goes as an attachment where the channel can carry files, and the answer holds
signed, expiring links to it and to the printable web page (A4, `reports.archive_html`) when
JIAOYAN_DASHBOARD_SECRET is set; without it the workbook alone is sent. Teachers get only their own; leaders and staff also get
those of their alliance's members (`Context.require_archive`).
"""

from __future__ import annotations

from bot.core.messages import Attachment, AttachmentKind, Effect, Reply
from bot.routing.context import Context, Hint
from bot.routing.permissions import Action
from bot.routing.router import Args, Router
from bot.text.dates import Period, parse_period
from handlers.exports import NO_LINK, link_settings
from handlers.lookup import members_matching, one_of
from reports.archive_files import archive_stem, download_name, prune_archives
from reports.archive_html import write_archive_html
from reports.archive_xlsx import write_archive_xlsx
from reports.export import exports_dir
from reports.links import dashboard_url, sign
from reports.member_archive import collect_archive
from reports.text import when
from storage.models import Member

router = Router("archive")

RANGE_EXAMPLES = "例如：我的档案 本学期 / 我的档案 2026学年 / 我的档案 9月1日~11月30日"


@router.command(
    "我的档案",
    aliases=("成长档案", "我的成长档案"),
    summary="私信发成长档案",
    usage="我的档案 [本学期|2026学年]",
    background=True,
    examples=("我的档案", "我的档案 2026学年", "我的档案 9月1日~11月30日"),
)
def my_archive(ctx: Context, args: Args) -> list[Effect]:
    member = ctx.require_member()
    return _send(ctx, member, _period(ctx, args.text))


@router.command(
    "档案",
    aliases=("查看档案", "教师档案"),
    action=Action.VIEW_ARCHIVE,
    summary="私信发本联盟一位老师的成长档案（Excel 和可打印网页）",
    usage="档案 姓名[(学校)] [本学期|2026学年|日期~日期]",
    background=True,
    examples=("档案 王芳", "档案 王芳(东部二小) 2026学年"),
)
def member_archive(ctx: Context, args: Args) -> list[Effect]:
    words = args.text.split(" ") if args.text else []
    period = parse_period(words[-1], ctx.now()) if words else None
    if len(words) <= 1 and (period or not words):  # 档案 / 档案 本学期: one's own
        return _send(ctx, ctx.require_member(), period or _period(ctx, ""))
    name = " ".join(words[:-1] if period else words)
    people = members_matching(ctx, name)
    readable = [p for p in people if ctx.reads_archive(p)]
    if people and not readable:
        ctx.require_archive(people[0])  # says why (another alliance)
    subject = one_of(name, readable)
    return _send(ctx, subject, period or _period(ctx, ""))


def _period(ctx: Context, text: str) -> Period:
    period = parse_period(text or "本学期", ctx.now())
    if period is None:
        raise Hint(f"没看懂时间范围「{text}」。{RANGE_EXAMPLES}")
    return period


def _send(ctx: Context, subject: Member, period: Period) -> list[Effect]:
    """Write the archive into the exports folder and answer privately with it."""
    ctx.require_archive(subject)
    requester = ctx.require_member()
    folder = exports_dir(ctx.storage)
    if folder is None:
        raise Hint("当前数据库在内存中，无法保存档案文件。")
    now = ctx.clock.now()
    prune_archives(folder, now, ctx.zone)
    folder.mkdir(parents=True, exist_ok=True)
    stem = archive_stem(folder, requester.id, subject.id, now, ctx.zone)
    archive = collect_archive(
        ctx.storage, subject, period.start, period.end, ctx.zone, now, period.label
    )
    workbook = folder / f"{stem}.xlsx"
    write_archive_xlsx(archive, workbook)
    write_archive_html(archive, folder / f"{stem}.html")
    total = archive.total
    hours = f"{total.stats.hours:g}" if total else "0"
    lines = [
        f"{subject.name}{period.label}的成长档案：活动 {len(archive.activities)} 个，"
        f"反思 {len(archive.reflections)} 篇，我写的听评课 {len(archive.written)} 条，"
        f"我的课收到 {len(archive.received)} 条，资源 {len(archive.resources)} 条，"
        f"学时 {hours}。"
    ]
    links = link_settings(ctx.config)
    if links.secret is not None:
        expires = now + links.ttl
        token = sign(links.secret, subject.alliance_id or 0, ctx.incoming.userid, expires)
        lines.append(f"Excel：{dashboard_url(links.public_url, token, f'archive/{stem}.xlsx')}")
        lines.append(
            f"打印版网页：{dashboard_url(links.public_url, token, f'archive/{stem}.html')}"
        )
        lines.append(f"链接 {when(expires, ctx.zone)} 前有效，仅供你本人下载，请勿转发。")
    else:
        lines.append(NO_LINK)
    attachment = Attachment(
        kind=AttachmentKind.FILE,
        path=str(workbook.resolve()),
        name=download_name(subject.name, now.astimezone(ctx.zone), ".xlsx"),
    )
    text = "\n".join(lines)
    if ctx.incoming.in_group:
        return [
            Reply(text="档案已私信发给你。"),
            Reply(text=text, private=True, attachment=attachment),
        ]
    return [Reply(text=text, attachment=attachment)]
