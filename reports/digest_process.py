"""Build a digest in a child process, so the long-running worker does not keep what it loads.

A digest loads the word dictionary (about 25 MB), the idf table (8 MB), matplotlib (about
20 MB) and, for a big alliance, tens of MB of rows. Python hands little of that back to the
system, so after its first weekly digest the worker stayed 50-100 MB larger for good. The
child reads the same database, builds one digest with `build_digest` and exits.

The builder is async: the worker's loop keeps delivering replies while the child works.
Each digest costs the child's start-up (about half a second) on top of building it.
"""

from __future__ import annotations

import asyncio
import pickle
import sys
from datetime import datetime
from pathlib import Path

from bot.parsing.dates import Period
from reports.model import Digest
from storage import Storage
from storage.models import Alliance

TIMEOUT_SECONDS = 300.0  # a district-term digest takes about 2 s here; this only stops a hang


class DigestProcessError(RuntimeError):
    """The child process failed; its last lines of stderr are in the message."""


class DigestInChildProcess:
    """A `DigestBuilder` that builds each digest in `python -m reports.digest_process`."""

    def __init__(
        self, db: Path, *, python: str = sys.executable, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self._db = db
        self._python = python
        self._timeout = timeout

    async def __call__(
        self, storage: Storage, alliance: Alliance, period: Period, now: datetime
    ) -> Digest:
        # `storage` is the caller's; the child opens the same file itself.
        request = pickle.dumps((str(self._db), alliance, period, now))
        child = await asyncio.create_subprocess_exec(
            self._python,
            "-m",
            "reports.digest_process",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(child.communicate(request), self._timeout)
        except TimeoutError as error:
            raise DigestProcessError(
                f"digest process timed out after {self._timeout:g} s"
            ) from error
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        if child.returncode != 0:
            tail = err.decode("utf-8", "replace").strip().splitlines()[-5:]
            raise DigestProcessError(
                f"digest process exited with {child.returncode}: " + " | ".join(tail)
            )
        digest = pickle.loads(out)  # from our own child, over a pipe nobody else holds
        if not isinstance(digest, Digest):
            raise DigestProcessError(f"digest process returned {type(digest).__name__}")
        return digest


def main() -> int:
    """Child side: read the request on stdin, write the pickled digest on stdout."""
    from reports.digest import build_digest

    db, alliance, period, now = pickle.load(sys.stdin.buffer)  # from our parent's pipe
    storage = Storage.open(Path(db))
    try:
        digest = build_digest(storage, alliance, period, now)
    finally:
        storage.close()
    sys.stdout.buffer.write(pickle.dumps(digest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
