"""A PostgreSQL database behind the same small surface the repositories use of SQLite.

`PgConnection` looks like the sqlite3 connection as the repositories use it: `execute(sql,
params)` with SQLite-style SQL (translated once per statement by `storage.dialect`), a cursor
to read rows by index, `in_transaction`, `close`. It runs in autocommit, like the sqlite3
connections of the bot (`isolation_level=None`): `storage.db.transaction` issues BEGIN,
SAVEPOINT, RELEASE, ROLLBACK itself. One connection per process (per instance, later); nothing
is shared between threads.

Imported only when `JIAOYAN_DB` is a `postgresql://` URL, so SQLite deployments never load
psycopg.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import TransactionStatus

from storage.dialect import to_postgres

# A lock held by another connection is waited for this long (SQLite's busy timeout is 5 s).
LOCK_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_S = 10

_INT8_OID = 20


class _BoolAsInteger(Dumper):
    """Booleans are stored as INTEGER 0/1 on both engines, so send True as 1, not as boolean."""

    oid = _INT8_OID

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


class PgConnection:
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.raw = psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            options=f"-c lock_timeout={LOCK_TIMEOUT_MS}",
        )
        self.raw.adapters.register_dumper(bool, _BoolAsInteger)
        self._info = self.raw.info

    def execute(self, sql: str, parameters: Sequence[Any] | None = None, /) -> psycopg.Cursor[Any]:
        """Run one SQLite-style statement (`?` placeholders) and return its cursor."""
        return self.raw.execute(to_postgres(sql), () if parameters is None else parameters)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many rows (psycopg pipelines them: one round trip per batch)."""
        with self.raw.cursor() as cursor:
            cursor.executemany(to_postgres(sql), rows)

    def reset_identities(self) -> None:
        """After rows were copied in with their ids: let each identity column continue after
        the largest id, as SQLite would."""
        columns = self.raw.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND is_identity = 'YES'"
        ).fetchall()
        for table, column in columns:
            self.raw.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"COALESCE(MAX({column}), 0) + 1, false) FROM {table}"
            )

    @property
    def in_transaction(self) -> bool:
        return self._info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


class PgDatabase:
    """What `Storage` holds for PostgreSQL, in the place of a `sqlite_utils.Database`."""

    dialect = "postgresql"

    def __init__(self, conn: PgConnection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
        return self.conn.execute(sql, parameters)
