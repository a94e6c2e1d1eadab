"""argparse speaking Chinese: usage, section titles, -h and the usual errors.

argparse writes its own boilerplate in English ("usage:", "options", "show this help message
and exit", "the following arguments are required"). Administrators read this help, so the
parser below replaces each of those texts; errors argparse raises are translated by pattern.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

HELP_TEXT = "显示帮助并退出"

_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (r"^the following arguments are required: (.+)$", r"缺少参数：\1"),
        (r"^unrecognized arguments: (.+)$", r"不认识的参数：\1"),
        (r"^argument (\S+): expected one argument$", r"参数 \1 后面要写一个值"),
        (r"^argument (\S+): expected at most one argument$", r"参数 \1 后面最多写一个值"),
        (r"^argument (\S+): expected at least one argument$", r"参数 \1 后面至少写一个值"),
        (r"^argument (\S+): invalid int value: (.+)$", r"参数 \1 应为整数，现在是 \2"),
        (r"^argument (\S+): invalid \S+ value: (.+)$", r"参数 \1 的值 \2 不对"),
        (
            r"^argument (\S+): invalid choice: (\S+) \(choose from (.+)\)$",
            r"没有 \2 这个命令，可用的有：\3",
        ),
        (r"^ambiguous option: (\S+) could match (.+)$", r"选项 \1 不明确，可能是：\2"),
        (r"^argument (\S+): (.+)$", r"参数 \1：\2"),
    )
)


def translate_error(message: str) -> str:
    """argparse's English error message in Chinese (our own messages pass unchanged)."""
    for pattern, text in _ERRORS:
        if pattern.match(message):
            return pattern.sub(text, message)
    return message


class ChineseHelpFormatter(argparse.HelpFormatter):
    """Usage line introduced by 用法 instead of "usage:"."""

    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, prefix="用法：" if prefix is None else prefix)


class ChineseArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose help and errors are Chinese; subparsers inherit it."""

    def __init__(self, *args: Any, add_help: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", ChineseHelpFormatter)
        kwargs["add_help"] = False  # our own -h below, with Chinese help
        # Parents are merged after the titles are Chinese, or their options would land in a
        # second group of the same name.
        parents: list[argparse.ArgumentParser] = kwargs.pop("parents", [])
        super().__init__(*args, **kwargs)
        self._positionals.title = "参数"
        self._optionals.title = "选项"
        if add_help:
            self.add_argument("-h", "--help", action="help", help=HELP_TEXT)
        for parent in parents:
            self._add_container_actions(parent)
            self._defaults.update(parent._defaults)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}：{translate_error(message)}\n")
