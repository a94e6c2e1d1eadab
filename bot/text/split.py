"""Split long messages at WeCom's UTF-8 byte limits, preferring line boundaries.

WeCom limits content in bytes, not characters (a CJK character is 3 bytes), and rejects
or truncates anything longer. Chunks concatenate back to the original text exactly.
"""

from __future__ import annotations

TEXT_MAX_BYTES = 2048
MARKDOWN_MAX_BYTES = 4096


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _split_long_line(line: str, max_bytes: int) -> list[str]:
    """Cut one line into pieces of at most `max_bytes`, only between characters."""
    pieces: list[str] = []
    start = 0
    size = 0
    for index, char in enumerate(line):
        width = _byte_len(char)
        if size + width > max_bytes:
            pieces.append(line[start:index])
            start, size = index, 0
        size += width
    if start < len(line):
        pieces.append(line[start:])
    return pieces


def split_text(text: str, max_bytes: int) -> list[str]:
    """Split `text` into ordered chunks of at most `max_bytes` UTF-8 bytes each.

    Breaks go right after a newline whenever a chunk can hold whole lines; a single line
    longer than the limit is cut at character boundaries. `"".join(result) == text`.
    An empty text gives an empty list.
    """
    if max_bytes < 4:
        raise ValueError("max_bytes must hold at least one UTF-8 character (4 bytes)")
    chunks: list[str] = []
    current: list[str] = []
    current_size = 0
    for line in text.splitlines(keepends=True):
        size = _byte_len(line)
        if current_size + size <= max_bytes:
            current.append(line)
            current_size += size
            continue
        if current:
            chunks.append("".join(current))
            current, current_size = [], 0
        if size <= max_bytes:
            current, current_size = [line], size
            continue
        pieces = _split_long_line(line, max_bytes)
        chunks.extend(pieces[:-1])
        current, current_size = [pieces[-1]], _byte_len(pieces[-1])
    if current:
        chunks.append("".join(current))
    return chunks
