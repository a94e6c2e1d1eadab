"""Talking to the bot as someone at a keyboard: who says what, in which group or privately.

The console, `demo`, `simulate` and the tests all speak to the bot this way, so the message is
built in one place (`Speaker.incoming`: the console channel, a fresh msgid, received at the
clock's now) and sent along one of two paths:

- `Speaker.say`: the whole path a WeCom message takes (inbox → router → outbox → sender);
- `Speaker.ask`: straight through the router, for tests that read a handler's effects.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.core.clock import Clock
from bot.core.messages import Channel, ChatType, Effect, Incoming, Reply

if TYPE_CHECKING:
    from bot.pipeline.outbox_worker import OutboxWorker
    from bot.routing.router import Dispatcher
    from bot.runtime.app import App


@dataclass
class Speaker:
    """Numbers the messages of one conversation; `prefix` keeps msgids apart between runs."""

    clock: Clock
    prefix: str = "m"
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), init=False, repr=False)

    def incoming(
        self,
        userid: str,
        text: str,
        chat: str | None = None,
        *,
        quote: str | None = None,
        reply_context: dict[str, str] | None = None,
    ) -> Incoming:
        """`userid` says `text` in group `chat`, or privately when `chat` is None."""
        return Incoming(
            channel=Channel.CONSOLE,
            msgid=f"{self.prefix}{next(self._ids)}",
            userid=userid,
            text=text,
            chat_type=ChatType.GROUP if chat else ChatType.SINGLE,
            chat_id=chat,
            quote=quote,
            received_at=self.clock.now(),
            reply_context=reply_context or {},
        )

    async def say(self, app: App, userid: str, text: str, chat: str | None = None) -> None:
        """Send through the app; returns once the answers, and whatever fell due with them
        (e.g. the digest that 周报 现在 asks for), went out through its senders."""
        await answer(app, self.incoming(userid, text, chat))

    def ask(
        self,
        dispatcher: Dispatcher,
        userid: str,
        text: str,
        chat: str | None = None,
        *,
        quote: str | None = None,
        reply_context: dict[str, str] | None = None,
    ) -> list[Effect]:
        """Straight through the router (no inbox, no outbox): the effects the handler returned."""
        incoming = self.incoming(userid, text, chat, quote=quote, reply_context=reply_context)
        return dispatcher.handle_sync(incoming)


async def answer(app: App, incoming: Incoming) -> None:
    """Handle one message through the pipeline, then send its answers and whatever fell due
    with them; returns once they went out through the app's senders."""
    await app.pipeline.handle_now(incoming)
    await app.scheduler.run_due()
    await deliver(app.worker)


async def deliver(worker: OutboxWorker) -> None:
    """Send everything due in the outbox; a message waiting for a retry is left for later."""
    while await worker.run_once():
        pass


def reply_texts(effects: list[Effect]) -> str:
    """All reply texts (public and private) joined, as the user would read them."""
    return "\n".join(e.text for e in effects if isinstance(e, Reply))
