"""The local console: chat with the bot in a terminal, through the same pipeline as WeCom.

Besides the pipeline it runs what `serve` runs in the background: the reminder scheduler (its
APScheduler alarm on the real clock) and the outbox worker. Reminders, scheduled notices and
digests are printed when they fall due, above the line being typed. At the end of the input
(a piped script) it first sends what is already due, e.g. a digest asked for with 周报 现在.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

from bot.cli.harness import Speaker, deliver
from bot.runtime.app import App
from bot.runtime.serve import TaskService

PROMPT = "> "
# Carriage return and "erase to the end of the line": the prompt line is drawn again below.
_CLEAR_LINE = "\r\x1b[K"

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


class Terminal:
    """Prints the bot's messages; one that arrives while a line is being typed goes above it.

    `typed` tells what has been typed at the prompt so far (readline's buffer), so the prompt
    line can be drawn again as it was.
    """

    def __init__(
        self, out: TextIO, *, prompt: str = PROMPT, typed: Callable[[], str] | None = None
    ) -> None:
        self.out = out
        self.prompt = prompt
        self._typed = typed or (lambda: "")
        self._prompting = False

    def write(self, text: str) -> None:
        if self._prompting:
            self.out.write(f"{_CLEAR_LINE}{text}\n{self.prompt}{self._typed()}")
        else:
            self.out.write(text + "\n")
        self.out.flush()

    @contextlib.contextmanager
    def prompting(self) -> Iterator[None]:
        """While the prompt waits for a line, messages are written above it."""
        self._prompting = True
        try:
            yield
        finally:
            self._prompting = False


def stdio_terminal() -> Terminal:
    """Standard output; on a terminal with line editing (readline) when there is one."""
    typed = None
    if sys.stdin.isatty():
        try:
            import readline  # importing it gives input() line editing and its buffer
        except ImportError:  # pragma: no cover - e.g. Windows without pyreadline
            pass
        else:
            typed = readline.get_line_buffer
    return Terminal(sys.stdout, typed=typed)


async def run_console(
    app: App,
    session: ConsoleSession,
    lines: AsyncIterator[str],
    write: Callable[[str], None],
) -> int:
    """Feed each line to the bot as a message and print every reply; returns messages handled.

    The scheduler and the outbox worker run meanwhile, as in `serve`. At the end of the input
    what is due by then is sent before returning; `:quit` only delivers what is queued.
    """
    stop_worker = asyncio.Event()
    worker = TaskService("outbox-worker", lambda: app.worker.run(stop_worker), stop_worker.set)
    await worker.start()
    try:
        await app.scheduler.start()  # catches up on what fell due, as at serve's start
        try:
            handled, quit_early = await _converse(app, session, lines, write)
            await app.pipeline.drain()
            if not quit_early:
                await app.scheduler.run_due()
        finally:
            await app.scheduler.stop()  # a round in progress finishes and queues its messages
        await deliver(app.worker)
    finally:
        await worker.stop()
    return handled


async def _converse(
    app: App,
    session: ConsoleSession,
    lines: AsyncIterator[str],
    write: Callable[[str], None],
) -> tuple[int, bool]:
    """Handle the lines until the input ends or `:quit`: (messages handled, quit early)."""
    speaker = Speaker(app.clock, prefix=f"console-{uuid.uuid4().hex[:8]}-")
    handled = 0
    async for text in join_continued(lines):
        if not text.strip():
            continue
        if text.startswith(":"):
            shown = session.switch(text.strip())
            if shown is None:
                return handled, True
            write(shown)
            continue
        # The replies are printed before the next line is read (the worker may be faster).
        await speaker.say(app, session.userid, text, session.chat_id)
        handled += 1
    return handled, False


async def stdin_lines(terminal: Terminal) -> AsyncIterator[str]:
    """Interactive prompt on a terminal; plain line reading when stdin is a pipe or file.

    Reading happens in a worker thread so the event loop keeps running between lines:
    that is when scheduled messages are printed.
    """
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            try:
                with terminal.prompting():
                    line = await asyncio.to_thread(input, terminal.prompt)
            except (EOFError, KeyboardInterrupt):
                return
        else:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                return
        yield line


async def console_main(app: App, terminal: Terminal, userid: str, chat_id: str | None) -> int:
    session = ConsoleSession(userid=userid, chat_id=chat_id)
    terminal.write(session.describe() + " " + CONSOLE_HELP)
    await run_console(app, session, stdin_lines(terminal), terminal.write)
    return 0
