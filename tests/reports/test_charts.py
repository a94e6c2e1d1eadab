"""PNG charts render Chinese with a real CJK font: no missing-glyph boxes."""

from __future__ import annotations

import io
import warnings

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from reports.charts import (
    FontNotFoundError,
    RateBar,
    TrendPoint,
    find_cjk_font,
    rates_chart,
    trend_chart,
)

SCHOOLS = [
    RateBar("尚志市实验小学", 0.95, 0.8),
    RateBar("亚布力镇中心小学", 0.7, None),
    RateBar("苇河林业局小学", 1.0, 0.45),
]
WEEKS = [TrendPoint(f"11/{d}", 0.5 + d / 100, 0.4, 2) for d in (2, 9, 16)] + [
    TrendPoint("11/23", None, None, 0)
]


def render_without_glyph_warnings(draw):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = draw()
    glyphs = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert glyphs == []
    return png


def image(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(png))


def test_rates_chart_has_every_chinese_glyph() -> None:
    png = render_without_glyph_warnings(lambda: rates_chart("东部联盟 本周各校签到率", SCHOOLS))
    picture = image(png)
    assert picture.width >= 600 and picture.height >= 250
    assert len(png) > 10_000  # bars, labels and text, not an empty canvas


def test_trend_chart_has_every_chinese_glyph_and_gaps_for_empty_weeks() -> None:
    png = render_without_glyph_warnings(lambda: trend_chart("东部联盟 近4周趋势", WEEKS))
    picture = image(png)
    assert picture.width >= 600 and picture.height >= 300


def test_the_glyph_check_would_catch_boxes() -> None:
    """Control: Chinese in matplotlib's default font does warn, so the checks above mean it."""
    figure = Figure()
    figure.text(0.1, 0.5, "签到率", family="DejaVu Sans")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        FigureCanvasAgg(figure).print_png(io.BytesIO())
    assert any("missing from" in str(w.message) for w in caught)


def test_no_cjk_font_fails_with_a_clear_chinese_message() -> None:
    with pytest.raises(FontNotFoundError, match=r"找不到中文字体.*pip install -e"):
        find_cjk_font(packaged=(("no_such_font_package", "x.otf"),), families=("No Such Font",))


def test_the_font_comes_from_the_installed_package() -> None:
    assert find_cjk_font().name == "NotoSansSC-Regular.otf"
