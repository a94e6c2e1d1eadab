"""`jiaoyan-bot backup -o FILE`: a consistent copy of the database while `serve` runs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from storage.backup import BackupError, backup_sqlite

TABLE_NAMES = {"members": "成员", "activities": "活动", "signins": "签到", "reflections": "反思"}

PG_DUMP_HELP = """\
数据库是 PostgreSQL，请用 PostgreSQL 自带的 pg_dump 备份（服务运行时也能得到一致的副本）：

  pg_dump --format=custom --file=jiaoyan-备份.dump "$JIAOYAN_DB"

恢复到一个新建的空数据库：

  createdb jiaoyan_restored
  pg_restore --no-owner --dbname=jiaoyan_restored jiaoyan-备份.dump

再把 JIAOYAN_DB 指向新数据库并重启服务。"""


def is_database_url(db: str) -> bool:
    """JIAOYAN_DB names a PostgreSQL server rather than a SQLite file."""
    return db.startswith(("postgresql:", "postgres:"))


def backup_command(db: str, output: Path, echo: Callable[[str], None] = print) -> int:
    """Back up the database `db` (JIAOYAN_DB) into `output`; 0 when done."""
    if is_database_url(db):
        print(PG_DUMP_HELP, file=sys.stderr)
        return 2
    try:
        result = backup_sqlite(Path(db), output)
    except BackupError as error:
        print(f"备份失败：{error}", file=sys.stderr)
        return 1
    counted = "，".join(
        f"{TABLE_NAMES[table]} {count:,} 条" for table, count in result.counts.items()
    )
    echo(f"已备份到 {result.path}（{result.size / 2**20:.1f} MB）：{counted}")
    return 0
