"""The console's "WeCom": outgoing messages printed as readable lines in the terminal."""

from __future__ import annotations

from collections.abc import Callable

from bot.core.messages import Channel, Outgoing, TargetKind

BOT_NAME = "教研助手"
_INDENT = "    "


class ConsoleSender:
    """Sender for Channel.CONSOLE: shows where each message goes and whom it @-mentions."""

    channel = Channel.CONSOLE

    def __init__(
        self,
        write: Callable[[str], None],
        names: Callable[[str], str] | None = None,
        *,
        bot_name: str = BOT_NAME,
    ) -> None:
        self._write = write
        self._names = names
        self._bot_name = bot_name

    async def send(self, message: Outgoing) -> None:
        self._write(self.format(message))

    def format(self, message: Outgoing) -> str:
        """`[群 chat-1] 教研助手: …` or `[私信 → 张老师] 教研助手: …`; later lines indented.

        An attachment is named on a last line with the file's place on disk
        (`[附件] 东部联盟-教研档案-20261128.xlsx（/…/exports/a2_….xlsx）`): the terminal cannot
        show it, but the person at it can open the file.
        """
        if message.target_kind is TargetKind.CHAT:
            where = f"群 {message.target}"
        else:
            where = f"私信 → {self._name(message.target)}"
        text = message.text.rstrip("\n")
        if message.mention:
            mentions = " ".join(f"@{self._mention(userid)}" for userid in message.mention)
            text = f"{mentions} {text}"
        first, *rest = text.split("\n")
        lines = [f"[{where}] {self._bot_name}: {first}"]
        lines.extend(f"{_INDENT}{line}" if line else "" for line in rest)
        if message.attachment is not None:
            attachment = message.attachment
            lines.append(f"{_INDENT}[附件] {attachment.name}（{attachment.path}）")
        return "\n".join(lines)

    def _mention(self, userid: str) -> str:
        return "所有人" if userid == "@all" else self._name(userid)

    def _name(self, userid: str) -> str:
        if self._names is None:
            return userid
        return self._names(userid) or userid
