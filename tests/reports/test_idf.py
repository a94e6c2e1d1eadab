"""jieba's idf table, shipped gzip-compressed with `reports`, packed into one array: same
answers as the plain table, a fraction of the memory."""

from __future__ import annotations

import gzip
import statistics
from pathlib import Path

import pytest

from reports.idf import IdfTable, jieba_idf_file


def test_every_word_of_jiebas_table_keeps_its_value() -> None:
    plain: dict[str, float] = {}
    for line in gzip.decompress(jieba_idf_file().read_bytes()).decode("utf-8").splitlines():
        word, _, value = line.partition(" ")
        plain[word] = float(value)
    table = IdfTable.read(jieba_idf_file())

    assert len(table) == len(plain) > 250_000
    assert all(table.get(word) == value for word, value in plain.items())
    assert table.median == statistics.median(plain.values())
    # Common words weigh less than specific ones, which is what keyword scoring relies on.
    assert table.get("学生") < table.get("思维导图")


def test_unknown_words_get_the_median(tmp_path: Path) -> None:
    path = tmp_path / "idf.txt"
    path.write_text("教学 2.0\n课堂 3.0\n朗读 8.0\n批注 9.5\n", encoding="utf-8")
    table = IdfTable.read(path)
    assert table.get("朗读") == 8.0
    assert table.get("从没见过的词") == table.median == (3.0 + 8.0) / 2


def test_malformed_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "idf.txt"
    path.write_text("教学 2.0\n\n没有数值\n坏 数值\n 5.0\n课堂 3.5\n", encoding="utf-8")
    table = IdfTable.read(path)
    assert len(table) == 2
    assert (table.get("教学"), table.get("课堂")) == (2.0, 3.5)


def test_an_empty_table_weighs_every_word_the_same(tmp_path: Path) -> None:
    path = tmp_path / "idf.txt"
    path.write_text("", encoding="utf-8")
    table = IdfTable.read(path)
    assert len(table) == 0
    assert table.get("教学") == table.get("课堂") == table.median


def test_too_many_distinct_values_are_refused() -> None:
    with pytest.raises(ValueError, match="distinct values"):
        IdfTable((f"词{i}", float(i)) for i in range(5_000))


def test_plain_and_compressed_tables_read_the_same(tmp_path: Path) -> None:
    text = "教学 2.0\n课堂 3.0\n朗读 8.0\n"
    (tmp_path / "idf.txt").write_text(text, encoding="utf-8")
    (tmp_path / "idf.txt.gz").write_bytes(gzip.compress(text.encode("utf-8")))
    plain, packed = IdfTable.read(tmp_path / "idf.txt"), IdfTable.read(tmp_path / "idf.txt.gz")
    assert [plain.get(w) for w in ("教学", "朗读", "新词")] == [2.0, 8.0, 3.0]
    assert [packed.get(w) for w in ("教学", "朗读", "新词")] == [2.0, 8.0, 3.0]


def test_the_table_ships_with_jiebas_licence_beside_it() -> None:
    notes = (jieba_idf_file().parent / "README.md").read_text(encoding="utf-8")
    assert "Copyright (c) 2013 Sun Junyi" in notes and "The MIT License" in notes
