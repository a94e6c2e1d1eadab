"""The teaching segmenter: jieba's dictionary plus the teaching terms, for search and keywords."""

from __future__ import annotations

import subprocess
import sys
import weakref

import rjieba

from bot.text.search import SearchWords, search
from bot.text.segmentation import Segmenter, teaching_segmenter, word_list


def test_teaching_terms_stay_whole() -> None:
    plain = Segmenter(dictionary=rjieba.Jieba)
    ours = teaching_segmenter()
    text = "这节课我们尝试了学习任务群的设计"
    assert "学习任务群" not in plain.cut(text)  # jieba's own dictionary splits it
    assert "学习任务群" in ours.cut(text)
    assert "学习任务群" in word_list("teaching_terms.txt")


def test_teaching_terms_are_tagged_nouns_whatever_jieba_calls_them() -> None:
    # jieba tags 后进生 as a person's name and 层次 as a numeral; keywords keep only nouns
    # and verbs, so the teaching terms must come out as nouns.
    plain = Segmenter(dictionary=rjieba.Jieba)
    text = "关注后进生，提问要有层次"
    assert ("后进生", "nr") in plain.tag(text) and ("层次", "m") in plain.tag(text)
    tags = dict(teaching_segmenter().tag(text))
    assert tags["后进生"] == tags["层次"] == "n"
    assert tags["关注"] == "v"  # other words keep jieba's tag


def test_cut_keeps_every_character_in_order() -> None:
    text = "《秋天的雨》朗读指导课例，三年级 Unit 2！"
    assert "".join(teaching_segmenter().cut(text)) == text


def test_search_cut_adds_the_words_inside_long_ones() -> None:
    words = SearchWords(teaching_segmenter()).words("中华人民共和国ＡＢＣ")
    assert {"中华", "人民", "共和国", "中华人民共和国", "abc"} <= set(words)  # NFKC, lower-cased


def test_search_finds_words_that_are_not_adjacent() -> None:
    titles = ["《秋天的雨》朗读指导课例", "《秋天的雨》教学设计", "课例研究的方法"]
    hits = search("课例朗读", titles, lambda title: [(title, 1.0)])
    assert [hit.item for hit in hits] == ["《秋天的雨》朗读指导课例"]


def test_importing_the_bot_builds_no_dictionary() -> None:
    # rjieba builds its dictionary (about 25 MB) when imported; a process that never cuts
    # a text (`serve` until its first search) must not pay for it.
    code = "import sys, bot.text.search, reports.keywords, handlers; print('rjieba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class Recorded:
    """A real dictionary behind an object tests can hold a weak reference to."""

    def __init__(self, made: list[weakref.ref[Recorded]]) -> None:
        self._inner = rjieba.Jieba()
        made.append(weakref.ref(self))

    def cut(self, text: str, hmm: bool = True) -> list[str]:
        return self._inner.cut(text, hmm)

    def cut_for_search(self, text: str, hmm: bool = True) -> list[str]:
        return self._inner.cut_for_search(text, hmm)

    def tag(self, text: str, hmm: bool = True) -> list[tuple[str, str]]:
        return self._inner.tag(text, hmm)

    def add_word(self, word: str, freq: int | None, tag: str | None) -> int:
        return self._inner.add_word(word, freq, tag)


def test_a_released_segmenter_drops_its_dictionary_and_builds_one_when_used_again() -> None:
    made: list[weakref.ref[Recorded]] = []
    segmenter = Segmenter(["学习任务群"], dictionary=lambda: Recorded(made))
    with segmenter.released():
        assert "学习任务群" in segmenter.cut("设计学习任务群")
    assert len(made) == 1 and made[0]() is None  # dropped, not kept for the process
    assert "学习任务群" in segmenter.cut("设计学习任务群")  # the terms come back with it
    assert len(made) == 2


def test_a_search_leaves_no_dictionary_in_memory() -> None:
    # `serve` searches now and then; a dictionary is about 25 MB. Measured in a fresh
    # interpreter: what a first search leaves (rjieba's code; its default dictionary, built on
    # import, is dropped) must stay well under one dictionary, and later searches add nothing.
    code = (
        "import bot.text.search as ts\n"
        "def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmRSS'): return int(line.split()[1]) / 1024\n"
        "titles = ['《秋天的雨》朗读指导课例', '学习任务群设计'] * 50\n"
        "def find(): return ts.search('课例朗读', titles, lambda t: [(t, 1.0)])\n"
        "before = rss(); assert find(); first = rss()\n"
        "for _ in range(5): find()\n"
        "print(round(first - before, 1), round(rss() - first, 1))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, later = (float(x) for x in out.stdout.split())
    assert first < 12, out.stdout  # a kept default would make this 18-22, a kept ours 33
    assert later < 3, out.stdout
