"""`jiaoyan-bot export --member 账号 -o FILE`: one teacher's 成长档案 from the command line,
as .xlsx or a printable .html page (chosen by the file's suffix)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from bot.core.settings import Settings
from reports.archive_html import write_archive_html
from reports.archive_xlsx import write_archive_xlsx
from reports.cli import day_range, missing_database
from reports.export import ExportError
from reports.member_archive import MemberArchive, collect_archive
from storage import Storage
from storage.models import Member

FORMATS = (".xlsx", ".html")


def archive_command(
    settings: Settings,
    *,
    member: str,
    date_from: str | None,
    date_to: str | None,
    output: Path,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Write the archive and say where it is; 0 on success, 2 on bad input."""
    out = out or sys.stdout
    err = err or sys.stderr
    suffix = output.suffix.lower()
    if suffix not in FORMATS:
        print(f"档案文件要以 .xlsx 或 .html 结尾（你写的是 {output}）。", file=err)
        return 2
    if missing_database(settings, err):
        return 2
    moment = now()
    zone = settings.zone
    storage = Storage.open(settings.db)
    try:
        person = _member(storage, member)
        local_now = moment.astimezone(zone)
        start, end = day_range(date_from, date_to, local_now)
        label = _label(start, end)
        archive = collect_archive(
            storage,
            person,
            start or datetime(1970, 1, 1, tzinfo=zone),
            end or datetime(9999, 1, 1, tzinfo=zone),
            zone,
            moment,
            label,
        )
    except ExportError as error:
        print(str(error), file=err)
        return 2
    finally:
        storage.close()
    write_archive(archive, output)
    total = archive.total
    hours = f"{total.stats.hours:g}" if total else "0"
    print(f"已导出{person.name}（{label}）的成长档案到 {output.resolve()}", file=out)
    print(
        f"活动 {len(archive.activities)} 个，反思 {len(archive.reflections)} 篇，"
        f"我写的听评课 {len(archive.written)} 条，我的课收到 {len(archive.received)} 条，"
        f"资源 {len(archive.resources)} 条，学时 {hours}",
        file=out,
    )
    return 0


def write_archive(archive: MemberArchive, output: Path) -> None:
    """The file for `output`'s suffix: the workbook, or the printable page."""
    if output.suffix.lower() == ".html":
        write_archive_html(archive, output)
    else:
        write_archive_xlsx(archive, output)


def _member(storage: Storage, text: str) -> Member:
    """The member with this WeCom account, or the only active member of this name."""
    found = storage.roster.member_by_userid(text)
    if found is not None:
        return found
    named = storage.roster.members_named(text)
    if len(named) == 1:
        return named[0]
    if named:
        accounts = "、".join(
            f"{m.name}({m.school_name or '无学校'}) {m.userid or '无账号'}" for m in named
        )
        raise ExportError(f"有多位「{text}」，请用企业微信账号指定：{accounts}")
    raise ExportError(f"名册里没有账号或姓名为「{text}」的成员。")


def _label(start: datetime | None, end: datetime | None) -> str:
    if start is None and end is None:
        return "全部时间"
    first = f"{start:%Y-%m-%d}" if start else "最早"
    last = f"{end - timedelta(seconds=1):%Y-%m-%d}" if end else "至今"
    return f"{first} 至 {last}"
