"""Session-wide test setup: every test that asks for `db_target` runs on SQLite and on
PostgreSQL (tests/postgres.py). Without PostgreSQL the PostgreSQL runs are skipped, and the
summary says so once; with JIAOYAN_REQUIRE_PG=1 (CI) they fail instead."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import postgres

_skipped_for_postgres: list[str] = []
NO_POSTGRES = "no PostgreSQL: set JIAOYAN_TEST_PG or install the postgresql package"


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[postgres.Databases | None]:
    with postgres.throwaway_cluster() as server:
        if server is None:
            yield None
            return
        databases = postgres.Databases(server)
        yield databases
        databases.close()


def _postgres(request: pytest.FixtureRequest) -> postgres.Databases:
    """The session's PostgreSQL; without one the test is skipped (fails in CI)."""
    databases: postgres.Databases | None = request.getfixturevalue("pg_databases")
    if databases is None:
        if postgres.required():
            pytest.fail(
                f"PostgreSQL tests are required here ({postgres.REQUIRE_ENV}=1): {NO_POSTGRES}"
            )
        _skipped_for_postgres.append(request.node.nodeid)
        pytest.skip(NO_POSTGRES)
    return databases


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test (skips without PostgreSQL)."""
    with _postgres(request).fresh() as url:
        yield url


def _target(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: Callable[[], str],
) -> Path | str:
    if request.param == "sqlite":
        return tmp_path / "bot.db"
    url = postgres_url()
    monkeypatch.chdir(tmp_path)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_target(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path | str:
    """What JIAOYAN_DB would hold: a SQLite file, or the URL of a fresh PostgreSQL database
    (run from tmp_path, since the files kept beside PostgreSQL data go to ./data)."""
    return _target(request, tmp_path, monkeypatch, lambda: request.getfixturevalue("pg_url"))


@pytest.fixture(params=["sqlite", "postgresql"])
def emptied_db_target(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path | str:
    """`db_target` for many short tests: on PostgreSQL the session's shared database,
    emptied (`Databases.emptied`) rather than a new one. The test closes its connections."""
    return _target(request, tmp_path, monkeypatch, lambda: _postgres(request).emptied())


@pytest.fixture(params=["sqlite", "postgresql"])
def db_targets(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], Path | str]]:
    """Like `db_target`, for a test that needs several databases: each call, a new one."""
    if request.param == "sqlite":
        numbers = itertools.count()
        yield lambda: tmp_path / f"bot-{next(numbers)}.db"
        return
    databases = _postgres(request)
    monkeypatch.chdir(tmp_path)
    with contextlib.ExitStack() as stack:
        yield lambda: stack.enter_context(databases.fresh())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped_for_postgres:
        terminalreporter.write_line(
            f"{len(_skipped_for_postgres)} PostgreSQL variants skipped ({NO_POSTGRES})",
            yellow=True,
        )
