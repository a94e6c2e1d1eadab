"""PNG charts with Chinese labels: rates per school, and an alliance's week-by-week trend.

Matplotlib is used without pyplot (a `Figure` per chart, the Agg canvas), so nothing global
changes and charts can be drawn from any thread. Chinese needs a CJK font: the package ships
Noto Sans SC (SIL OFL 1.1, `reports/fonts/OFL.txt`) cut to GB2312's characters by
`tools/subset_chart_font.py` (1.6 MB), so `pip install` alone is enough. A chart whose labels
need a character outside it (a rare name such as 堃) is drawn with a system CJK font (Debian
fonts-noto-cjk or fonts-wqy-microhei) when one covers them. Every text element gets the font
explicitly. Matplotlib is imported only when a chart is drawn, so `serve` does not carry it
in memory until the first digest.
"""

from __future__ import annotations

import functools
import importlib.resources
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib (with numpy, ~25 MB) is imported when a chart is drawn
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

_PACKAGED_FONTS = (("reports", "fonts/NotoSansSC-Regular-GB2312.otf"),)
_SYSTEM_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
)
# Sized for a phone first: a chart is shown as wide as the screen (about 350 CSS px on a
# 390 px phone, half of a desktop page), so a 4.2-inch figure is drawn at 1/72 inch per point
# × 350/4.2 px per inch; LABEL_POINTS = 10 is then about 11.5 px on screen. DPI only sets the
# sharpness (840 px wide: crisp on 2-3x phone screens), not the text's size on screen.
FIGURE_WIDTH = 4.2  # inches
DPI = 200
LABEL_POINTS = 10.0  # the smallest text: ticks, values, notes
LEGEND_POINTS = 10.5
NAME_POINTS = 10.5  # school names on the rates chart
TITLE_POINTS = 12.0
SIGNIN_COLOR = "#2f7ed8"
REFLECTION_COLOR = "#f28f43"
GRID_COLOR = "#e5e5e5"


class FontNotFoundError(RuntimeError):
    """No font with Chinese glyphs could be found; the message says how to install one."""


def find_cjk_font(
    packaged: Sequence[tuple[str, str]] = _PACKAGED_FONTS,
    families: Sequence[str] = _SYSTEM_FAMILIES,
) -> Path:
    """A font file with Chinese glyphs: a packaged one first, else a system font."""
    for package, name in packaged:
        try:
            candidate = importlib.resources.files(package) / name
        except ModuleNotFoundError:
            continue
        path = Path(str(candidate))
        if path.is_file():
            return path
    system = system_cjk_font(families)
    if system is not None:
        return system
    raise FontNotFoundError(
        "找不到中文字体，图表无法显示汉字。请在本项目目录重新执行 `pip install -e .`"
        "（字体随程序安装），或安装系统字体：apt-get install fonts-noto-cjk"
    )


def system_cjk_font(families: Sequence[str] = _SYSTEM_FAMILIES) -> Path | None:
    """The first installed system font of `families`, if any."""
    from matplotlib.font_manager import FontProperties, findfont

    for family in families:
        try:
            return Path(findfont(FontProperties(family=family), fallback_to_default=False))
        except ValueError:
            continue
    return None


@functools.cache
def _characters(path: Path) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(str(path)).get_charmap())


def covers(path: Path, text: str) -> bool:
    """Whether the font at `path` has a glyph for every visible character of `text`."""
    have = _characters(path)
    return all(ord(c) in have for c in text if not c.isspace())


def font_covering(text: str, families: Sequence[str] = _SYSTEM_FAMILIES) -> Path:
    """The packaged font, or a system CJK font when only that one covers `text`."""
    packaged = cjk_font_path()
    if covers(packaged, text):
        return packaged
    system = system_cjk_font(families)
    return system if system is not None and covers(system, text) else packaged


@functools.cache
def cjk_font_path() -> Path:
    """The font used for Chinese text, looked up once per process."""
    return find_cjk_font()


def _font(path: Path, size: float = LABEL_POINTS) -> FontProperties:
    from matplotlib.font_manager import FontProperties

    return FontProperties(fname=path, size=size)


@dataclass(frozen=True)
class RateBar:
    """One school's rates (0–1, None when nobody was counted)."""

    label: str
    signin: float | None
    reflection: float | None


@dataclass(frozen=True)
class TrendPoint:
    label: str
    signin: float | None
    reflection: float | None
    activities: int


def _png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return buffer.getvalue()


def _style(figure: Figure, title: str, font: Path) -> None:
    figure.suptitle(title, fontproperties=_font(font, TITLE_POINTS), x=0.02, ha="left")


def rates_chart(title: str, bars: Sequence[RateBar]) -> bytes:
    """Horizontal bars of sign-in and reflection rates per school, best first from the top."""
    return _png(rates_figure(title, bars))


def rates_figure(title: str, bars: Sequence[RateBar]) -> Figure:
    """The figure `rates_chart` draws (tests measure its text sizes)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    font = font_covering(title + "".join(b.label for b in bars))
    height = max(2.8, 1.0 + 0.5 * len(bars))
    figure = Figure(figsize=(FIGURE_WIDTH, height), dpi=DPI)
    ax = figure.add_subplot()
    positions = list(range(len(bars)))[::-1]
    width = 0.38
    signin = [(b.signin or 0.0) * 100 for b in bars]
    reflection = [(b.reflection or 0.0) * 100 for b in bars]
    ax.barh(
        [p + width / 2 for p in positions], signin, height=width, color=SIGNIN_COLOR, label="签到率"
    )
    ax.barh(
        [p - width / 2 for p in positions],
        reflection,
        height=width,
        color=REFLECTION_COLOR,
        label="反思提交率",
    )
    small = _font(font)
    for position, bar in zip(positions, bars, strict=True):
        for offset, value in ((width / 2, bar.signin), (-width / 2, bar.reflection)):
            text = "—" if value is None else f"{round(value * 100)}%"
            x = 1.0 if value is None else value * 100 + 1
            ax.text(x, position + offset, text, va="center", fontproperties=small)
    ax.set_yticks(positions)
    ax.set_yticklabels([b.label for b in bars], fontproperties=_font(font, NAME_POINTS))
    ax.set_xlim(0, 115)
    ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    for label in ax.get_xticklabels():
        label.set_fontproperties(small)
    ax.grid(axis="x", color=GRID_COLOR)
    ax.set_axisbelow(True)
    return _finish(figure, ax, title, font)


def trend_chart(title: str, points: Sequence[TrendPoint]) -> bytes:
    """Lines of weekly sign-in and reflection rates; weeks without activities are gaps."""
    return _png(trend_figure(title, points))


def trend_figure(title: str, points: Sequence[TrendPoint]) -> Figure:
    """The figure `trend_chart` draws (tests measure its text sizes)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    font = font_covering(title + "".join(p.label for p in points))
    figure = Figure(figsize=(FIGURE_WIDTH, 3.4), dpi=DPI)
    ax = figure.add_subplot()
    xs = list(range(len(points)))
    nan = float("nan")
    signin = [nan if p.signin is None else p.signin * 100 for p in points]
    reflection = [nan if p.reflection is None else p.reflection * 100 for p in points]
    ax.plot(xs, signin, marker="o", color=SIGNIN_COLOR, label="签到率")
    ax.plot(xs, reflection, marker="s", color=REFLECTION_COLOR, label="反思提交率")
    small = _font(font)
    for x, point in zip(xs, points, strict=True):
        if point.activities:
            ax.annotate(
                f"{point.activities}次",
                (x, 2),
                ha="center",
                fontproperties=small,
                color="#888888",
            )
    ax.set_xticks(xs)
    ax.set_xticklabels([p.label for p in points], fontproperties=small)
    ax.set_ylim(0, 105)
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    for label in ax.get_yticklabels():
        label.set_fontproperties(small)
    ax.set_xlabel("周（周一日期）；灰字为当周活动次数", fontproperties=small)
    ax.grid(axis="y", color=GRID_COLOR)
    return _finish(figure, ax, title, font)


def _finish(figure: Figure, ax: Axes, title: str, font: Path) -> Figure:
    """What both charts share: open frame, legend above the plot, title."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(
        prop=_font(font, LEGEND_POINTS),
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncols=2,
        frameon=False,
        borderaxespad=0.2,
    )
    _style(figure, title, font)
    figure.tight_layout()
    return figure
