"""The shared segmenter: jieba's dictionary plus the teaching terms, for search and keywords."""

from __future__ import annotations

import subprocess
import sys

import rjieba

from bot.segmentation import Segmenter, shared_segmenter, word_list
from bot.text_search import SearchWords, search


def test_teaching_terms_stay_whole() -> None:
    plain = Segmenter(dictionary=rjieba.Jieba)
    ours = shared_segmenter()
    text = "这节课我们尝试了学习任务群的设计"
    assert "学习任务群" not in plain.cut(text)  # jieba's own dictionary splits it
    assert "学习任务群" in ours.cut(text)
    assert "学习任务群" in word_list("teaching_terms.txt")


def test_cut_keeps_every_character_in_order() -> None:
    text = "《秋天的雨》朗读指导课例，三年级 Unit 2！"
    assert "".join(shared_segmenter().cut(text)) == text


def test_search_cut_adds_the_words_inside_long_ones() -> None:
    words = SearchWords(shared_segmenter()).words("中华人民共和国ＡＢＣ")
    assert {"中华", "人民", "共和国", "中华人民共和国", "abc"} <= set(words)  # NFKC, lower-cased


def test_search_finds_words_that_are_not_adjacent() -> None:
    titles = ["《秋天的雨》朗读指导课例", "《秋天的雨》教学设计", "课例研究的方法"]
    hits = search("课例朗读", titles, lambda title: [(title, 1.0)])
    assert [hit.item for hit in hits] == ["《秋天的雨》朗读指导课例"]


def test_importing_the_bot_builds_no_dictionary() -> None:
    # rjieba builds its dictionary (about 25 MB) when imported; a process that never cuts
    # a text, like the intake process, must not pay for it.
    code = "import sys, bot.text_search, reports.keywords, handlers; print('rjieba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
