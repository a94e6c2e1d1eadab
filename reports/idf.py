"""jieba's idf table (how specific each word is), packed small.

The table ships with this package (`reports/data/idf.txt.gz`, jieba's MIT notice beside it in
`reports/data/README.md`), so jieba itself is not installed.

As a dict the table's 270,000 words take about 57 MB. Here each word is one 64-bit number
in a sorted array: 51 bits of the word's hash and 12 bits naming one of the table's 3,300
distinct values. That is about 2 MB, looked up by binary search in C. The hashes are this
process's own (`hash(str)`), so the table is built where it is used; two of the 270,000
words sharing 51 bits is about a one-in-60,000 chance per process and would only give one
word another's weight.
"""

from __future__ import annotations

import gzip
import importlib.resources
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from pathlib import Path


def jieba_idf_file() -> Path:
    """jieba's idf table as packaged with `reports` (gzip-compressed)."""
    return Path(str(importlib.resources.files("reports") / "data" / "idf.txt.gz"))


SLOT_BITS = 12  # a table's distinct values (3,300 in jieba's) each get a 12-bit slot
HASH_BITS = 63 - SLOT_BITS


class IdfTable:
    """word → idf for the words of one table; `median` for the words it lacks."""

    def __init__(self, pairs: Iterable[tuple[str, float]]) -> None:
        values: dict[float, int] = {}  # value → slot, in order of first appearance
        keys: list[int] = []  # (word's hash << SLOT_BITS) | slot: only numbers, no words kept
        counts: list[int] = []
        for word, value in pairs:
            slot = values.setdefault(value, len(values))
            if slot == len(counts):
                counts.append(0)
            counts[slot] += 1
            keys.append((hash(word) & HASH_MASK) << SLOT_BITS | slot)
        if len(values) > 1 << SLOT_BITS:
            raise ValueError(f"an idf table may have at most {1 << SLOT_BITS} distinct values")
        keys.sort()
        self._keys = array("q", keys)
        # Arrays, not lists: every Python object made while reading is freed by the end, so
        # the memory the reading took goes back (a surviving float would pin its arena).
        self._values = array("d", values)
        self.median = _weighted_median(list(values), counts) if keys else DEFAULT_IDF

    @classmethod
    def read(cls, path: Path) -> IdfTable:
        """Parse `word value` lines (jieba's format), plain or gzip-compressed (`.gz`); blank
        or malformed lines are skipped."""
        with (
            gzip.open(path, "rt", encoding="utf-8")
            if path.suffix == ".gz"
            else path.open(encoding="utf-8")
        ) as lines:
            return cls(pair for pair in map(_parse, lines) if pair is not None)

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, word: str) -> float:
        key = (hash(word) & HASH_MASK) << SLOT_BITS
        index = bisect_left(self._keys, key)
        if index < len(self._keys) and self._keys[index] >> SLOT_BITS == key >> SLOT_BITS:
            return self._values[self._keys[index] & SLOT_MASK]
        return self.median


HASH_MASK = (1 << HASH_BITS) - 1
SLOT_MASK = (1 << SLOT_BITS) - 1
DEFAULT_IDF = 10.0  # an empty table: every word counts the same


def _weighted_median(values: list[float], counts: list[int]) -> float:
    """The median of the table's values, each repeated as often as it occurs."""
    expanded = sorted(zip(values, counts, strict=True))
    total = sum(counts)
    middle = [(total - 1) // 2, total // 2]
    found: list[float] = []
    seen = 0
    for value, count in expanded:
        while middle and middle[0] < seen + count:
            found.append(value)
            middle.pop(0)
        seen += count
    return (found[0] + found[1]) / 2


def _parse(line: str) -> tuple[str, float] | None:
    word, _, value = line.strip().partition(" ")
    try:
        return (word, float(value)) if word else None
    except ValueError:
        return None
