"""Searching short Chinese texts (resource titles and tags) by words, not only by substrings.

Chinese has no spaces, so a query like 朗读课例 is two words that need not be adjacent in a
title (《秋天的雨》朗读指导课例). A segmenter (`bot.text.segmentation`, built for each search)
splits both sides; a query word matches a document when it is one of the document's words
or, failing that, appears inside its text (so a word the dictionary keeps inside a longer
one is still found).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.text.segmentation import Segmenter, teaching_segmenter

T = TypeVar("T")

# Words too common to narrow a search; dropped from queries unless nothing else is left.
_STOP_WORDS = frozenset("的了和与及或在是有之把被对等也就都而中")
_WORD_CHAR = re.compile(r"\w", re.UNICODE)
WORD_MATCH = 2.0  # a query word that is one of the document's words
INSIDE_MATCH = 1.0  # a query word found only inside the document's text


class SearchWords:
    """The words a search compares: jieba's search cut of NFKC-folded, lower-cased text."""

    def __init__(self, segmenter: Segmenter) -> None:
        self._segmenter = segmenter

    def words(self, text: str) -> list[str]:
        """Search words of a text, lower-cased, punctuation dropped, in order, no repeats."""
        found = (w.strip() for w in self._segmenter.cut_for_search(_fold(text)))
        return list(dict.fromkeys(w for w in found if w and _WORD_CHAR.search(w)))


@dataclass(frozen=True)
class Hit(Generic[T]):
    item: T
    score: float
    complete: bool  # every query word matched


def query_words(query: str, segmenter: SearchWords) -> list[str]:
    words = segmenter.words(query)
    useful = [w for w in words if w not in _STOP_WORDS]
    return useful or words


def search(
    query: str,
    items: Iterable[T],
    fields: Callable[[T], Sequence[tuple[str, float]]],
    segmenter: SearchWords | None = None,
) -> list[Hit[T]]:
    """Rank `items` for `query`; `fields(item)` gives (text, weight) pairs such as title, tags.

    Items matching every query word come first; if none does, items matching some words are
    returned (marked incomplete). Ties keep the input order (e.g. newest first).
    """
    if segmenter is None:
        # A dictionary for this search only: 0.1 s to build, and `serve` does not keep
        # 25 MB for an occasional search.
        with teaching_segmenter().released() as for_this_search:
            return search(query, items, fields, SearchWords(for_this_search))
    wanted = query_words(query, segmenter)
    if not wanted:
        return []
    hits: list[Hit[T]] = []
    for item in items:
        score = 0.0
        matched: set[str] = set()
        for text, weight in fields(item):
            folded = _fold(text)
            if not folded:
                continue
            own = set(segmenter.words(folded))
            for word in wanted:
                if word in own:
                    score += WORD_MATCH * weight
                    matched.add(word)
                elif word in folded:
                    score += INSIDE_MATCH * weight
                    matched.add(word)
        if matched:
            hits.append(Hit(item=item, score=score, complete=len(matched) == len(wanted)))
    complete = [hit for hit in hits if hit.complete]
    chosen = complete or hits
    return sorted(chosen, key=lambda hit: -hit.score)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()
