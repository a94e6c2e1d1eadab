"""Normalising what people type before a command is recognised."""

from __future__ import annotations

import re
import unicodedata

# A leading @name, ended by any kind of space (ASCII, NBSP, full-width) or a comma.
_MENTION = re.compile(
    r"^[\s\u00a0\u3000]*(?:[@＠][^\s\u00a0\u3000,，:：]+[\s\u00a0\u3000,，:：]*)+"
)
_PREFIX = re.compile(r"^[/#＃／]+")
_SPACES = re.compile(r"[ \t\u3000\u00a0]+")
_LEAD_PUNCTUATION = " \t\u3000\u00a0,，、:：;；.。!！~～"


def fold(char: str) -> str:
    """One character as commands compare it: NFKC (full-width → ASCII) and lower case."""
    return unicodedata.normalize("NFKC", char).lower()


def normalize(text: str) -> str:
    """Full-width → half-width (NFKC), collapse spaces, keep line breaks."""
    folded = unicodedata.normalize("NFKC", text)
    lines = [_SPACES.sub(" ", line).strip() for line in folded.splitlines()]
    return "\n".join(lines).strip()


def strip_addressing(text: str) -> str:
    """Remove leading @mentions and an optional `/` or `#` before the command word."""
    text = _MENTION.sub("", text)
    return _PREFIX.sub("", text.lstrip()).lstrip()


def strip_leading_punctuation(text: str) -> str:
    """`，周三家里有事` → `周三家里有事`: what is left after a command word inside a sentence."""
    return text.lstrip(_LEAD_PUNCTUATION)


# Words people put before a command in a sentence: 好的，收到 / 我要请假，周三… / 麻烦签到.
_FILLERS = (
    "好的",
    "好嘞",
    "好滴",
    "好",
    "嗯嗯",
    "嗯",
    "ok",
    "okay",
    "我要",
    "我想",
    "想",
    "要",
    "麻烦",
    "帮我",
)


def strip_filler(text: str) -> str:
    """`好的，收到` → `收到`: drop courtesy words (and the punctuation after them) in front."""
    rest = text
    while True:
        lowered = rest.lower()
        filler = next((f for f in _FILLERS if lowered.startswith(f)), None)
        if filler is None:
            return rest
        rest = strip_leading_punctuation(rest[len(filler) :])


def fold_head(text: str) -> str:
    """Fold the leading word if it is letters and digits (`Ａ１ 今天…` → `A1 今天…`).

    A code like A7 or N3 must read the same however it was typed, while the text after it
    (a reflection, a reason) stays exactly as the user wrote it.
    """
    end = 0
    while end < len(text) and (folded := fold(text[end])).isascii() and folded.isalnum():
        end += 1
    return unicodedata.normalize("NFKC", text[:end]) + text[end:]


def split_words(text: str) -> list[str]:
    return [word for word in re.split(r"[\s,，、;；]+", text) if word]
