"""Chinese word segmentation for resource search and digest keywords.

rjieba is jieba's dictionary and algorithm compiled (jieba-rs): a dictionary builds in 0.1 s
and holds about 25 MB, far less than Python jieba (BENCHMARKS.md). A search builds one and
drops it afterwards (`Segmenter.released`), and digests are built in a child process, so
`serve` keeps none.
The teaching terms in `wordlists/teaching_terms.txt` are added so that 小组合作 or
学习任务群 stay whole, and `tag` calls them nouns (digest keywords keep nouns and verbs).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import importlib.resources
import sys
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Protocol

TERM_FREQUENCY = 20_000  # high enough to keep a teaching term whole, like jieba's common words
TERM_TAG = "n"  # what `Segmenter.tag` calls a teaching term


def return_freed_memory() -> None:
    """Hand memory freed by the C allocator back to the system: glibc otherwise keeps it for
    later allocations, so what a dropped dictionary held stays in the process. A no-op where
    there is no glibc (musl, macOS, Windows)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], object] | None:
    """glibc's malloc_trim, looked up once (finding the library runs ldconfig)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    trim: Callable[[int], object] | None = (
        getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    )
    return trim


def word_list(name: str) -> list[str]:
    """The words of `bot/text/wordlists/<name>`: whitespace-separated, `#` starts a comment."""
    text = (importlib.resources.files("bot.text") / "wordlists" / name).read_text(encoding="utf-8")
    words: list[str] = []
    for line in text.splitlines():
        words.extend(line.split("#", 1)[0].split())
    return words


class Dictionary(Protocol):
    """What a segmenter needs of a jieba dictionary (an `rjieba.Jieba`)."""

    def cut(self, text: str, hmm: bool = True) -> list[str]: ...

    def cut_for_search(self, text: str, hmm: bool = True) -> list[str]: ...

    def tag(self, text: str, hmm: bool = True) -> list[tuple[str, str]]: ...

    def add_word(self, word: str, freq: int | None, tag: str | None) -> int: ...


def new_dictionary() -> Dictionary:
    """A fresh jieba dictionary of our own."""
    import rjieba

    _drop_default_dictionary(rjieba)
    dictionary: Dictionary = rjieba.Jieba()
    return dictionary


def _drop_default_dictionary(rjieba: ModuleType) -> None:
    """rjieba builds a whole default dictionary when it is imported and keeps it for the life
    of the process, in `_DEFAULT_JIEBA` and in the module's `cut`, `clear`… bound to it.
    Nothing here uses those, and emptying it (`clear()`) keeps 14 MB of its capacity; without
    a name left pointing at it, it is freed."""
    default = getattr(rjieba, "_DEFAULT_JIEBA", None)
    if default is None:
        return
    for name, value in list(vars(rjieba).items()):
        if value is default or getattr(value, "__self__", None) is default:
            delattr(rjieba, name)
    del default
    return_freed_memory()


class Segmenter:
    """A jieba dictionary plus `extra_words`, made ready on first use."""

    def __init__(
        self,
        extra_words: Iterable[str] = (),
        dictionary: Callable[[], Dictionary] = new_dictionary,
    ) -> None:
        self._extra_words = tuple(extra_words)
        self._terms = frozenset(self._extra_words)
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

    def tag(self, text: str) -> list[tuple[str, str]]:
        """The words of `text` as `cut` gives them, each with jieba's part of speech (n noun,
        v verb, vn verbal noun, m numeral, r pronoun, d adverb, x punctuation…).

        `extra_words` are nouns (`TERM_TAG`): jieba tags a word it was given without a tag
        with "", and keeps its own tag for a word it already had (层次 a numeral, 后进生 a
        person's name), which add_word cannot change.
        """
        return [
            (word, TERM_TAG if word in self._terms else tag)
            for word, tag in self._ready().tag(text)
        ]

    def cut_for_search(self, text: str) -> list[str]:
        """As `cut`, plus the shorter words inside long ones (中华人民共和国 → 中华, 人民…)."""
        return self._ready().cut_for_search(text)

    @contextlib.contextmanager
    def released(self) -> Iterator[Segmenter]:
        """Use the dictionary for a while, then drop it and give its memory back."""
        try:
            yield self
        finally:
            if self._dictionary is not None:
                self._dictionary = None
                return_freed_memory()


def teaching_segmenter() -> Segmenter:
    """A segmenter that knows the teaching terms (its dictionary is built on first use)."""
    return Segmenter(word_list("teaching_terms.txt"))
