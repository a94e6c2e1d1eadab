"""Top keywords of a period's reflections, and the excerpts a digest quotes.

Keywords: a teaching segmenter (`bot.text.segmentation`: jieba's dictionary plus teaching terms,
so that 小组合作 or 学习任务群 stay whole) splits and tags each reflection; only nouns, verbs,
verbal nouns and idioms are kept (`CONTENT_TAGS`: not 上要, 两节, 一些, 更加), then words of
one character, punctuation and the stop words in `bot/text/wordlists/stopwords.txt` (generic
words of every reflection, and modal verbs such as 我要, 更要, 留足, 补交) are dropped; each
remaining word scores `(reflections mentioning it) × idf` with jieba's general-language idf
table (`reports.idf`; unknown words get its median): a theme many teachers wrote about beats
a word one teacher repeated, and everyday words weigh less than specific ones. When there are at least three reflections,
a word must appear in two of them, so one unusual word cannot top the list.

For speed the text analysed is capped at `MAX_CHARS` characters, shared evenly among the
reflections (each keeps at least its first `MIN_CHARS_EACH` characters).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.text.segmentation import Segmenter, teaching_segmenter, word_list
from reports.idf import IdfTable, jieba_idf_file

MAX_CHARS = 24_000
MIN_CHARS_EACH = 120
# jieba's parts of speech that can name what a reflection is about: nouns (n, nz: 板书, 希沃),
# verbs and verbal nouns (v, vn: 朗读, 评价), adjectival nouns (an), idioms and set phrases
# (i, l), abbreviations (j) and Latin words (eng: PPT). Everything else is a fragment that
# only looks like a word once cut out of its sentence: pronouns (r), numerals and measure
# words (m, q: 两节, 一些), adverbs (d), distinguishing words (b: 上要 from 分工上要更明确),
# conjunctions (c: 还要), time and place words (t, f, s), names (nr, ns: 王老师), particles.
CONTENT_TAGS = frozenset({"n", "nz", "v", "vn", "an", "i", "l", "j", "eng"})
_WORDY = re.compile(r"[\u4e00-\u9fff]|[A-Za-z]{2,}")
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;…])|\n")


@dataclass(frozen=True)
class Keyword:
    word: str
    reflections: int  # in how many reflections it appears
    score: float


def load_stopwords() -> frozenset[str]:
    return frozenset(word_list("stopwords.txt"))


class KeywordExtractor:
    """Segmentation plus scoring. `load` reads the idf table (about 0.5 s; built once per
    process by `default_extractor`)."""

    def __init__(self, segmenter: Segmenter, idf: IdfTable, stopwords: frozenset[str]) -> None:
        self._segmenter = segmenter
        self._idf = idf
        self._stopwords = stopwords

    @classmethod
    def load(cls) -> KeywordExtractor:
        """A teaching segmenter, jieba's idf table and our stop words (`default_extractor`
        keeps one for the process: digests are built in a short-lived child process)."""
        return cls(teaching_segmenter(), IdfTable.read(jieba_idf_file()), load_stopwords())

    def words(self, text: str) -> list[str]:
        """The content words of one text, in order: see `CONTENT_TAGS` and the stop words."""
        return [
            w
            for w, tag in self._segmenter.tag(text)  # spaces are tagged x, never content
            if tag in CONTENT_TAGS and len(w) >= 2 and w not in self._stopwords and _WORDY.search(w)
        ]

    def top(self, texts: Sequence[str], n: int = 8) -> list[Keyword]:
        """The `n` best keywords of these texts, best first (ties by word)."""
        texts = [t for t in texts if t.strip()]
        if not texts:
            return []
        each = max(MIN_CHARS_EACH, MAX_CHARS // len(texts))
        docs: Counter[str] = Counter()
        budget = MAX_CHARS
        for text in texts:
            if budget <= 0:
                break
            sample = text[: min(each, budget)]
            budget -= len(sample)
            words = self.words(sample)
            docs.update(set(words))
        least = 2 if len(texts) >= 3 else 1
        scored = [
            Keyword(word, docs[word], docs[word] * self._idf.get(word))
            for word in docs
            if docs[word] >= least
        ]
        scored.sort(key=lambda k: (-k.score, k.word))
        return scored[:n]


@functools.cache
def default_extractor() -> KeywordExtractor:
    """The process-wide extractor, loaded on first use (the dictionary is read-only)."""
    return KeywordExtractor.load()


def first_sentences(text: str, limit: int = 80) -> str:
    """Whole leading sentences up to `limit` characters; a longer first one is cut with …"""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    taken = ""
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        sentence = " ".join(sentence.split())
        if not sentence:
            continue
        if len(taken) + len(sentence) > limit:
            break
        taken += sentence
    if taken:
        return taken
    return flat[: limit - 1] + "…"


@dataclass(frozen=True)
class ExcerptSource:
    text: str
    school: str
    author: str
    order: float  # tie-breaker: earlier submissions first


def pick_excerpts(
    candidates: Iterable[ExcerptSource], count: int = 2, limit: int = 80
) -> list[tuple[ExcerptSource, str]]:
    """The longest reflections, each from a different school while schools remain.

    Rule: sort by length (longest first, earlier submission first on ties); take the first;
    then the longest from a school not yet quoted; when every school has been quoted, the
    longest not yet taken. Each is quoted by `first_sentences(text, limit)`.
    """
    ranked = sorted(candidates, key=lambda c: (-len(c.text.strip()), c.order))
    chosen: list[ExcerptSource] = []
    schools: set[str] = set()
    for candidate in ranked:
        if len(chosen) == count:
            break
        if candidate.school not in schools:
            chosen.append(candidate)
            schools.add(candidate.school)
    for candidate in ranked:
        if len(chosen) == count:
            break
        if candidate not in chosen:
            chosen.append(candidate)
    chosen.sort(key=lambda c: (-len(c.text.strip()), c.order))
    return [(c, first_sentences(c.text, limit)) for c in chosen if c.text.strip()]
