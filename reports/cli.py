"""`jiaoyan-bot export`: the Excel archive from the command line, with a progress bar.

The bar uses `rich` on stderr (stdout keeps only the result line, so scripts can read it);
it is shown only when stderr is a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.core.settings import Settings
from reports.export import ExportError, ExportScope, Progress, export_workbook, parse_day_bound
from storage import Storage


def export_command(
    settings: Settings,
    *,
    alliance: str | None,
    date_from: str | None,
    date_to: str | None,
    output: Path,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Export and print where the file is and what it holds; 0 on success, 2 on bad input."""
    out = out or sys.stdout
    err = err or sys.stderr
    if output.suffix.lower() != ".xlsx":
        print(f"输出文件要以 .xlsx 结尾（你写的是 {output}）。", file=err)
        return 2
    if missing_database(settings, err):
        return 2
    moment = now()
    storage = Storage.open(settings.db)
    try:
        scope = _scope(storage, settings, alliance, date_from, date_to, moment)
        with _progress_bar(err) as progress:
            result = export_workbook(storage, scope, output, moment, progress=progress)
    except ExportError as error:
        print(str(error), file=err)
        return 2
    finally:
        storage.close()
    print(f"已导出（{scope.describe()}）到 {output.resolve()}", file=out)
    print(result.summary(), file=out)
    return 0


def _scope(
    storage: Storage,
    settings: Settings,
    alliance_name: str | None,
    date_from: str | None,
    date_to: str | None,
    now: datetime,
) -> ExportScope:
    local_now = now.astimezone(settings.zone)
    alliance = None
    if alliance_name:
        alliance = storage.roster.find_alliance(alliance_name)
        if alliance is None:
            names = "、".join(a.name for a in storage.roster.alliances()) or "（暂无）"
            raise ExportError(f"没有找到联盟「{alliance_name}」。已有：{names}")
    start, end = day_range(date_from, date_to, local_now)
    return ExportScope(alliance=alliance, start=start, end=end, zone=settings.zone)


def missing_database(settings: Settings, err: TextIO) -> bool:
    """Say so when `JIAOYAN_DB` names a SQLite file that is not there (opening it would
    create an empty database and export nothing)."""
    if isinstance(settings.db, Path) and not settings.db.exists():
        print(f"找不到数据库 {settings.db}，请用 --db 指定或设置 JIAOYAN_DB。", file=err)
        return True
    return False


def day_range(
    date_from: str | None, date_to: str | None, local_now: datetime
) -> tuple[datetime | None, datetime | None]:
    """--from/--to as bounds (None: open), the start before the end."""
    start = parse_day_bound(date_from, local_now, end=False) if date_from else None
    end = parse_day_bound(date_to, local_now, end=True) if date_to else None
    if start is not None and end is not None and start >= end:
        raise ExportError("开始日期要早于结束日期。")
    return start, end


@contextmanager
def _progress_bar(stream: TextIO) -> Iterator[Progress | None]:
    """A rich progress bar on a terminal; nothing otherwise."""
    if not stream.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    columns = (TextColumn("导出 {task.description}"), BarColumn(), MofNCompleteColumn())
    with Bar(*columns, TimeElapsedColumn(), console=Console(file=stream), transient=True) as bar:
        task = bar.add_task("准备", total=None)

        def report(done: int, total: int, stage: str) -> None:
            bar.update(task, completed=done, total=total, description=stage)

        yield report
