"""Normalising what people type before a command is recognised."""

from __future__ import annotations

import re
import unicodedata

_MENTION = re.compile(r"^\s*(?:@\S+\s*)+")
_PREFIX = re.compile(r"^[/#＃／]+")
_SPACES = re.compile(r"[ \t\u3000\u00a0]+")


def normalize(text: str) -> str:
    """Full-width → half-width (NFKC), collapse spaces, keep line breaks."""
    folded = unicodedata.normalize("NFKC", text)
    lines = [_SPACES.sub(" ", line).strip() for line in folded.splitlines()]
    return "\n".join(lines).strip()


def strip_addressing(text: str) -> str:
    """Remove leading @mentions and an optional `/` or `#` before the command word."""
    text = _MENTION.sub("", text)
    return _PREFIX.sub("", text.lstrip()).lstrip()


def split_words(text: str) -> list[str]:
    return [word for word in re.split(r"[\s,，、;；]+", text) if word]
