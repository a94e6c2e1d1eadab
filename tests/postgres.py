"""A throwaway PostgreSQL for the tests: a server named by JIAOYAN_TEST_PG, or a cluster this
test session creates (initdb + pg_ctl into a temporary folder) when the binaries are installed.

Every test gets a database of its own, copied from a template migrated once per session
(CREATE DATABASE ... TEMPLATE), and dropped after the test. Suites with many tests that
each seed their own data may instead share one database, emptied before each test
(`Databases.emptied`): a new database costs about 0.4 s here, emptying one 25 ms.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

# What a broken constraint raises on either engine.
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, psycopg.IntegrityError)

SERVER_ENV = "JIAOYAN_TEST_PG"  # postgresql://user@host/db of a server the tests may use
REQUIRE_ENV = "JIAOYAN_REQUIRE_PG"  # "1" in CI: no PostgreSQL is an error, not a skip
TEMPLATE = "jiaoyan_test_template"


def required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") == "1"


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _as_server_user(args: list[str]) -> list[str]:
    """initdb refuses root: run the server's tools as the `postgres` account then."""
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str | None]:
    """The URL of a server's maintenance database, or None when there is no PostgreSQL."""
    given = os.environ.get(SERVER_ENV)
    if given:
        yield given
        return
    bin_dir = _bin_dir()
    if bin_dir is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="jiaoyan-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data = folder / "data"
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
    _run([*initdb, "--no-locale", "-E", "UTF8", "--no-sync"])
    options = f"-k {folder} -c listen_addresses= -c fsync=off -c full_page_writes=off"
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data)]
    _run([*pg_ctl, "-o", options, "-l", str(folder / "server.log"), "-w", "start"])
    try:
        yield f"postgresql://postgres@/postgres?host={quote(str(folder))}"
    finally:
        subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(folder, ignore_errors=True)


def _run(args: list[str], *, check: bool = True) -> None:
    subprocess.run(
        _as_server_user(args),
        check=check,
        cwd=tempfile.gettempdir(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def database_url(server: str, name: str) -> str:
    """The URL of another database on the same server."""
    base, _, query = server.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}" + (f"?{query}" if query else "")


class Databases:
    """Fresh databases on one server, each a copy of the migrated template."""

    def __init__(self, server: str) -> None:
        from storage import Storage

        self._server = server
        self._numbers = itertools.count(1)
        self._prefix = f"jiaoyan_test_{os.getpid()}"
        self._admin = psycopg.connect(server, autocommit=True)
        self._admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}_{os.getpid()}")
        self._template = f"{TEMPLATE}_{os.getpid()}"
        self._admin.execute(f"CREATE DATABASE {self._template}")
        Storage.open(database_url(server, self._template)).close()
        self._shared: str | None = None

    @contextlib.contextmanager
    def fresh(self, *, migrated: bool = True) -> Iterator[str]:
        name = f"{self._prefix}_{next(self._numbers)}"
        template = self._template if migrated else "template0"
        self._admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        try:
            yield database_url(self._server, name)
        finally:
            self._admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def emptied(self) -> str:
        """The URL of the session's shared database, as a freshly migrated one would be: no
        rows and ids counting from 1. Its user must have closed its connections after use."""
        if self._shared is None:
            self._shared = f"{self._prefix}_shared"
            self._admin.execute(f"CREATE DATABASE {self._shared} TEMPLATE {self._template}")
        url = database_url(self._server, self._shared)
        # A connection the last test left in a transaction would hold locks: fail, not hang.
        with psycopg.connect(url, autocommit=True, options="-c lock_timeout=10s") as conn:
            empty(conn)
        return url

    def close(self) -> None:
        if self._shared is not None:
            self._admin.execute(f"DROP DATABASE IF EXISTS {self._shared} WITH (FORCE)")
        self._admin.execute(f"DROP DATABASE IF EXISTS {self._template}")
        self._admin.close()


def empty(conn: psycopg.Connection[Any]) -> None:
    """Delete every row but the migrations' record and restart every id sequence."""
    tables = [
        sql.Identifier(name)
        for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename <> 'schema_version'"
        )
    ]
    # One statement, so the foreign keys are checked at its end, when every table is empty.
    deletes = sql.SQL(", ").join(
        sql.SQL("{} AS (DELETE FROM {})").format(sql.Identifier(f"d{n}"), table)
        for n, table in enumerate(tables[1:])
    )
    conn.execute(sql.SQL("WITH {} DELETE FROM {}").format(deletes, tables[0]))
    conn.execute(
        "SELECT setval(format('%I', sequencename), start_value, false) FROM pg_sequences "
        "WHERE schemaname = current_schema()"
    )
