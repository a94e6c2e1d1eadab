"""The local console: chat with the bot in a terminal, through the same pipeline as WeCom."""

from __future__ import annotations

import asyncio
import itertools
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

from bot.app import App
from bot.messages import Channel, ChatType, Incoming

CONSOLE_HELP = (
    "控制台命令：:as 账号 切换身份；:chat 群号 切换到群聊；:private 切换到私聊；"
    ":quit 退出。行末写 \\ 可以继续输入下一行（用于多行反思）。"
)


@dataclass
class ConsoleSession:
    """Who is typing and where; console-only switches start with a colon."""

    userid: str
    chat_id: str | None

    def describe(self) -> str:
        where = f"群 {self.chat_id} 中" if self.chat_id else "私聊中"
        return f"你现在是 {self.userid}，在{where}。"

    def switch(self, line: str) -> str | None:
        """Apply a `:` command; returns text to show, or None to quit."""
        word, _, arg = line[1:].partition(" ")
        arg = arg.strip()
        if word in ("quit", "q", "exit"):
            return None
        if word == "as" and arg:
            self.userid = arg
        elif word == "chat" and arg:
            self.chat_id = arg
        elif word == "private":
            self.chat_id = None
        else:
            return CONSOLE_HELP
        return self.describe()


async def join_continued(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """Lines ending with a backslash continue on the next line (multi-line reflections)."""
    buffer: list[str] = []
    async for line in lines:
        stripped = line.rstrip("\n")
        if stripped.endswith("\\"):
            buffer.append(stripped[:-1])
            continue
        buffer.append(stripped)
        yield "\n".join(buffer)
        buffer = []
    if buffer:
        yield "\n".join(buffer)


async def from_iterable(lines: Iterable[str]) -> AsyncIterator[str]:
    for line in lines:
        yield line


async def run_console(
    app: App,
    session: ConsoleSession,
    lines: AsyncIterator[str],
    write: Callable[[str], None],
) -> int:
    """Feed each line to the bot as a message and print every reply; returns messages handled."""
    counter = itertools.count(1)
    run_id = uuid.uuid4().hex[:8]
    handled = 0
    async for text in join_continued(lines):
        if not text.strip():
            continue
        if text.startswith(":"):
            shown = session.switch(text.strip())
            if shown is None:
                break
            write(shown)
            continue
        incoming = Incoming(
            channel=Channel.CONSOLE,
            msgid=f"console-{run_id}-{next(counter)}",
            userid=session.userid,
            text=text,
            chat_type=ChatType.GROUP if session.chat_id else ChatType.SINGLE,
            chat_id=session.chat_id,
            received_at=app.clock.now(),
        )
        await app.pipeline.handle_now(incoming)
        await app.worker.run_once()
        handled += 1
    await app.pipeline.drain()
    await app.worker.run_once()
    return handled


async def stdin_lines(prompt: str) -> AsyncIterator[str]:
    """Interactive prompt on a terminal; plain line reading when stdin is a pipe or file.

    Reading happens in a worker thread so the event loop keeps running between lines.
    """
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            try:
                line = await asyncio.to_thread(input, prompt)
            except (EOFError, KeyboardInterrupt):
                return
        else:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                return
        yield line


async def console_main(app: App, userid: str, chat_id: str | None) -> int:
    session = ConsoleSession(userid=userid, chat_id=chat_id)
    print(session.describe() + " " + CONSOLE_HELP, flush=True)
    await run_console(app, session, stdin_lines("> "), lambda text: print(text, flush=True))
    return 0
