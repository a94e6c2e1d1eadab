"""Build a digest in a child process (`reports.child_process`), so the long-running `serve`
does not keep what building one loads: the word dictionary (about 25 MB), the idf table
(8 MB), matplotlib (about 20 MB) and, for a big alliance, tens of MB of rows.

The builder is async: the event loop keeps answering callbacks and delivering replies while
the child works.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from bot.text.dates import Period
from reports.child_process import TIMEOUT_SECONDS, run_in_child
from reports.model import Digest
from storage import Storage
from storage.models import Alliance


class DigestInChildProcess:
    """A `DigestBuilder` that builds each digest from the database file in a child process."""

    def __init__(
        self, db: Path | str, *, python: str = sys.executable, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self._db = db
        self._python = python
        self._timeout = timeout

    async def __call__(
        self, storage: Storage, alliance: Alliance, period: Period, now: datetime
    ) -> Digest:
        # `storage` is the caller's; the child opens the same file itself.
        digest: Digest = await run_in_child(
            "reports.digest:build_digest",
            alliance,
            period,
            now,
            database=self._db,
            python=self._python,
            timeout=self._timeout,
        )
        return digest
