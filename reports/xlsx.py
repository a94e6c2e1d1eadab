"""A small, fast, streaming .xlsx writer for the archive export.

Why not openpyxl for writing: its write-only mode costs about ten times as much per cell
(BENCHMARKS.md), seconds for a district's archive. The export only needs plain tables: typed
cells, a bold header, frozen header row, column widths, an auto-filter, number formats and a
print set-up (landscape, one page wide, the header row repeated on every page), and writing
that SpreadsheetML directly is cheap. openpyxl stays the reader (roster import;
tests read every exported workbook back with it).

Rows are written to a temporary file as they come, so memory stays flat; strings are
stored inline (`t="inlineStr"`), which Excel, WPS, LibreOffice and openpyxl all read.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import IO
from xml.sax.saxutils import escape, quoteattr

# Characters XML 1.0 cannot carry (openpyxl's ILLEGAL_CHARACTERS_RE is the same set).
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
MAX_CELL_CHARS = 32_767
MAX_ROWS = 1_048_576
_EPOCH = datetime(1899, 12, 30)
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


class Kind(Enum):
    """How a column's cells are stored and shown. The value is the style index."""

    TEXT = 0
    DATETIME = 2
    DATE = 3
    PERCENT = 4
    NUMBER = 5  # General: 1.5 and 2, never 2.00
    INTEGER = 6


_HEADER_STYLE = 1
_STYLES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="{_NS}">
<numFmts count="3"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/><numFmt numFmtId="165" formatCode="yyyy-mm-dd"/><numFmt numFmtId="166" formatCode="0.0%"/></numFmts>
<fonts count="2"><font><sz val="11"/><name val="等线"/><family val="2"/><charset val="134"/><scheme val="minor"/></font><font><b/><sz val="11"/><name val="等线"/><family val="2"/><charset val="134"/><scheme val="minor"/></font></fonts>
<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill><fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/></patternFill></fill></fills>
<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border><border><left/><right/><top/><bottom style="thin"><color rgb="FF9BC2E6"/></bottom><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="7">
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1" applyAlignment="1"><alignment vertical="center"/></xf>
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="1" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
</cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind = Kind.TEXT
    width: float = 12


Cell = str | int | float | datetime | date | None


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def excel_serial(value: datetime | date) -> float:
    """Days since Excel's epoch; datetimes must already be naive local time."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ValueError("write naive local datetimes to Excel")
        delta = value - _EPOCH
        return delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400
    return float((value - _EPOCH.date()).days)


def clean_text(value: str) -> str:
    """Drop characters XML forbids and cut to Excel's cell limit."""
    text = _ILLEGAL.sub("", value)
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + "…"
    return text


def sheet_title(name: str) -> str:
    return _SHEET_NAME_BAD.sub("_", name)[:31] or "Sheet"


class Sheet:
    """One sheet being written; rows go to its own spool file until the book is closed."""

    def __init__(self, title: str, columns: Sequence[Column], spool: IO[str]) -> None:
        self.title = title
        self.columns = list(columns)
        self.spool = spool
        self.rows = 0
        self._letters = [column_letter(i) for i in range(len(self.columns))]
        self._styles = [c.kind.value for c in self.columns]

    def header(self) -> None:
        cells = "".join(
            f'<c r="{letter}1" s="{_HEADER_STYLE}" t="inlineStr"><is><t>{escape(c.header)}</t></is></c>'
            for letter, c in zip(self._letters, self.columns, strict=True)
        )
        self.spool.write(f'<row r="1">{cells}</row>')
        self.rows = 1

    def append(self, values: Sequence[Cell]) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"{self.title}: {len(values)} values for {len(self.columns)} columns")
        if self.rows >= MAX_ROWS:
            raise ValueError(f"{self.title}: more rows than Excel allows")
        self.rows += 1
        number = self.rows
        parts = []
        for letter, style, value in zip(self._letters, self._styles, values, strict=True):
            if value is None or value == "":
                continue
            ref = f"{letter}{number}"
            if isinstance(value, str):
                parts.append(
                    f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">'
                    f"{escape(clean_text(value))}</t></is></c>"
                )
            elif isinstance(value, datetime | date):
                parts.append(f'<c r="{ref}" s="{style}"><v>{excel_serial(value)!r}</v></c>')
            elif isinstance(value, bool):
                parts.append(f'<c r="{ref}" t="b"><v>{int(value)}</v></c>')
            else:
                parts.append(f'<c r="{ref}" s="{style}"><v>{value!r}</v></c>')
        self.spool.write(f'<row r="{number}">{"".join(parts)}</row>')

    def head_xml(self) -> str:
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{c.width}" customWidth="1"/>'
            for i, c in enumerate(self.columns, start=1)
        )
        last = f"{self._letters[-1]}{max(self.rows, 1)}"
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<worksheet xmlns="{_NS}" xmlns:r="{_REL_NS}">'
            '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
            f'<dimension ref="A1:{last}"/>'
            '<sheetViews><sheetView workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
            "</sheetView></sheetViews>"
            '<sheetFormatPr defaultRowHeight="15"/>'
            f"<cols>{cols}</cols><sheetData>"
        )

    @property
    def filter_ref(self) -> str:
        return f"A1:{self._letters[-1]}{max(self.rows, 1)}"

    def tail_xml(self) -> str:
        # Printed landscape on A4 (paperSize 9), as wide as one page and as long as it takes.
        return (
            f'</sheetData><autoFilter ref="{self.filter_ref}"/>'
            '<printOptions gridLines="1"/>'
            '<pageMargins left="0.4" right="0.4" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>'
            '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
            "<headerFooter><oddFooter>&amp;C&amp;A 第 &amp;P 页，共 &amp;N 页</oddFooter></headerFooter>"
            "</worksheet>"
        )


class XlsxWriter:
    """Write sheets row by row into an .xlsx file (in the order they were started).

    Usage: `with XlsxWriter(path) as book: book.sheet(title, columns); book.append(row)…`.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._sheets: list[tuple[Sheet, Path]] = []
        self._current: Sheet | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="xlsx-")

    def __enter__(self) -> XlsxWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self.close()
        finally:
            self._finish_all()
            self._tmp.cleanup()

    def sheet(self, title: str, columns: Sequence[Column]) -> Sheet:
        """Start a new sheet and write its header row; `append` now writes to it.

        Earlier sheets stay open: rows may still be appended to them through the returned
        `Sheet`, so one pass over the data can fill several sheets (the export writes
        activities, sign-ins, reflections and leaves a batch of activities at a time).
        """
        if not columns:
            raise ValueError("a sheet needs columns")
        spool_path = Path(self._tmp.name) / f"sheet{len(self._sheets) + 1}.rows"
        spool = spool_path.open("w", encoding="utf-8")
        sheet = Sheet(sheet_title(title), columns, spool)
        sheet.header()
        self._sheets.append((sheet, spool_path))
        self._current = sheet
        return sheet

    def append(self, values: Sequence[Cell]) -> None:
        if self._current is None:
            raise ValueError("call sheet() before append()")
        self._current.append(values)

    def extend(self, rows: Iterable[Sequence[Cell]]) -> None:
        for row in rows:
            self.append(row)

    def _finish_all(self) -> None:
        for sheet, _ in self._sheets:
            if not sheet.spool.closed:
                sheet.spool.close()
        self._current = None

    def close(self) -> None:
        self._finish_all()
        if not self._sheets:
            raise ValueError("a workbook needs at least one sheet")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        partial = self._path.with_name(self._path.name + ".part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as book:
            book.writestr("[Content_Types].xml", self._content_types())
            book.writestr("_rels/.rels", _ROOT_RELS)
            book.writestr("xl/workbook.xml", self._workbook())
            book.writestr("xl/_rels/workbook.xml.rels", self._workbook_rels())
            book.writestr("xl/styles.xml", _STYLES)
            for number, (sheet, spool_path) in enumerate(self._sheets, start=1):
                with book.open(f"xl/worksheets/sheet{number}.xml", "w", force_zip64=True) as out:
                    out.write(sheet.head_xml().encode("utf-8"))
                    with spool_path.open("rb") as rows:
                        while chunk := rows.read(1 << 20):
                            out.write(chunk)
                    out.write(sheet.tail_xml().encode("utf-8"))
        partial.replace(self._path)

    def _content_types(self) -> str:
        sheets = "".join(
            f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for n in range(1, len(self._sheets) + 1)
        )
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{sheets}</Types>"
        )

    def _workbook(self) -> str:
        sheets = "".join(
            f'<sheet name={quoteattr(sheet.title)} sheetId="{n}" r:id="rId{n}"/>'
            for n, (sheet, _) in enumerate(self._sheets, start=1)
        )
        # Per sheet: the filter's range, and the header row printed atop every page.
        names = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{n}" hidden="1">'
            f"{escape(_quoted(sheet.title))}!{_absolute(sheet.filter_ref)}</definedName>"
            f'<definedName name="_xlnm.Print_Titles" localSheetId="{n}">'
            f"{escape(_quoted(sheet.title))}!$1:$1</definedName>"
            for n, (sheet, _) in enumerate(self._sheets)
        )
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<workbook xmlns="{_NS}" xmlns:r="{_REL_NS}">'
            '<bookViews><workbookView activeTab="0"/></bookViews>'
            f"<sheets>{sheets}</sheets><definedNames>{names}</definedNames></workbook>"
        )

    def _workbook_rels(self) -> str:
        rels = "".join(
            f'<Relationship Id="rId{n}" Type="{_REL_NS}/worksheet" '
            f'Target="worksheets/sheet{n}.xml"/>'
            for n in range(1, len(self._sheets) + 1)
        )
        styles = len(self._sheets) + 1
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'{rels}<Relationship Id="rId{styles}" Type="{_REL_NS}/styles" '
            'Target="styles.xml"/></Relationships>'
        )


_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)


def _quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _absolute(ref: str) -> str:
    start, end = ref.split(":")
    return ":".join(re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", part) for part in (start, end))
