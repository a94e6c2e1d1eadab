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
    covers,
    find_cjk_font,
    font_covering,
    rates_chart,
    system_cjk_font,
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


def test_the_font_comes_from_the_installed_package_with_its_licence() -> None:
    font = find_cjk_font()
    assert font.name == "NotoSansSC-Regular-GB2312.otf"
    assert font.stat().st_size < 2_500_000  # the whole face was 8 MB, its package 20 MB
    licence = (font.parent / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence and "Adobe" in licence


def gb2312_hanzi() -> str:
    """GB2312's 6,763 hanzi (rows 0xB0-0xF7): nearly every school and place name."""
    found = []
    for high in range(0xB0, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                found.append(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return "".join(found)


def test_the_packaged_font_has_every_common_character_a_chart_draws() -> None:
    hanzi = gb2312_hanzi()
    assert len(hanzi) == 6763
    font = find_cjk_font()
    assert covers(font, hanzi)
    assert covers(font, "ABCxyz 0123456789 %/—…·，。、：；（）《》「」“”％")
    assert not covers(font, "堃")  # outside GB2312: a system font is used when there is one


def test_without_a_system_font_a_rare_character_still_uses_the_packaged_one() -> None:
    packaged = find_cjk_font()
    assert font_covering("尚志市实验小学") == packaged
    # One box in a label, not a failed chart.
    assert font_covering("堃园小学", families=("No Such Font",)) == packaged


def test_a_rare_character_is_drawn_with_a_system_font_that_covers_it() -> None:
    system = system_cjk_font()
    if system is None or not covers(system, "堃"):
        pytest.skip("no system CJK font with 堃 (apt-get install fonts-noto-cjk)")
    assert font_covering("尚志市实验小学") == find_cjk_font()
    assert font_covering("堃园小学") == system
