"""A once-a-minute summary of message traffic in the service log.

An INFO line per callback costs a noticeable share of `serve`'s CPU under a sign-in burst
(BENCHMARKS.md), so every message is logged at DEBUG with its msgid, and INFO gets one line
per busy minute with the counts an operator watches (accepted, duplicates, processed, failed).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

DEFAULT_WINDOW = 60.0  # seconds


class TrafficLog:
    """Counts events and writes them as one INFO line `window` seconds after the first."""

    def __init__(self, logger: logging.Logger, *, window: float = DEFAULT_WINDOW) -> None:
        self._logger = logger
        self._window = window
        self._counts: Counter[str] = Counter()
        self._timer: asyncio.TimerHandle | None = None

    def count(self, event: str, how_many: int = 1) -> None:
        self._counts[event] += how_many
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._window, self.flush)

    def flush(self) -> None:
        """Write what was counted since the last line (also called at shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._counts:
            return
        summary = ", ".join(f"{count} {event}" for event, count in sorted(self._counts.items()))
        self._logger.info("messages in the last %.0f s: %s", self._window, summary)
        self._counts.clear()
