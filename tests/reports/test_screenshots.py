"""The dashboard as a person sees it: headless Chromium screenshots, phone and desktop, and
the size chart labels have on those screens.

Screenshots are kept in test-artifacts/ (git-ignored) for a human to look at. Skipped when
Debian's chromium is not installed (CI installs it in .ci/run).
"""

from __future__ import annotations

import asyncio
import io
import os
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from PIL import Image

from bot.core.clock import FakeClock
from bot.core.settings import Settings
from reports.charts import RateBar, TrendPoint, cjk_font_path, rates_figure, trend_figure
from reports.dashboard_routes import add_routes
from reports.links import sign

from .conftest import NOW, SQLITE_ONLY, District

CHROMIUM = Path("/usr/bin/chromium")
# How every test starts Chromium: headless, offline, no first-run work, no scrollbars.
HEADLESS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SECRET = "screenshot-secret-0123456789abcdef"
SIZES = {"phone": (390, 844), "desktop": (1280, 900)}

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian chromium is not installed (apt-get install chromium)"
    ),
    # What is checked is the drawing; the numbers drawn are checked on both engines in
    # test_dashboard.py, and Chromium is the slow part.
    SQLITE_ONLY,
]


def fontconfig_with_packaged_font(folder: Path) -> dict[str, str]:
    """Let Chromium also use the CJK font the project installs from PyPI, so the screenshots
    show Chinese even on a machine without system CJK fonts (phones have their own)."""
    conf = folder / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <dir>{cjk_font_path().parent}</dir>\n"
        f"  <cachedir>{folder / 'fontcache'}</cachedir>\n</fontconfig>\n",
        encoding="utf-8",
    )
    return {**os.environ, "FONTCONFIG_FILE": str(conf)}


async def screenshot(
    url: str, target: Path, size: tuple[int, int], profile: Path, env: dict[str, str]
) -> None:
    process = await asyncio.create_subprocess_exec(
        str(CHROMIUM),
        *HEADLESS,
        f"--user-data-dir={profile}",
        f"--window-size={size[0]},{size[1]}",
        f"--screenshot={target}",
        url,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]


def looks_like_a_page(path: Path, size: tuple[int, int]) -> None:
    assert path.exists() and path.stat().st_size > 10_000
    with Image.open(io.BytesIO(path.read_bytes())) as picture:
        assert picture.size == size
        colours = picture.convert("RGB").getcolors(maxcolors=1_000_000) or []
        assert len(colours) > 50  # text, tables and bars, not a blank or error screen


async def dashboard_base(
    district: District, aiohttp_server: Callable[..., Awaitable[TestServer]], clock: FakeClock
) -> str:
    """The east leader's dashboard, served on loopback: its signed base address."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, JIAOYAN_DB=district.db, JIAOYAN_DASHBOARD_SECRET=SECRET
    )
    app = web.Application()
    add_routes(app, district.storage, settings, clock)
    server: Any = await aiohttp_server(app, host="127.0.0.1")
    token = sign(SECRET, district.east.id, "lead1", clock.now() + timedelta(hours=24))
    return f"http://127.0.0.1:{server.port}/reports/{token}/"


async def test_dashboard_screenshots_on_phone_and_desktop(
    district: District,
    tmp_path: Path,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> None:
    clock = FakeClock(NOW)
    base = await dashboard_base(district, aiohttp_server, clock)
    pages = {
        "overview": f"{base}?p={quote('本周')}",
        "reflections": f"{base}reflections?p={quote('本周')}&q={quote('小组合作')}",
    }
    ARTIFACTS.mkdir(exist_ok=True)
    env = fontconfig_with_packaged_font(tmp_path)
    for page, url in pages.items():
        for device, size in SIZES.items():
            target = ARTIFACTS / f"dashboard-{page}-{device}.png"
            target.unlink(missing_ok=True)
            await screenshot(url, target, size, tmp_path / f"profile-{page}-{device}", env)
            looks_like_a_page(target, size)
    expired = ARTIFACTS / "dashboard-expired-phone.png"
    clock.advance(timedelta(hours=25))
    await screenshot(base, expired, SIZES["phone"], tmp_path / "profile-expired", env)
    assert expired.exists() and expired.stat().st_size > 3_000


async def chart_widths_on_screen(
    page_html: str, width: int, folder: Path, env: dict[str, str]
) -> list[float]:
    """The CSS width Chromium gives each `img.chart` of the page in a `width` px window.

    The page is served from a file with a script appended that writes the widths into the
    DOM; the images need not load, since `width: 100%` does not depend on them. Headless
    Chromium lays pages out at least 500 px wide, so the root element is also held to `width`
    (the page's only breakpoints, 600 and 900 px, put 390 and 500 on the same side).
    """
    probe = (
        "<script>document.body.setAttribute('data-chart-widths', Array.from("
        "document.querySelectorAll('img.chart')).map(i => i.getBoundingClientRect().width)"
        ".join(','));</script>"
    )
    page = folder / f"probe-{width}.html"
    narrow = f"<style>html {{ width: {width}px; }}</style></head>"
    page.write_text(
        page_html.replace("</head>", narrow).replace("</body>", probe + "</body>"),
        encoding="utf-8",
    )
    process = await asyncio.create_subprocess_exec(
        str(CHROMIUM),
        *HEADLESS,
        f"--user-data-dir={folder / f'profile-probe-{width}'}",
        f"--window-size={width},900",
        "--dump-dom",
        page.as_uri(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]
    found = re.search(r'data-chart-widths="([^"]*)"', stdout.decode("utf-8"))
    assert found is not None and found.group(1), "the page has no img.chart"
    return [float(w) for w in found.group(1).split(",")]


def smallest_text_pixels(figure: Any) -> tuple[float, int]:
    """The smallest text of a chart in PNG pixels, and the PNG's width in pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    canvas = FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    with Image.open(io.BytesIO(buffer.getvalue())) as picture:
        dpi, width = picture.info["dpi"][0], picture.width
    sizes = [
        text.get_fontsize()
        for text in figure.findobj(Text)
        if text.get_visible() and text.get_text().strip()
    ]
    assert len(sizes) > 10  # ticks, names, legend and title were all found
    return min(sizes) * dpi / 72, width


async def test_chart_labels_are_at_least_11_px_on_a_phone(
    district: District,
    tmp_path: Path,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> None:
    url = f"{await dashboard_base(district, aiohttp_server, FakeClock(NOW))}?p={quote('本周')}"
    async with ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        html = await response.text()
    env = fontconfig_with_packaged_font(tmp_path)
    charts = [
        rates_figure(
            "东部联盟 本周 各校情况",
            [RateBar("亚布力镇中心小学", 0.7, None), RateBar("东部一小", 1.0, 0.45)],
        ),
        trend_figure(
            "东部联盟 近8周签到率与反思提交率",
            [TrendPoint(f"11/{d}", 0.8, 0.5, 2) for d in range(2, 30, 4)],
        ),
    ]
    for window in (390, 1280):
        widths = await chart_widths_on_screen(html, window, tmp_path, env)
        assert len(widths) == 2 and all(0 < w <= window for w in widths)
        for figure in charts:
            pixels, png_width = smallest_text_pixels(figure)
            on_screen = pixels * min(widths) / png_width
            assert on_screen >= 11, f"{on_screen:.1f} px labels in a {window} px window"
