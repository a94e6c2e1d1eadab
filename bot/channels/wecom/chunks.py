"""Turning one outgoing text into WeCom-sized messages, and remembering partial deliveries.

A long reply becomes several messages. If the third of five fails and the outbox retries
the whole `Outgoing`, the first two must not be sent again: `ChunkProgress` remembers how
many chunks of each message already went out (in memory, bounded).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from bot.core.messages import Outgoing
from bot.text.split import split_text


def message_chunks(text: str, max_bytes: int) -> list[str]:
    """Chunks to send: split at the byte limit, trailing newlines trimmed, blank ones dropped.

    WeCom rejects empty content and a trailing newline only adds a blank line.
    """
    chunks = (chunk.rstrip("\r\n") for chunk in split_text(text, max_bytes))
    return [chunk for chunk in chunks if chunk.strip()]


def progress_key(message: Outgoing) -> str:
    """Identity of one outgoing message across outbox retries."""
    if message.dedup_key:
        return f"dedup:{message.dedup_key}"
    raw = "\x1f".join(
        [message.channel, message.target_kind, message.target, str(message.markdown), message.text]
    )
    return "hash:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()


class ChunkProgress:
    """How many chunks of each message were delivered; forgotten once all are."""

    def __init__(self, max_entries: int = 1000) -> None:
        self._done: OrderedDict[str, int] = OrderedDict()
        self._max_entries = max_entries

    def delivered(self, key: str) -> int:
        return self._done.get(key, 0)

    def record(self, key: str, count: int) -> None:
        self._done[key] = count
        self._done.move_to_end(key)
        while len(self._done) > self._max_entries:
            self._done.popitem(last=False)

    def finish(self, key: str) -> None:
        self._done.pop(key, None)
