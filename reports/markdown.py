"""Writing WeCom markdown safely and within its size limit.

WeCom's markdown is a small subset (headings, **bold**, [links](url), `code`, > quotes,
<font color>, <@userid> mentions) and documents no escape character. User text (titles,
excerpts, notice bodies) is therefore neutralised rather than escaped: the characters that
start markup are replaced by their full-width look-alikes, and line breaks by spaces, so a
title can never open a link, a mention, a heading or a bold run in the digest.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.text.split import MARKDOWN_MAX_BYTES, split_text

_NEUTRAL = str.maketrans(
    {
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "<": "＜",
        ">": "＞",
        "#": "＃",
        "~": "～",
        "|": "｜",
        "\\": "＼",
        "@": "＠",
    }
)


def md_text(text: str, limit: int | None = None) -> str:
    """User text made inert for markdown, on one line, optionally cut to `limit` characters."""
    flat = " ".join(text.split()).translate(_NEUTRAL)
    if limit is not None and len(flat) > limit:
        return flat[: limit - 1] + "…"
    return flat


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def pack_sections(
    title: str, sections: Sequence[str], max_bytes: int = MARKDOWN_MAX_BYTES
) -> list[str]:
    """Pack whole sections (blocks of lines) into messages of at most `max_bytes` each.

    The first message starts with `title`; later ones with the title marked （续N）. A
    section that cannot fit a message on its own is split on line boundaries.
    """
    parts: list[str] = []
    current: list[str] = []

    def heading(number: int) -> str:
        return title if number == 1 else f"{title}（续{number}）"

    def room(number: int) -> int:
        return max_bytes - _size(heading(number) + "\n\n")

    def flush() -> None:
        if current:
            parts.append(heading(len(parts) + 1) + "\n\n" + "\n\n".join(current))
            current.clear()

    for section in (s.strip("\n") for s in sections):
        if not section:
            continue
        candidate = "\n\n".join([*current, section])
        if _size(candidate) <= room(len(parts) + 1):
            current.append(section)
            continue
        flush()
        if _size(section) <= room(len(parts) + 1):
            current.append(section)
            continue
        # Leave room for the longest heading this section could get.
        pieces = split_text(section, room(len(parts) + 99))
        for piece in pieces:
            current.append(piece.strip("\n"))
            flush()
    flush()
    return parts
