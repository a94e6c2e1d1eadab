"""The playground page in headless Chromium, at phone and desktop widths: a person types, the
bot's answer appears, and the screenshots show it. Skipped without Debian's chromium (CI
installs it in .ci/run). Screenshots are kept in test-artifacts/ for a human to look at."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.fakes.small_alliance import GROUP
from tests.reports.test_screenshots import (
    ARTIFACTS,
    CHROMIUM,
    SIZES,
    fontconfig_with_packaged_font,
)

from .chromium import chromium_page, dump_dom
from .conftest import Playground

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed (apt-get install chromium)"
)

MY_BUBBLE = (0x95, 0xEC, 0x69)  # what the person at the page said
BOT_EDGE = (0x3B, 0x7D, 0xDD)  # the left edge of the bot's bubbles
CONNECTED = """new Promise((resolve) => {
  const wait = () => (socket && socket.readyState === 1 ? resolve(true) : setTimeout(wait, 20));
  wait();
})"""
# Who types what at each size, and a line of the answer that must appear.
TYPED = {
    "desktop": ("t1", "活动", "近期没有活动"),
    "phone": ("t2", "帮助 签到", "开始前30分钟开放"),
}


def pixels(png: bytes, colour: tuple[int, int, int]) -> int:
    with Image.open(io.BytesIO(png)) as picture:
        counts = picture.convert("RGB").getcolors(maxcolors=10_000_000) or []
    return sum(count for count, rgb in counts if rgb == colour)


async def test_typing_on_the_page_shows_the_answer_on_phone_and_desktop(
    playground: Playground, tmp_path: Path
) -> None:
    env = fontconfig_with_packaged_font(tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    for device in ("desktop", "phone"):
        userid, text, answer = TYPED[device]
        size = SIZES[device]
        url = str(playground.client.make_url(f"/playground/?as={userid}"))
        async with chromium_page(tmp_path / f"profile-{device}", env) as page:
            await page.open(url, *size)
            await page.evaluate(CONNECTED)
            before = await page.screenshot(ARTIFACTS / f"playground-{device}-before.png")
            await page.type_and_enter("text", text)
            shown = await page.wait_for_text("group-log", answer)
            after = await page.screenshot(ARTIFACTS / f"playground-{device}.png")
        assert text in shown and "教研助手" in shown
        if device == "phone":
            assert "\n用法：签到" in shown  # plain text keeps its line breaks
        with Image.open(io.BytesIO(after)) as picture:
            assert picture.size == size
        # The typed message is a green bubble, and one more bot bubble appeared with the answer.
        assert pixels(before, MY_BUBBLE) == 0
        assert pixels(after, MY_BUBBLE) > 400
        assert pixels(after, BOT_EDGE) - pixels(before, BOT_EDGE) > 3 * 40


async def test_a_page_opened_later_shows_the_conversation_rendered(
    playground: Playground, tmp_path: Path
) -> None:
    await playground.say("t1", "活动", GROUP)
    await playground.say("lead1", "周报 现在", GROUP)
    env = fontconfig_with_packaged_font(tmp_path)
    for device, size in SIZES.items():
        dom = await dump_dom(
            str(playground.client.make_url("/playground/?as=t1")),
            size,
            tmp_path / f"profile-dom-{device}",
            env,
        )
        group_log = dom.split('id="group-log"', 1)[1].split("</section>", 1)[0]
        assert "近期没有活动" in group_log
        assert '<div class="md-h md-h2">东部联盟 · 教研周报</div>' in group_log
        assert "&lt;font" not in group_log and "**" not in group_log


async def test_the_friday_button_brings_the_reminder_and_the_digest_to_the_page(
    playground: Playground, tmp_path: Path
) -> None:
    await playground.say("lead1", "发起活动 周三 15:00 集体备课 地点:东部一小", GROUP)
    env = fontconfig_with_packaged_font(tmp_path)
    async with chromium_page(tmp_path / "profile-clock", env) as page:
        await page.open(str(playground.client.make_url("/playground/?as=t1")), *SIZES["desktop"])
        await page.evaluate(CONNECTED)
        await page.evaluate("document.querySelector('[data-jump*=friday17]').click()")
        shown = await page.wait_for_text("group-log", "教研周报")
        clock = await page.wait_for_text("clock", "3月8日 周五 17:00")
        await page.screenshot(ARTIFACTS / "playground-desktop-friday.png")
    assert "集体备课" in shown and "明天" in shown  # the day-before reminder, on its way
    assert clock == "3月8日 周五 17:00"
