"""Reading a 三个一 comment (优点 / 不足 / 建议) out of a 评课 or 听课 message.

The parts may come in any order, on one line or several, with or without a colon after the
label, numbered or not (1.优点：… / 一、不足 …). A label counts only where a part can begin
(the start, or after a space, a line break or a punctuation mark), so 「学生的问题」 inside a
sentence is text, not a new part; a synonym (问题, 希望) also needs a colon or a space after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.routing.context import Hint
from storage.reviews import ReviewParts

STRENGTHS, WEAKNESSES, SUGGESTIONS = "优点", "不足", "建议"
PARTS = (STRENGTHS, WEAKNESSES, SUGGESTIONS)
SCORES = "评分"  # optional: the 量表 scores, inline (评分:4,5,3,4)
# Longest first, so 改进建议 is a 建议 and 不足之处 one label.
_SYNONYMS: dict[str, str] = {
    "改进建议": SUGGESTIONS,
    "不足之处": WEAKNESSES,
    "存在问题": WEAKNESSES,
    "值得学习": STRENGTHS,
    "优点": STRENGTHS,
    "亮点": STRENGTHS,
    "优势": STRENGTHS,
    "长处": STRENGTHS,
    "不足": WEAKNESSES,
    "缺点": WEAKNESSES,
    "问题": WEAKNESSES,
    "改进": WEAKNESSES,
    "建议": SUGGESTIONS,
    "希望": SUGGESTIONS,
    "期望": SUGGESTIONS,
    "评分": SCORES,
    "打分": SCORES,
}
_LABELS = "|".join(sorted(_SYNONYMS, key=len, reverse=True))
# Glued to its text (优点导入自然) only the plain labels count: 问题设计巧妙 is praise.
_GLUED = "优点|亮点|不足|缺点|建议|评分"
_LABEL = re.compile(
    r"(?:^|(?<=[\s;；。，,!！]))"
    r"(?:[0-9一二三①②③][.、．)）]?\s*)?"
    rf"(?:({_LABELS})\s*(?:[:：]\s*|\s+|$)|({_GLUED})(?=\S))",
    re.MULTILINE,
)
_TRIM = " \t\n;；，,。、"

EXAMPLE_PARTS = "优点:导入自然，情境贴近生活 不足:小组讨论时间偏短 建议:多给学生展示的机会"


@dataclass(frozen=True)
class Parsed:
    """What came before the first label (a code, a name, a date, 《课题》) and the parts."""

    head: str
    parts: dict[str, str]


def split_parts(text: str) -> Parsed:
    """The text before the first label and each labelled part (repeated labels joined)."""
    matches = list(_LABEL.finditer(text))
    if not matches:
        return Parsed(head=text.strip(_TRIM), parts={})
    parts: dict[str, str] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip(_TRIM)
        part = _SYNONYMS[match.group(1) or match.group(2)]
        if body:
            parts[part] = f"{parts[part]}；{body}" if part in parts else body
    return Parsed(head=text[: matches[0].start()].strip(_TRIM), parts=parts)


def require_parts(parsed: Parsed, example: str) -> ReviewParts:
    """The three parts, or a Hint: with no labels, what to write; else which are missing
    (nothing is kept until all three are there)."""
    if not parsed.parts:
        raise Hint(
            "请按「三个一」写：优点（说出一点优点）、不足（找出一点不足）、建议（提一点希望），"
            f"可以分行写，顺序不限。例如：{example}"
        )
    missing = [part for part in PARTS if part not in parsed.parts]
    if missing:
        raise Hint(
            f"还缺「{'」「'.join(missing)}」，这条没有保存。请把三部分一起再发一次，例如：{example}"
        )
    return ReviewParts(
        strengths=parsed.parts[STRENGTHS],
        weaknesses=parsed.parts[WEAKNESSES],
        suggestions=parsed.parts[SUGGESTIONS],
    )
