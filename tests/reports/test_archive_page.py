"""The printable 成长档案 page in headless Chromium with no Chinese font on the system: the
Chinese is drawn by the font the page embeds, and the text is the teacher's own.

Driven over DevTools (tests/playground/chromium.py), so each screenshot is taken once the
page's font is loaded (`document.fonts.load`), not merely at the load event. Screenshots are
kept in test-artifacts/ for a human to look at. Skipped when Debian's chromium is not
installed (CI installs it).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from reports.archive_html import render_archive_html
from reports.member_archive import collect_archive
from tests.playground.chromium import chromium_page, dump_dom

from .conftest import NOW, R1, SHANGHAI, SQLITE_ONLY, District
from .test_screenshots import ARTIFACTS, CHROMIUM

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian chromium is not installed (apt-get install chromium)"
    ),
    # What is checked is the font drawn; the archive's contents are checked on both engines
    # in test_member_archive.py, and Chromium is the slow part.
    SQLITE_ONLY,
]
WINDOW = (800, 1000)
HEADING = (0, 0, 800, 60)  # where the page's h1 is drawn
# Load the page's font for the name (true when it has those glyphs), then let two frames
# be drawn with it before the screenshot.
FONT_READY = (
    "document.fonts.load('20pt \"Archive Sans SC\"', '王芳').then((found) => new Promise("
    "(done) => requestAnimationFrame(() => requestAnimationFrame(() => done(found.length > 0)))))"
)


def no_chinese_fonts(folder: Path) -> dict[str, str]:
    """The system's fonts minus every font that covers Chinese: only the page's own font
    can draw a hanzi (this machine's Latin fonts still draw digits and letters)."""
    conf = folder / "fonts.conf"
    reject = "".join(
        f'<rejectfont><pattern><patelt name="lang"><string>{lang}</string></patelt></pattern>'
        "</rejectfont>"
        for lang in ("zh-cn", "zh-tw", "ja", "ko")
    )
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <selectfont>{reject}</selectfont>\n"
        f"  <cachedir>{folder / 'fontcache'}</cachedir>\n</fontconfig>\n",
        encoding="utf-8",
    )
    return {**os.environ, "FONTCONFIG_FILE": str(conf)}


def dark_pixels(picture: Image.Image, box: tuple[int, int, int, int]) -> int:
    grey = picture.crop(box).convert("L")
    return sum(grey.histogram()[:100])


async def test_the_page_draws_its_chinese_with_its_own_font(
    district: District, tmp_path: Path
) -> None:
    wang = district.people["王芳"]
    term_start = NOW.replace(month=9, day=1, hour=0, minute=0)
    archive = collect_archive(
        district.storage, wang, term_start, NOW.replace(year=2027, month=2, day=1), SHANGHAI,
        NOW, "本学期",
    )  # fmt: skip
    html = render_archive_html(archive)
    assert len(html) < 400_000  # the font is cut to the page's characters
    pages = {
        "page": html,
        # The same page with the heading's name reversed (the same glyphs, in the font the
        # page carries), and with the heading hidden.
        "other-name": html.replace(">王芳 成长档案<", ">芳王 成长档案<"),
        "no-heading": html.replace('<h1 id="title">', '<h1 id="title" style="color:#fff">'),
    }
    env = no_chinese_fonts(tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    shots: dict[str, Image.Image] = {}
    async with chromium_page(tmp_path / "profile", env) as page:
        for name, text in pages.items():
            source = tmp_path / f"{name}.html"
            source.write_text(text, encoding="utf-8")
            await page.open(source.as_uri(), *WINDOW)
            # The page's own font is loaded and has the name's glyphs.
            assert await page.evaluate(FONT_READY) is True
            data = await page.screenshot(ARTIFACTS / f"archive-{name}.png")
            shots[name] = Image.open(io.BytesIO(data)).convert("RGB")

    # The heading is drawn (dark strokes where it stands, none once it is hidden) …
    assert dark_pixels(shots["page"], HEADING) > 300
    assert dark_pixels(shots["no-heading"], HEADING) < 20
    # … with real glyphs: the reversed name draws other shapes (missing glyphs would all
    # be the same empty box), while the rest of the page is pixel for pixel the same.
    heading_change = ImageChops.difference(shots["page"], shots["other-name"]).getbbox()
    assert heading_change is not None and heading_change[3] <= HEADING[3]

    dom = await dump_dom((tmp_path / "page.html").as_uri(), WINDOW, tmp_path / "dom", env)
    assert "王芳 成长档案" in dom and R1 in dom and "统计口径" in dom
