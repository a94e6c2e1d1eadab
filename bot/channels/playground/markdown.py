"""The bot's messages as HTML, rendered the way WeCom shows them, and never unsafe.

WeCom's markdown is a small subset: `#` headings, `**bold**`, `[text](url)`, `` `code` ``,
`>` quotes, `<font color="info|comment|warning">`, and `<@userid>` mentions. Those become
elements with classes the page styles; every other character is escaped, so text a member
typed (a title, a reflection) can never inject markup. Plain-text messages are escaped whole;
in both, http(s) addresses become links, as WeCom makes them clickable.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape

Names = Callable[[str], str]

FONT_COLOURS = ("info", "comment", "warning")
_INLINE = re.compile(
    r'<font color="(?P<colour>info|comment|warning)">(?P<font>.*?)</font>'
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<href>https?://[^)\s]+)\)"
    r"|`(?P<code>[^`\n]+)`"
    r"|<@(?P<mention>[^>\s]+)>"
    r"|(?P<url>https?://[^\s<>\"'）)，。；]+)"
)
_HEADING = re.compile(r"(#{1,6})\s+(.*)")


def render_text(text: str, *, markdown: bool, names: Names | None = None) -> str:
    """HTML for one message body: markdown (when the message is markdown) or plain text."""
    if not markdown:
        return _inline(text, names, markup=False)
    return "".join(_line(line, names) for line in text.split("\n"))


def _line(line: str, names: Names | None) -> str:
    heading = _HEADING.fullmatch(line)
    if heading:
        level = len(heading.group(1))
        return f'<div class="md-h md-h{level}">{_inline(heading.group(2), names)}</div>'
    if line.startswith(">"):
        return f'<div class="md-quote">{_inline(line[1:].lstrip(), names)}</div>'
    if not line.strip():
        return '<div class="md-gap"></div>'
    return f'<div class="md-line">{_inline(line, names)}</div>'


def _inline(text: str, names: Names | None, *, markup: bool = True) -> str:
    """Escape `text`, turning the recognised inline markup (only links when `markup` is off)
    into elements. Markup never spans lines, so an unclosed `**` stays literal."""
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        html = _element(match, names, markup)
        if html is None:
            continue
        out.append(escape(text[position : match.start()]))
        out.append(html)
        position = match.end()
    out.append(escape(text[position:]))
    return "".join(out)


def _element(match: re.Match[str], names: Names | None, markup: bool) -> str | None:
    if match.group("url") is not None:
        return _link(match.group("url"), escape(match.group("url")))
    if not markup:
        return None
    if match.group("colour") is not None:
        inner = _inline(match.group("font"), names)
        return f'<span class="md-{match.group("colour")}">{inner}</span>'
    if match.group("bold") is not None:
        return f"<strong>{_inline(match.group('bold'), names)}</strong>"
    if match.group("href") is not None:
        return _link(match.group("href"), escape(match.group("label")))
    if match.group("code") is not None:
        return f"<code>{escape(match.group('code'))}</code>"
    userid = match.group("mention")
    name = names(userid) if names is not None else userid
    return f'<span class="md-mention">@{escape(name or userid)}</span>'


def _link(href: str, label_html: str) -> str:
    return f'<a href="{escape(href)}" target="_blank" rel="noopener noreferrer">{label_html}</a>'
