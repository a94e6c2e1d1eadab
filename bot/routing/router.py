"""Recognising commands and deciding, in one place, who may run them.

Modules of `handlers/` each own a `Router` (as in aiogram); the app includes them all
into one root router, and `Dispatcher` turns an `Incoming` into effects.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.clock import Clock
from bot.core.messages import Broadcast, Direct, Effect, Incoming, Reply
from bot.routing.context import BotConfig, Context, Hint
from bot.routing.permissions import Action, effective_role, needed_role_label
from bot.text.normalize import (
    fold,
    fold_head,
    normalize,
    strip_addressing,
    strip_filler,
    strip_leading_punctuation,
)
from storage import Storage
from storage.db import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Args:
    """What follows the command word: `text` normalised for parsing, `raw` as typed."""

    text: str
    raw: str


HandlerResult = Sequence[Effect] | Effect | str | None
Handler = Callable[[Context, Args], HandlerResult]


@dataclass(frozen=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    action: Action
    summary: str
    usage: str
    examples: tuple[str, ...]
    handler: Handler
    # Long-running (e.g. building a workbook): run off the event loop, on its own connection.
    background: bool = False

    @property
    def words(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class _Word:
    """A command word as `match` compares it, folded once instead of per message."""

    folded: str
    ascii: bool
    command: Command


@dataclass
class _Index:
    """Command words by first character, longest first; rebuilt when commands are added."""

    size: int
    by_first: dict[str, list[_Word]]
    empty: list[_Word]
    by_word: dict[str, Command]


@dataclass
class Router:
    name: str
    commands: list[Command] = field(default_factory=list)
    _index: _Index | None = field(default=None, init=False, repr=False, compare=False)

    def command(
        self,
        name: str,
        *,
        aliases: Sequence[str] = (),
        action: Action = Action.USE,
        summary: str,
        usage: str,
        examples: Sequence[str] = (),
        background: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.commands.append(
                Command(
                    name=name,
                    aliases=tuple(aliases),
                    action=action,
                    summary=summary,
                    usage=usage,
                    examples=tuple(examples),
                    handler=handler,
                    background=background,
                )
            )
            self._index = None
            return handler

        return register

    def include(self, *routers: Router) -> None:
        for router in routers:
            self.commands.extend(router.commands)
        self._index = None

    def find(self, word: str) -> Command | None:
        return self._words().by_word.get(word.lower())

    def match(self, text: str) -> tuple[Command, Args] | None:
        """Find the command whose word (longest first) starts the message.

        A message that opens with a courtesy word (好的，收到 / 我要请假，…) is tried again
        without it; the command word itself may be typed full-width or with spaces inside.
        """
        addressed = strip_addressing(text)
        found = self._match_at_start(addressed)
        rest = strip_filler(addressed)
        if found is None and rest != addressed:
            found = self._match_at_start(rest)
            addressed = rest
        if found is None:
            return None
        command, end = found
        raw = fold_head(strip_leading_punctuation(addressed[end:].strip()))
        return command, Args(text=normalize(raw), raw=raw)

    def _match_at_start(self, addressed: str) -> tuple[Command, int] | None:
        """The longest command word at the start and where it ends in `addressed`."""
        index = self._words()
        for word in index.by_first.get(fold(addressed[:1])[:1], ()):
            end = _word_end(addressed, word)
            if end is None:
                continue
            after = fold(addressed[end : end + 1])
            if word.ascii and after.isascii() and after.isalpha():
                continue  # "qdx" is not "qd"
            return word.command, end
        first = fold(addressed[:1])[:1]
        empty = next(
            (w for w in index.empty if not (first.isascii() and first.isalpha())),
            None,
        )
        return None if empty is None else (empty.command, 0)

    def _words(self) -> _Index:
        index = self._index
        if index is None or index.size != len(self.commands):
            index = self._index = _build_index(self.commands)
        return index

    def closest(self, text: str) -> Command | None:
        """The command a mistyped message most likely meant, or None.

        Only real typos count: the same first character (签倒 → 签到), the same characters in
        another order (到签 → 签到) or, for pinyin shortcuts, one letter off. A word that only
        shares a character with a command (好的 / 我的) is not a typo of it.
        """
        head = normalize(strip_addressing(text)).split(" ")[0].lower()
        best: tuple[float, Command] | None = None
        for command in self.commands:
            for word in command.words:
                lowered = word.lower()
                typed = head[: len(lowered)]
                if len(lowered) < 2 or not _looks_like_typo(typed, lowered):
                    continue
                ratio = difflib.SequenceMatcher(None, typed, lowered).ratio()
                if best is None or ratio > best[0]:
                    best = (ratio, command)
        return best[1] if best else None


def _looks_like_typo(typed: str, word: str) -> bool:
    """One wrong character after a correct first one, or the right characters swapped."""
    if len(typed) != len(word) or typed == word:
        return False
    if sorted(typed) == sorted(word):
        return True
    wrong = sum(1 for a, b in zip(typed, word, strict=True) if a != b)
    return typed[0] == word[0] and wrong == 1


def _word_end(text: str, word: _Word) -> int | None:
    """Where `word` ends if `text` starts with it, folding each character (full-width, case)
    and allowing spaces inside a Chinese word (签 到); None if it does not start `text`.

    Folding character by character keeps positions in `text` exact even where NFKC changes
    a character's length."""
    target = word.folded
    done = 0
    for position, char in enumerate(text):
        if done == len(target):
            return position
        if done > 0 and not word.ascii and char in _INNER_SPACES:
            continue
        folded = fold(char)
        if not target.startswith(folded, done) or not folded:
            return None
        done += len(folded)
    return len(text) if done == len(target) else None


_INNER_SPACES = frozenset(" \t\u3000\u00a0")


def _build_index(commands: Sequence[Command]) -> _Index:
    words = [
        _Word(folded=lowered, ascii=lowered.isascii(), command=command)
        for command in commands
        for lowered in (word.lower() for word in command.words)
    ]
    by_first: dict[str, list[_Word]] = {}
    for word in sorted(words, key=lambda w: -len(w.folded)):  # stable: ties keep their order
        if word.folded:
            by_first.setdefault(word.folded[0], []).append(word)
    by_word: dict[str, Command] = {}
    for word in words:
        by_word.setdefault(word.folded, word.command)
    return _Index(
        size=len(commands),
        by_first=by_first,
        empty=[w for w in words if not w.folded],
        by_word=by_word,
    )


class Dispatcher:
    """Builds the context of a message and runs the matching command safely."""

    def __init__(self, router: Router, storage: Storage, clock: Clock, config: BotConfig) -> None:
        self.router = router
        self._storage = storage
        self._clock = clock
        self._config = config

    def context_for(self, incoming: Incoming) -> Context:
        roster = self._storage.roster
        member = roster.member_by_userid(incoming.userid)
        role = effective_role(member, incoming.userid, self._config.admins)
        alliance = None
        if incoming.in_group and incoming.chat_id:
            binding = self._storage.chats.get(incoming.chat_id)
            alliance = roster.alliance(binding.alliance_id) if binding else None
        elif member is not None and member.alliance_id is not None:
            alliance = roster.alliance(member.alliance_id)
        return Context(
            incoming=incoming,
            member=member,
            role=role,
            alliance=alliance,
            storage=self._storage,
            clock=self._clock,
            config=self._config,
        )

    async def handle(self, incoming: Incoming) -> list[Effect]:
        """Handle a message and return its replies (`process` without a pipeline)."""
        replies: list[Effect] = []
        await self.process(incoming, replies.extend)
        return replies

    async def process(self, incoming: Incoming, commit: Callable[[list[Effect]], None]) -> None:
        """Handle a message and pass its replies to `commit` (the pipeline queues them).

        A foreground command runs here, its writes and `commit` in one transaction (they land
        together or not at all). A background command runs in a worker thread on its own
        database connection (connections are not shared between threads), so callbacks
        keep being answered while it works; its replies are committed after.
        """
        matched = self._match(incoming)
        location = self._storage.location
        if matched is not None and matched[0].background and location is not None:
            commit(await asyncio.to_thread(self._handle_isolated, incoming, location))
            return
        with transaction(self._storage.db.conn):
            commit(self._run(incoming, matched))

    def _handle_isolated(self, incoming: Incoming, location: Path | str) -> list[Effect]:
        storage = Storage.open(location)
        try:
            return Dispatcher(self.router, storage, self._clock, self._config).handle_sync(incoming)
        finally:
            storage.close()

    def handle_sync(self, incoming: Incoming) -> list[Effect]:
        return self._run(incoming, self._match(incoming))

    def _match(self, incoming: Incoming) -> tuple[Command, Args] | None:
        return self.router.match(incoming.text) if incoming.text.strip() else None

    def _run(self, incoming: Incoming, matched: tuple[Command, Args] | None) -> list[Effect]:
        ctx = self.context_for(incoming)
        if not incoming.text.strip():
            return [Reply(text="我目前只能看懂文字消息。发送「帮助」查看可以做什么。")]
        if matched is None:
            return [self._unknown(ctx, incoming.text)]
        command, args = matched
        try:
            if command.action is not Action.PUBLIC and ctx.role is None:
                ctx.require_member()
            if not ctx.may(command.action):
                raise Hint(f"「{command.name}」需要{needed_role_label(command.action)}权限。")
            with self._atomic():
                return _as_effects(command.handler(ctx, args))
        except Hint as hint:
            return [Reply(text=str(hint))]
        except Exception:
            log.exception("command %s failed for msgid %s", command.name, incoming.msgid)
            return [Reply(text="抱歉，处理这条消息时出错了，请稍后再试或联系管理员。")]

    def _atomic(self) -> AbstractContextManager[object]:
        """Inside a message's transaction, a command that fails or refuses (Hint) leaves no
        writes behind. Outside one (a background command) writes stay autocommitted: a long
        export must not hold the database's write lock."""
        conn = self._storage.db.conn
        return transaction(conn) if conn.in_transaction else contextlib.nullcontext()

    def _unknown(self, ctx: Context, text: str) -> Reply:
        help_command = self.router.find("帮助")
        if not ctx.incoming.in_group and help_command is not None:
            effects = _as_effects(help_command.handler(ctx, Args(text="", raw="")))
            first = effects[0] if effects else None
            if isinstance(first, Reply):
                return Reply(text="没看懂这条消息。\n" + first.text, markdown=first.markdown)
        closest = self.router.closest(text)
        if closest is not None:
            example = closest.examples[0] if closest.examples else closest.usage
            return Reply(text=f"没看懂。你是想用「{closest.name}」吗？例如：{example}")
        return Reply(text="没看懂。发送「帮助」查看所有命令。")


def _as_effects(result: HandlerResult) -> list[Effect]:
    if result is None:
        return []
    if isinstance(result, str):
        return [Reply(text=result)]
    if isinstance(result, Reply | Broadcast | Direct):
        return [result]
    return list(result)
