"""Reading a 名册 file (CSV or XLSX) into rows keyed by canonical column names.

Tolerant of what offices actually send: full-width or decorated headers, synonyms (协作体 for
联盟, 账号 for 企业微信账号), UTF-8 with or without BOM, GB18030, UTF-16, several delimiters, and
an Excel workbook saved under a .csv name.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

NAME = "姓名"
SCHOOL = "学校"
ALLIANCE = "联盟"
ACCOUNT = "企业微信账号"
ROLE = "角色"
PARENT = "上级联盟"
TEAM = "团队"  # optional: the 校级联盟 team(s) a teacher belongs to (a name shared across schools
# is one team spanning them: 校际联盟)
TIER = "梯队"  # optional: 青年 / 成长 / 名优
REQUIRED_COLUMNS = (NAME, SCHOOL, ALLIANCE)
EXPECTED_HEADER = "姓名,学校,联盟,企业微信账号,角色（可选列：上级联盟、团队、梯队）"
_HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    NAME: ("姓名", "名字", "教师姓名", "name"),
    SCHOOL: ("学校", "学校名称", "所在学校", "school"),
    ALLIANCE: ("联盟", "协作体", "联盟名称", "协作体名称", "所属联盟", "所属协作体", "alliance"),
    ACCOUNT: (
        "企业微信账号",
        "企业微信帐号",
        "企微账号",
        "账号",
        "帐号",
        "userid",
        "user_id",
        "企业微信userid",
    ),
    ROLE: ("角色", "身份", "role"),
    PARENT: ("上级联盟", "上级协作体", "上级", "parent"),
    TEAM: ("团队", "所属团队", "校级联盟", "校级联盟团队", "团队名称", "team"),
    TIER: ("梯队", "教师梯队", "所属梯队", "梯队建设", "tier"),
}
_HEADER_LOOKUP = {word: key for key, words in _HEADER_SYNONYMS.items() for word in words}


class RosterFileError(Exception):
    """The file cannot be read as a roster; the message is Chinese, for the administrator."""


# reading files ---------------------------------------------------------------


def read_roster_file(path: Path) -> list[dict[str, str]]:
    """Rows keyed by canonical column (姓名, 学校, 联盟, …); item i is spreadsheet row i + 2.

    Blank rows inside the table are kept as empty rows so that row numbers match Excel.
    """
    first_error: RosterFileError | None = None
    for table in _read_tables(Path(path)):
        if not table:
            continue
        try:
            columns = _map_header(table[0])
        except RosterFileError as error:
            first_error = first_error or error
            continue
        return _keyed_rows(table[1:], columns)
    raise first_error or RosterFileError("文件是空的，没有找到表头。")


def _read_tables(path: Path) -> list[list[list[str]]]:
    """Every sheet (one for CSV) as rows of cell texts."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError as error:
        raise RosterFileError(f"找不到文件：{path}") from error
    except OSError as error:
        raise RosterFileError(f"无法读取文件 {path}：{error.strerror}") from error
    suffix = path.suffix.lower()
    if magic == b"PK\x03\x04" and suffix in {".xlsx", ".xlsm", ".xls", ".csv", ".txt"}:
        return _read_xlsx(path)
    if suffix in {".csv", ".txt"}:
        return [_read_csv(path)]
    if suffix == ".xls":
        raise RosterFileError(
            "这是旧版 Excel（.xls）文件，请在 Excel 中另存为 .xlsx 或 CSV 后再导入。"
        )
    if suffix in {".xlsx", ".xlsm"}:
        raise RosterFileError(f"{path.name} 不是有效的 Excel 文件，可能已损坏。")
    raise RosterFileError(
        f"无法识别的文件格式「{suffix or path.name}」，请使用 .xlsx 或 .csv 文件。"
    )


def _read_xlsx(path: Path) -> list[list[list[str]]]:
    # A handle, not the path: openpyxl rejects a workbook whose name ends in .xls or .csv.
    with path.open("rb") as handle:
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
            raise RosterFileError(f"无法打开 Excel 文件 {path.name}，文件可能已损坏。") from error
        try:
            return [_sheet_rows(sheet) for sheet in workbook.worksheets]
        finally:
            workbook.close()


def _sheet_rows(sheet: Any) -> list[list[str]]:
    sheet.reset_dimensions()  # some writers store wrong dimensions; read every row
    return [[_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]


def _read_csv(path: Path) -> list[list[str]]:
    text = _decode(path.read_bytes())
    delimiter = _delimiter(text.split("\n", 1)[0])
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise RosterFileError(f"CSV 文件格式有误：{error}") from error


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GB18030, which Excel on Chinese Windows writes."""
    encodings = ["utf-8-sig", "gb18030"]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterFileError("无法识别 CSV 文件的编码，请在 Excel 中另存为“CSV UTF-8”后再导入。")


def _delimiter(header_line: str) -> str:
    counts = {mark: header_line.count(mark) for mark in (",", "\t", ";", "，")}
    best = max(counts, key=lambda mark: counts[mark])
    return best if counts[best] else ","


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an account typed as a number, e.g. a phone number
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _header_key(text: str) -> str:
    """Fold a header cell: full-width to half-width, no spaces, BOM, stars or (remarks)."""
    folded = unicodedata.normalize("NFKC", text).replace("\ufeff", "")
    folded = re.sub(r"[(\[【].*?[)\]】]", "", folded)
    return re.sub(r"[\s*:]", "", folded).lower()


def _map_header(cells: Sequence[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        key = _HEADER_LOOKUP.get(_header_key(cell))
        if key is None:
            continue
        if key in columns:
            first, second = get_column_letter(columns[key] + 1), get_column_letter(index + 1)
            raise RosterFileError(f"表头中「{key}」列出现了两次（第 {first} 列和第 {second} 列）。")
        columns[key] = index
    missing = "、".join(f"「{key}」" for key in REQUIRED_COLUMNS if key not in columns)
    if missing:
        raise RosterFileError(f"表头缺少{missing}列。第 1 行应为：{EXPECTED_HEADER}")
    return columns


def _keyed_rows(body: list[list[str]], columns: dict[str, int]) -> list[dict[str, str]]:
    rows = [
        {key: row[index] if index < len(row) else "" for key, index in columns.items()}
        for row in body
    ]
    while rows and not any(value.strip() for value in rows[-1].values()):
        rows.pop()
    return rows
