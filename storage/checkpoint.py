"""Moving SQLite's write-ahead log into the database file without stalling the event loop.

By default the connection whose commit pushes the WAL past 1,000 pages copies it back into
the database and syncs the file to disk, inside that commit. In `serve` that connection is
the event loop's: every few hundred callbacks one of them waited tens of milliseconds for the
disk, and so did every callback behind it. `serve` therefore turns that off on its own
connection and lets this service checkpoint from a worker thread on a connection of its own.
A PASSIVE checkpoint never waits for readers or writers, so the loop's commits go on meanwhile.

Under sustained load that is not enough: a commit lands during nearly every checkpoint, so the
WAL is never wholly copied back, SQLite never starts it again from the beginning, and it only
grows (2.5 GB during a one-minute callback flood, with its index mapped into memory). A WAL
past `truncate_above` pages is therefore checkpointed in TRUNCATE mode: writers wait while it
finishes (rarely, and briefly), and the file is emptied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

SQLITE_DEFAULT_AUTOCHECKPOINT = 1_000  # pages
# Beyond this (about 32 MB) the WAL is emptied.
TRUNCATE_ABOVE = 8_000  # pages
DEFAULT_INTERVAL = 1.0  # seconds between checkpoints


class WalCheckpointer:
    """Checkpoints `path` every `interval` seconds off the loop, while `run` runs.

    `conn` is the loop's connection: its automatic checkpoints are off while the service runs
    and back on when it stops (so a later tool on the same connection keeps the WAL bounded).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        *,
        interval: float = DEFAULT_INTERVAL,
        truncate_above: int | None = None,
    ) -> None:
        self._conn = conn
        self._path = path
        self._interval = interval
        self._truncate_above = truncate_above
        self._own: sqlite3.Connection | None = None

    async def run(self, stop: asyncio.Event) -> None:
        self._conn.execute("PRAGMA wal_autocheckpoint = 0")
        try:
            while not stop.is_set():
                await self._checkpoint_in_thread()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._interval)
            await self._checkpoint_in_thread()  # leave a short WAL behind
        finally:
            self._conn.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_DEFAULT_AUTOCHECKPOINT}")
            if self._own is not None:
                self._own.close()
                self._own = None

    async def _checkpoint_in_thread(self) -> None:
        try:
            await asyncio.to_thread(self.checkpoint)
        except sqlite3.Error as exc:
            # Harmless if it happens once (e.g. a long export holds a read); SQLite retries
            # the frames at the next checkpoint.
            log.warning("WAL checkpoint failed: %s", exc)

    def checkpoint(self) -> tuple[int, int]:
        """(pages in the WAL, pages copied into the database); blocking, call off the loop."""
        if self._own is None:
            self._own = sqlite3.connect(
                str(self._path), check_same_thread=False, isolation_level=None
            )
        row = self._own.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if self._truncate_above is not None and int(row[1]) > self._truncate_above:
            log.debug("WAL of %s at %d pages; truncating it", self._path.name, row[1])
            self._own.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return int(row[1]), int(row[2])
