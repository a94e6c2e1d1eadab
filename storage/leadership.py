"""Which `serve` instance leads: the one that runs reminders, digests, the long connection.

On PostgreSQL the leader holds a session-level advisory lock on a connection of its own, for
as long as it leads. When its process dies the server drops that connection, the lock is
released, and the next instance that asks gets it: no home-made election, no heartbeat table.
A SQLite file has one `serve` process, which always leads.

The calls block (they talk to the server); the caller runs them in a thread.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from typing import TYPE_CHECKING, Protocol

from storage.dialect import is_postgres_url

if TYPE_CHECKING:
    from storage.postgres import PgConnection

log = logging.getLogger(__name__)

# The advisory lock's key: the same on every instance of one database ("jiaoyan" in ASCII).
LEADER_LOCK_KEY = 0x6A69616F79616E


def new_instance_id(port: int | None = None) -> str:
    """A name for this process in the claims it writes. `serve` passes its port: host and
    port name the same instance after a restart, which then takes back at once what it had
    claimed before a crash (two live instances never share a host and port). Other
    processes get host, pid and a random tail (a pid is reused after a restart)."""
    if port is not None:
        return f"{socket.gethostname()}:{port}"
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class LeaderLock(Protocol):
    def try_acquire(self) -> bool:
        """Take the lead if nobody holds it; True when this process leads now."""
        ...

    def still_held(self) -> bool:
        """Whether the lead taken is still this process's (its connection is alive)."""
        ...

    def release(self) -> None: ...


class SoleLeader:
    """SQLite: one process, always the leader."""

    def try_acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def release(self) -> None:
        return None


class AdvisoryLeaderLock:
    """PostgreSQL: `pg_try_advisory_lock` on a dedicated connection held while leading."""

    def __init__(self, url: str, key: int = LEADER_LOCK_KEY) -> None:
        self._url = url
        self._key = key
        self._conn: PgConnection | None = None

    def try_acquire(self) -> bool:
        from storage.postgres import PgConnection  # psycopg loads only for a URL

        try:
            if self._conn is None:
                self._conn = PgConnection(self._url)
            row = self._conn.execute("SELECT pg_try_advisory_lock(?)", (self._key,)).fetchone()
        except Exception as exc:
            log.warning("could not ask for the leader lock: %s", exc)
            self.release()
            return False
        return bool(row and row[0])

    def still_held(self) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            conn.execute("SELECT 1").fetchone()
        except Exception as exc:
            log.warning("lost the leader lock's connection: %s", exc)
            self.release()
            return False
        return True

    def release(self) -> None:
        """Close the connection, which releases the lock (if held)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing the leader lock's connection failed", exc_info=True)


def leader_lock_for(target: object) -> LeaderLock:
    """The lock `serve` takes for `JIAOYAN_DB`: advisory on PostgreSQL, none on SQLite."""
    if isinstance(target, str) and is_postgres_url(target):
        return AdvisoryLeaderLock(target)
    return SoleLeader()
