"""Opening the database loads sqlite-utils without numpy, which stays importable; a file that
another process is setting up at the same moment is waited for."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import storage.db
from storage.db import configured_connection


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def test_sqlite_utils_comes_without_numpy_and_numpy_still_imports(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    code = (
        "import sys\n"
        "from storage import Storage\n"
        f"storage = Storage.open({str(db)!r})\n"
        "storage.roster.ensure_alliance('东部联盟', at=__import__('datetime').datetime.now("
        "__import__('datetime').UTC))\n"
        "print('numpy' in sys.modules, 'pandas' in sys.modules)\n"
        "import numpy\n"  # the chart code still gets it
        "print(numpy.arange(3).sum())\n"
    )
    assert _run(code).splitlines() == ["False False", "3"]


def test_numpy_already_loaded_is_left_alone() -> None:
    code = (
        "import sys, numpy\n"
        "from storage.db import import_sqlite_utils\n"
        "db = import_sqlite_utils().db\n"
        "print(db.np is numpy, sys.modules['numpy'] is numpy)\n"
    )
    assert _run(code) == "True True"


def test_a_file_another_process_is_setting_up_is_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Switching a new file to WAL while another connection holds its write lock is refused at
    once ("database is locked", no busy timeout): `serve` and a command may start together."""
    path = tmp_path / "bot.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    other.execute("BEGIN IMMEDIATE")  # the other process is in the middle of its set-up
    waits: list[float] = []

    def other_finishes_while_we_wait(seconds: float) -> None:
        waits.append(seconds)
        if other.in_transaction:
            other.execute("COMMIT")

    monkeypatch.setattr(
        storage.db,
        "time",
        SimpleNamespace(monotonic=time.monotonic, sleep=other_finishes_while_we_wait),
    )
    conn = configured_connection(path)
    assert waits  # refused once, then waited for the other
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
