"""`jiaoyan-bot db copy --to postgresql://…`: move a SQLite database into PostgreSQL and
show, per table, that every row arrived."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.core.settings import check_database_url, database_label


def copy_command(source: Path | str, target: str, write: Callable[[str], None]) -> int:
    """0 when every table holds as many rows on both sides; 1 otherwise; 2 for bad input."""
    if not isinstance(source, Path):
        write("db copy 的来源应为 SQLite 数据库文件：请用 --db 或 JIAOYAN_DB 指定文件路径。")
        return 2
    try:
        check_database_url(target)
    except ValueError as error:
        write(str(error).replace("JIAOYAN_DB", "--to"))
        return 2
    import psycopg

    from storage.copy import CopyError, copy_to_postgres

    write(f"正在把 {source} 复制到 {database_label(target)} …")
    try:
        counts = copy_to_postgres(source, target)
    except CopyError as error:
        write(str(error))
        return 1
    except psycopg.Error as error:
        write(f"复制失败，目标数据库没有写入任何数据：{error}")
        return 1
    width = max(len(c.table) for c in counts)
    write(f"{'表'.ljust(width)}  源（SQLite）  目标（PostgreSQL）")
    for count in counts:
        write(f"{count.table.ljust(width)}  {count.source:>10}  {count.target:>10}")
    wrong = [c for c in counts if c.source != c.target]
    if wrong:
        names = "、".join(c.table for c in wrong)
        write(f"行数不一致：{names}。请检查后删除目标库重新复制，不要切换到它。")
        return 1
    rows = sum(c.source for c in counts)
    write(
        f"复制完成：{len(counts)} 张表共 {rows} 行，行数全部一致。"
        f"把 JIAOYAN_DB 设为该地址并重启服务即可切换。"
    )
    return 0
