"""The bot's text on the page looks as WeCom shows it, and no text can inject markup."""

from __future__ import annotations

from bot.channels.playground.markdown import render_text


def names(userid: str) -> str:
    return {"t1": "王芳"}.get(userid, userid)


def md(text: str) -> str:
    return render_text(text, markdown=True, names=names)


def test_font_colours_become_styled_spans_not_raw_tags() -> None:
    html = md('还有 <font color="warning">13</font> 人未确认，<font color="info">已完成</font>')
    assert html == (
        '<div class="md-line">还有 <span class="md-warning">13</span> 人未确认，'
        '<span class="md-info">已完成</span></div>'
    )
    assert md('<font color="comment">名单已私信</font>') == (
        '<div class="md-line"><span class="md-comment">名单已私信</span></div>'
    )


def test_headings_bold_quotes_code_links_and_mentions() -> None:
    html = md(
        "## 东部联盟 · 教研周报\n**概况** 签到率 `92%`\n> 摘录\n\n[看板](https://x.example/r?a=1&b=2) <@t1>"
    )
    assert html == (
        '<div class="md-h md-h2">东部联盟 · 教研周报</div>'
        '<div class="md-line"><strong>概况</strong> 签到率 <code>92%</code></div>'
        '<div class="md-quote">摘录</div>'
        '<div class="md-gap"></div>'
        '<div class="md-line"><a href="https://x.example/r?a=1&amp;b=2" target="_blank" '
        'rel="noopener noreferrer">看板</a> <span class="md-mention">@王芳</span></div>'
    )


def test_bold_inside_a_colour_and_a_colour_inside_bold() -> None:
    assert md('<font color="warning">**3**</font>') == (
        '<div class="md-line"><span class="md-warning"><strong>3</strong></span></div>'
    )


def test_anything_else_is_escaped() -> None:
    html = md('<script>alert(1)</script> <font color="red">x</font> <img src=x onerror=alert(1)>')
    assert "<script" not in html and "<img" not in html and "<font" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;font color=&quot;red&quot;&gt;x&lt;/font&gt;" in html  # only WeCom's colours


def test_links_are_only_web_addresses_and_cannot_break_out_of_the_attribute() -> None:
    assert "<a" not in md("[点我](javascript:alert(1))")
    html = md('[x](https://a.example/"onmouseover="alert(1))')
    assert 'onmouseover="' not in html
    assert "<a" not in render_text("javascript:alert(1)", markdown=False)


def test_plain_text_is_escaped_whole_and_its_addresses_are_links() -> None:
    html = render_text("**不是粗体** <b>x</b>\n看板：https://x.example/r/abc。", markdown=False)
    assert html == (
        "**不是粗体** &lt;b&gt;x&lt;/b&gt;\n看板："
        '<a href="https://x.example/r/abc" target="_blank" rel="noopener noreferrer">'
        "https://x.example/r/abc</a>。"
    )


def test_unclosed_markup_stays_literal() -> None:
    assert md('**没有闭合 <font color="info">也没有') == (
        '<div class="md-line">**没有闭合 &lt;font color=&quot;info&quot;&gt;也没有</div>'
    )
