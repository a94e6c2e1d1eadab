"""Splitting long messages at WeCom's UTF-8 byte limits."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.text.split import MARKDOWN_MAX_BYTES, TEXT_MAX_BYTES, split_text


def nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def test_limits_are_wecoms() -> None:
    assert (TEXT_MAX_BYTES, MARKDOWN_MAX_BYTES) == (2048, 4096)


def test_short_text_stays_whole() -> None:
    assert split_text("签到成功！\n今天是第 3 次签到。", TEXT_MAX_BYTES) == [
        "签到成功！\n今天是第 3 次签到。"
    ]


def test_empty_text_gives_no_chunks() -> None:
    assert split_text("", TEXT_MAX_BYTES) == []


def test_cjk_text_exactly_at_the_limit_is_one_chunk() -> None:
    text = "教" * 682 + "ab"  # 682 * 3 + 2 = 2048 bytes
    assert nbytes(text) == 2048
    assert split_text(text, TEXT_MAX_BYTES) == [text]


def test_one_byte_over_the_limit_splits_between_characters() -> None:
    text = "教" * 682 + "abc"  # 2049 bytes
    assert split_text(text, TEXT_MAX_BYTES) == ["教" * 682 + "ab", "c"]


def test_cjk_never_cut_inside_a_character() -> None:
    text = "研" * 700  # 2100 bytes; 2048 is not a multiple of 3
    chunks = split_text(text, TEXT_MAX_BYTES)
    assert chunks == ["研" * 682, "研" * 18]
    assert [nbytes(c) for c in chunks] == [2046, 54]


def test_four_byte_emoji_at_the_boundary() -> None:
    text = "😀" * 513
    assert split_text(text, TEXT_MAX_BYTES) == ["😀" * 512, "😀"]


def test_breaks_at_line_boundaries() -> None:
    line = "反" * 333 + "\n"  # 1000 bytes with its newline
    text = line * 5
    chunks = split_text(text, TEXT_MAX_BYTES)
    assert chunks == [line * 2, line * 2, line]


def test_markdown_limit_keeps_more_lines_per_chunk() -> None:
    line = "- 张三 已提交反思\n"
    text = line * 400
    chunks = split_text(text, MARKDOWN_MAX_BYTES)
    assert all(nbytes(c) <= MARKDOWN_MAX_BYTES for c in chunks)
    assert all(c.endswith("\n") for c in chunks)
    assert "".join(chunks) == text


def test_long_line_between_short_lines() -> None:
    text = "标题\n" + "长" * 1000 + "\n结尾"
    chunks = split_text(text, TEXT_MAX_BYTES)
    assert "".join(chunks) == text
    assert chunks[0] == "标题\n"  # the short line is not glued onto the long one
    assert chunks[-1].endswith("结尾")
    assert all(nbytes(c) <= TEXT_MAX_BYTES for c in chunks)


def test_rejects_a_limit_smaller_than_one_character() -> None:
    with pytest.raises(ValueError):
        split_text("abc", 3)


@given(
    text=st.lists(
        st.sampled_from(["a", " ", "\n", "教", "研", "é", "😀", "\r\n", "。"]), max_size=3000
    ).map("".join),
    max_bytes=st.sampled_from([4, 7, 64, 2048, 4096]),
)
def test_no_content_lost_and_every_chunk_fits(text: str, max_bytes: int) -> None:
    chunks = split_text(text, max_bytes)
    assert "".join(chunks) == text
    assert all(0 < nbytes(c) <= max_bytes for c in chunks)
    # A chunk only ends mid-line when even the line alone could not fit.
    for chunk, following in itertools.pairwise(chunks):
        if not chunk.endswith(("\n", "\r")):
            line_start = chunk.splitlines(keepends=True)[-1]
            next_line = following.splitlines(keepends=True)[0]
            assert nbytes(line_start + next_line) > max_bytes
