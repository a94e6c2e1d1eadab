"""Driving headless Chromium over its DevTools protocol (a WebSocket, spoken with aiohttp).

Enough of the protocol to open a page at a given size, type into it like a person, wait for
something to appear (a MutationObserver, not a sleep) and take a screenshot. Launched like
the dashboard's screenshot tests (tests/reports/test_screenshots.py): Debian's chromium,
headless, with the project's CJK font available.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests.reports.test_screenshots import CHROMIUM, HEADLESS

_LISTENING = re.compile(rb"DevTools listening on (ws://\S+)")
TIMEOUT = 60


class Page:
    """One browser tab: commands go out with an id, the answer with that id comes back."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    async def command(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        await self._socket.send_json({"id": number, "method": method, "params": params})
        while True:
            message = await self._socket.receive_json(timeout=TIMEOUT)
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    async def wait_event(self, method: str) -> None:
        while True:
            message = await self._socket.receive_json(timeout=TIMEOUT)
            if message.get("method") == method:
                return

    async def open(self, url: str, width: int, height: int) -> None:
        await self.command(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 600,
        )
        await self.command("Page.enable")
        await self.command("Page.navigate", url=url)
        await self.wait_event("Page.loadEventFired")

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression; a promise is awaited."""
        result = await self.command(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(str(result["exceptionDetails"]))
        return result["result"].get("value")

    async def wait_for_text(self, element_id: str, text: str) -> str:
        """Resolves when the element's visible text contains `text`; returns that text."""
        script = f"""new Promise((resolve) => {{
          const box = document.getElementById({json.dumps(element_id)});
          const check = () => box.innerText.includes({json.dumps(text)}) && (resolve(box.innerText), true);
          if (!check()) new MutationObserver(check).observe(box, {{childList: true, subtree: true, characterData: true}});
        }})"""
        return str(await self.evaluate(script))

    async def type_and_enter(self, element_id: str, text: str) -> None:
        """Focus the field, type `text` as input events, press Enter."""
        await self.evaluate(f"document.getElementById({json.dumps(element_id)}).focus()")
        await self.command("Input.insertText", text=text)
        for kind in ("keyDown", "keyUp"):
            await self.command(
                "Input.dispatchKeyEvent",
                type=kind,
                key="Enter",
                code="Enter",
                windowsVirtualKeyCode=13,
            )

    async def screenshot(self, target: Path) -> bytes:
        result = await self.command("Page.captureScreenshot", format="png")
        data = base64.b64decode(result["data"])
        target.write_bytes(data)
        return data


@asynccontextmanager
async def chromium_page(profile: Path, env: dict[str, str]) -> AsyncIterator[Page]:
    """A headless Chromium with one tab; closed (and waited for) on exit."""
    process = await asyncio.create_subprocess_exec(
        str(CHROMIUM),
        *HEADLESS,
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert process.stderr is not None
        browser_url = await asyncio.wait_for(_devtools_url(process.stderr), TIMEOUT)
        # Keep reading its log, or a chatty browser would block on a full pipe.
        drain = asyncio.create_task(process.stderr.read())
        port = re.search(r":(\d+)/", browser_url)
        assert port is not None
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port.group(1)}/json/list") as listing:
                targets = await listing.json()
            [tab] = [t for t in targets if t["type"] == "page"]
            async with session.ws_connect(tab["webSocketDebuggerUrl"], max_msg_size=0) as socket:
                yield Page(socket)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        if "drain" in locals():
            await drain


async def _devtools_url(stderr: asyncio.StreamReader) -> str:
    while line := await stderr.readline():
        found = _LISTENING.search(line)
        if found:
            return found.group(1).decode()
    raise RuntimeError("chromium exited before opening its DevTools port")


async def dump_dom(url: str, size: tuple[int, int], profile: Path, env: dict[str, str]) -> str:
    """The page's DOM after its scripts ran (`--dump-dom`), as the dashboard tests run it."""
    process = await asyncio.create_subprocess_exec(
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={size[0]},{size[1]}",
        "--dump-dom",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout=TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0
    return out.decode()
