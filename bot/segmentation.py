"""Chinese word segmentation, one dictionary per process, shared by search and digests.

rjieba is jieba's dictionary and algorithm compiled (jieba-rs). Measured here, it loads in
0.1 s and holds about 25 MB; each Python jieba tokenizer took 1-2 s and about 60 MB, and
the worker process used to hold two of them after its first search and first digest.
The teaching terms in `wordlists/teaching_terms.txt` are added so that 小组合作 or
学习任务群 stay whole.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable, Iterable
from typing import Protocol, cast

TERM_FREQUENCY = 20_000  # high enough to keep a teaching term whole, like jieba's common words


def word_list(name: str) -> list[str]:
    """The words of `bot/wordlists/<name>`: whitespace-separated, `#` starts a comment."""
    text = (importlib.resources.files("bot") / "wordlists" / name).read_text(encoding="utf-8")
    words: list[str] = []
    for line in text.splitlines():
        words.extend(line.split("#", 1)[0].split())
    return words


class Dictionary(Protocol):
    """What a segmenter needs of a jieba dictionary (an `rjieba.Jieba`, or the module)."""

    def cut(self, text: str, hmm: bool = True) -> list[str]: ...

    def cut_for_search(self, text: str, hmm: bool = True) -> list[str]: ...

    def add_word(self, word: str, freq: int | None, tag: str | None) -> int: ...


def rjieba_default() -> Dictionary:
    """rjieba's own dictionary. The package builds it when imported (0.1 s, about 25 MB),
    so it is imported only when a text is first cut, and no second one is built."""
    import rjieba

    return cast(Dictionary, rjieba)


class Segmenter:
    """A jieba dictionary plus `extra_words`, made ready on first use."""

    def __init__(
        self,
        extra_words: Iterable[str] = (),
        dictionary: Callable[[], Dictionary] = rjieba_default,
    ) -> None:
        self._extra_words = tuple(extra_words)
        self._make_dictionary = dictionary
        self._dictionary: Dictionary | None = None

    def _ready(self) -> Dictionary:
        if self._dictionary is None:
            dictionary = self._make_dictionary()
            for word in self._extra_words:
                dictionary.add_word(word, TERM_FREQUENCY, None)
            self._dictionary = dictionary
        return self._dictionary

    def cut(self, text: str) -> list[str]:
        """The words of `text` in order, punctuation and spaces included, as jieba's `lcut`."""
        return self._ready().cut(text)

    def cut_for_search(self, text: str) -> list[str]:
        """As `cut`, plus the shorter words inside long ones (中华人民共和国 → 中华, 人民…)."""
        return self._ready().cut_for_search(text)


@functools.cache
def shared_segmenter() -> Segmenter:
    """The process's segmenter, on rjieba's own dictionary: one serves every caller."""
    return Segmenter(word_list("teaching_terms.txt"))
