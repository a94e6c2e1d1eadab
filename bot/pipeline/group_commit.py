"""Group commit: what arrives in the same event-loop turn is written in one commit.

A commit costs far more than an insert (~150-200 µs against ~15 µs here), so the callbacks
that reach the inbox in one turn share one. Each caller gets its own result only after that
commit, so an acknowledged message is always durable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Collects items submitted during one loop turn and hands them to `flush` together;
    `flush` returns one result per item, or raises and every caller gets the error."""

    def __init__(self, flush: Callable[[list[Item]], list[Result]]) -> None:
        self._flush = flush
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._scheduled: asyncio.Handle | None = None

    @property
    def waiting(self) -> int:
        """Items submitted and not yet flushed."""
        return len(self._waiting)

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Result] = loop.create_future()
        self._waiting.append((item, done))
        if self._scheduled is None:
            # Runs after every caller already started in this loop turn got here.
            self._scheduled = loop.call_soon(self._flush_waiting)
        return await done

    def _flush_waiting(self) -> None:
        self._scheduled = None
        batch, self._waiting = self._waiting, []
        try:
            results = self._flush([item for item, _ in batch])
        except Exception as exc:
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for (_, done), result in zip(batch, results, strict=True):
            if not done.done():  # the caller may have been cancelled meanwhile
                done.set_result(result)
