"""Opening the database (a SQLite file, or PostgreSQL for a URL) the way every part of the bot
expects it, and the transactions and timestamps every repository shares."""

from __future__ import annotations

import contextlib
import importlib
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from storage.dialect import is_postgres_url
from storage.migrations import migrate

WAL_SWITCH_WAIT = 5.0  # seconds, as the busy timeout


class Cursor(Protocol):
    """What repositories read from a statement: rows as tuples (by index), and `rowcount`."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A sqlite3 connection, or `storage.postgres.PgConnection`: autocommit unless
    `transaction` opens one, SQL written for SQLite (see storage.dialect)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    @property
    def in_transaction(self) -> bool: ...

    def close(self) -> None: ...


class Database(Protocol):
    """What a repository holds: a `sqlite_utils.Database` for SQLite (sqlite-utils stays the
    embedded default's wrapper), `storage.postgres.PgDatabase` for PostgreSQL."""

    @property
    def conn(self) -> Any: ...

    def execute(self, sql: str, parameters: Any = ...) -> Any: ...


def connect(path: Path | str, *, memory: bool = False) -> sqlite3.Connection:
    """Open (creating if needed) the database in WAL mode with foreign keys, fully migrated."""
    conn = configured_connection(path, memory=memory)
    migrate(conn)
    return conn


def configured_connection(path: Path | str, *, memory: bool = False) -> sqlite3.Connection:
    """A connection set up the way every SQLite file of the bot is used (WAL, foreign keys,
    a busy timeout, autocommit unless `transaction` opens one); no schema."""
    if memory:
        conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    else:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    if not memory:
        _use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL. On a new file that another process is creating at the same moment
    (`serve` and a console or a CLI command starting together) SQLite answers "database is locked" at once,
    without waiting for the busy timeout: wait here instead, for up to `WAL_SWITCH_WAIT`."""
    deadline = time.monotonic() + WAL_SWITCH_WAIT
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


# Where files beside a PostgreSQL database live (received files, exports, charts).
POSTGRES_DATA_DIR = Path("data")


def data_dir_for(target: Path | str) -> Path:
    """The folder for the bot's files: the SQLite file's folder, or `data/` for a URL."""
    if is_postgres_url(target):
        return POSTGRES_DATA_DIR.resolve()
    return Path(target).resolve().parent


def open_database(target: Path | str, *, memory: bool = False) -> Database:
    """The database `JIAOYAN_DB` names, fully migrated: a `postgresql://` URL opens
    PostgreSQL, anything else is a SQLite file, wrapped in a `sqlite_utils.Database`."""
    if is_postgres_url(target):
        return open_postgres(str(target))
    db: Database = import_sqlite_utils().Database(connect(target, memory=memory))
    return db


class DatabaseUnavailable(Exception):
    """The database `JIAOYAN_DB` names cannot be opened; the message says why, in Chinese."""


def open_postgres(url: str) -> Database:
    """Connect to PostgreSQL and migrate it. psycopg is imported here, only for a URL."""
    try:
        import psycopg

        from storage.postgres import PgConnection, PgDatabase
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise DatabaseUnavailable(
            '使用 PostgreSQL 需要先安装驱动：pip install ".[postgres]"'
        ) from exc
    try:
        conn = PgConnection(url)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(
            f"无法连接 PostgreSQL 数据库（{reason}）。请确认数据库已启动、JIAOYAN_DB 中的地址、"
            "端口、用户名、密码和库名正确。"
        ) from exc
    migrate(conn)
    return PgDatabase(conn)


# sqlite-utils imports these whenever they are installed, only to store their values.
_OPTIONAL_IMPORTS_OF_SQLITE_UTILS = ("numpy", "pandas")


def import_sqlite_utils() -> ModuleType:
    """sqlite-utils, imported without numpy (or pandas).

    sqlite-utils imports numpy when it is installed (matplotlib brings it in) just to store
    numpy values, which the bot never does; that cost the `serve` process about 15 MB for
    its whole life. While sqlite-utils is imported, modules not imported yet are hidden
    (`sys.modules[name] = None` makes their import fail), then unhidden for the chart code.
    """
    loaded = sys.modules.get("sqlite_utils")
    if loaded is not None:
        return loaded
    hidden = [name for name in _OPTIONAL_IMPORTS_OF_SQLITE_UTILS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        return importlib.import_module("sqlite_utils")
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


def inserted_id(cursor: Cursor) -> int | None:
    """The id an `INSERT ... RETURNING id` produced (both engines); None when its
    `ON CONFLICT ... DO NOTHING` skipped the row."""
    row = cursor.fetchone()
    return int(row[0]) if row else None


def update_row(db: Database, table: str, row_id: int, fields: dict[str, object]) -> None:
    """`UPDATE table SET ... WHERE id = ?` for fields the caller has already checked against
    its allowed column names (they are spliced into the SQL)."""
    assignments = ", ".join(f"{name} = ?" for name in fields)
    db.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", (*fields.values(), row_id))


class Transaction:
    """Handle of an open `transaction`: `rollback()` undoes its writes when the block ends."""

    __slots__ = ("rolled_back",)

    def __init__(self) -> None:
        self.rolled_back = False

    def rollback(self) -> None:
        self.rolled_back = True


@contextlib.contextmanager
def transaction(conn: Connection, *, immediate: bool = True) -> Iterator[Transaction]:
    """All-or-nothing writes; inside a transaction already open, a savepoint of it.

    Nesting lets a caller put several repositories' writes into one commit (the pipeline
    commits a handler's sign-in with its reply), while each repository keeps its own
    all-or-nothing guarantee: an inner block that fails or rolls back undoes only its part.
    An exception undoes the block and propagates. `immediate` takes the write lock at once,
    so a read-then-write block cannot fail half-way on a lock; a dry run passes False.
    On PostgreSQL the same statements run (BEGIN IMMEDIATE becomes BEGIN, storage.dialect).
    """
    tx = Transaction()
    savepoint = f"sp_{id(tx):x}" if conn.in_transaction else None
    conn.execute(
        f"SAVEPOINT {savepoint}" if savepoint else ("BEGIN IMMEDIATE" if immediate else "BEGIN")
    )
    try:
        yield tx
    except BaseException:
        _undo(conn, savepoint)
        raise
    if tx.rolled_back:
        _undo(conn, savepoint)
    else:
        conn.execute(f"RELEASE {savepoint}" if savepoint else "COMMIT")


def _undo(conn: Connection, savepoint: str | None) -> None:
    if savepoint is not None:
        conn.execute(f"ROLLBACK TO {savepoint}")
        conn.execute(f"RELEASE {savepoint}")
    elif conn.in_transaction:  # SQLite may already have rolled back (e.g. disk full)
        conn.execute("ROLLBACK")


def to_db_time(moment: datetime) -> str:
    """Store every instant as UTC ISO-8601 so that text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime cannot be stored")
    # Same text as strftime("%Y-%m-%dT%H:%M:%S.%fZ"), in less than half the time.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_db_time(value: str) -> datetime:
    """Read back what `to_db_time` wrote (aware, UTC).

    `fromisoformat` (Python 3.11+ reads the trailing Z) is ~50x faster than `strptime`, which
    dominated every report: a district term reads over 100,000 timestamps.
    """
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"stored time without a zone: {value!r}")
    return moment.astimezone(UTC)
