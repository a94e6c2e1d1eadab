"""Make the chart font shipped in reports/fonts/ (a dev-time step, never run by the bot).

Charts need Chinese glyphs. The full Noto Sans SC Regular is 8 MB (the PyPI package that
shipped it, with a serif face, 20 MB); the charts only draw school, alliance and week labels,
so the font is cut to GB2312 (6,763 hanzi of both levels, which covers nearly every school and
place name, plus its punctuation, kana, Greek and Cyrillic), ASCII, Latin-1, general and CJK
punctuation and full-width forms. Vertical metrics and hints are dropped. The result is about
1.6 MB; a label with a character outside it is drawn with a system CJK font when one is
installed (`reports.charts.font_covering`).

Usage, with fontTools (already installed with matplotlib) and the source font from Noto CJK's
releases or Google Fonts (SIL OFL 1.1; any Noto Sans SC Regular .otf/.ttf):

    python tools/subset_chart_font.py path/to/NotoSansSC-Regular.otf

It writes reports/fonts/NotoSansSC-Regular-GB2312.otf; reports/fonts/OFL.txt is the licence.
The family name stays "Noto Sans SC" (the OFL's Reserved Font Name is only "Source").
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

TARGET = Path(__file__).resolve().parents[1] / "reports" / "fonts" / "NotoSansSC-Regular-GB2312.otf"
EXTRA_RANGES = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1: ° · × é
    (0x2010, 0x206F),  # general punctuation: — … ‰ ‘ ’ “ ”
    (0x2190, 0x2199),  # arrows
    (0x3000, 0x303F),  # CJK punctuation: 、。《》「」【】
    (0xFF00, 0xFFEF),  # full-width forms: （）％：
)


def gb2312() -> set[str]:
    """Every character GB2312 encodes (rows 0xA1-0xF7: symbols, then both hanzi levels)."""
    found = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                found.add(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return found


def wanted() -> set[int]:
    codes = {ord(c) for c in gb2312()}
    for first, last in EXTRA_RANGES:
        codes.update(range(first, last + 1))
    return codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="Noto Sans SC Regular (.otf or .ttf)")
    parser.add_argument("--output", type=Path, default=TARGET)
    args = parser.parse_args()
    options = subset.Options()
    options.drop_tables += ["DSIG", "vhea", "vmtx", "VORG"]
    options.hinting = False
    options.name_IDs = ["*"]  # keep copyright, licence and trademark notices
    options.name_languages = ["*"]
    font = TTFont(args.source, recalcTimestamp=False)  # the same bytes on every run
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(wanted()))
    subsetter.subset(font)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    font.save(args.output)
    print(
        f"{args.output}: {args.output.stat().st_size:,} bytes, {len(font.getBestCmap())} characters"
    )


if __name__ == "__main__":
    main()
