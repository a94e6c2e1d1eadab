"""Opening the database loads sqlite-utils without numpy, which stays importable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


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
