"""The printable 成长档案 page in headless Chromium with no system fonts at all: the Chinese
is drawn by the font the page embeds, and the text is the teacher's own.

Screenshots are kept in test-artifacts/ for a human to look at. Skipped when Debian's
chromium is not installed (CI installs it).
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from reports.archive_html import render_archive_html
from reports.member_archive import collect_archive

from .conftest import NOW, R1, SHANGHAI, District
from .test_screenshots import ARTIFACTS, CHROMIUM, screenshot

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed (apt-get install chromium)"
)
WINDOW = (800, 1000)
HEADING = (0, 0, 800, 60)  # where the page's h1 is drawn


def no_fonts(folder: Path) -> dict[str, str]:
    """A fontconfig that knows no font: only the page's own can draw anything."""
    conf = folder / "empty-fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
        f"<fontconfig><cachedir>{folder / 'fontcache'}</cachedir></fontconfig>\n",
        encoding="utf-8",
    )
    return {"FONTCONFIG_FILE": str(conf), "PATH": "/usr/bin:/bin", "HOME": str(folder)}


async def dump_dom(url: str, profile: Path, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--dump-dom",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]
    return stdout.decode("utf-8")


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
    env = no_fonts(tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    shots: dict[str, Image.Image] = {}
    for name, text in pages.items():
        source = tmp_path / f"{name}.html"
        source.write_text(text, encoding="utf-8")
        target = ARTIFACTS / f"archive-{name}.png"
        target.unlink(missing_ok=True)
        await screenshot(source.as_uri(), target, WINDOW, tmp_path / f"profile-{name}", env)
        shots[name] = Image.open(io.BytesIO(target.read_bytes())).convert("RGB")

    # The heading is drawn (dark strokes where it stands, none once it is hidden) …
    assert dark_pixels(shots["page"], HEADING) > 300
    assert dark_pixels(shots["no-heading"], HEADING) < 20
    # … with real glyphs: the reversed name draws other shapes (missing glyphs would all
    # be the same empty box), while the rest of the page is pixel for pixel the same.
    heading_change = ImageChops.difference(shots["page"], shots["other-name"]).getbbox()
    assert heading_change is not None and heading_change[3] <= HEADING[3]

    dom = await dump_dom((tmp_path / "page.html").as_uri(), tmp_path / "profile-dom", env)
    assert "王芳 成长档案" in dom and R1 in dom and "统计口径" in dom
