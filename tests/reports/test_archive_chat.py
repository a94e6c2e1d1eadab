"""我的档案 and 档案 王芳 in chat: the file privately, links only for who asked, and only
within the asker's reach."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.core.messages import Reply
from bot.core.settings import Settings
from reports.dashboard_routes import add_routes
from reports.links import sign
from storage.models import Role

from .conftest import NOW, R1, District, at
from .test_chat import LINK, SECRET, Chat, make_chat, replies


@pytest.fixture
def chat(district: District) -> Chat:
    return make_chat(district)


def attachment_of(chat: Chat, userid: str, text: str) -> Path:
    [reply] = [e for e in chat.say(userid, text, chat=None) if isinstance(e, Reply)]
    assert reply.attachment is not None, reply.text
    return Path(reply.attachment.path)


def test_my_archive_goes_privately_with_the_workbook(chat: Chat) -> None:
    effects = chat.say("t1", "我的档案")
    assert replies(effects, False) == "档案已私信发给你。"
    private = replies(effects, True)
    assert "王芳本学期（2026年9月1日–2027年1月31日）的成长档案" in private
    assert "活动 5 个，反思 3 篇" in private and "学时 5.5" in private
    match = LINK.search(private)
    assert match is not None and match.group(2).startswith("archive/m")
    [reply] = [e for e in effects if isinstance(e, Reply) and e.private]
    assert reply.attachment is not None and reply.attachment.name == "王芳-成长档案-20261127.xlsx"
    book = openpyxl.load_workbook(reply.attachment.path)
    assert book.sheetnames[0] == "概览"
    assert [r[-1] for r in book["反思"].iter_rows(values_only=True)][2] == R1


def test_ranges_as_summaries_take_them(chat: Chat) -> None:
    assert "王芳2026学年（2026年9月1日–2027年8月31日）" in replies(
        chat.say("t1", "我的档案 2026学年", chat=None), False
    )
    week = replies(chat.say("t1", "我的档案 11月23日~11月29日", chat=None), False)
    assert "活动 2 个，反思 2 篇" in week and "学时 3.5" in week
    bad = replies(chat.say("t1", "我的档案 下下周", chat=None), False)
    assert "没看懂时间范围「下下周」" in bad and "我的档案 2026学年" in bad


def test_teachers_get_only_their_own(chat: Chat) -> None:
    out = replies(chat.say("t1", "档案 李强", chat=None), False)
    assert "权限" in out and "reports/" not in out
    exports = chat.d.data_dir / "exports"
    assert not (exports.exists() and list(exports.glob("m*")))  # nothing written


def test_a_leader_gets_a_teacher_of_her_alliance_only(chat: Chat) -> None:
    sheet = openpyxl.load_workbook(attachment_of(chat, "lead1", "档案 王芳"))["概览"]
    assert any("王芳（东部一小" in str(c) for row in sheet.iter_rows(values_only=True) for c in row)
    out = replies(chat.say("lead2", "档案 王芳", chat=None), False)
    assert "只能查看本联盟成员的档案" in out and "reports/" not in out
    own = openpyxl.load_workbook(attachment_of(chat, "lead1", "档案 2026学年"))["概览"]
    assert any("刘洋（东部一小" in str(c) for row in own.iter_rows(values_only=True) for c in row)
    west = openpyxl.load_workbook(attachment_of(chat, "staff1", "档案 孙丽 本学期"))
    assert [r[2] for r in west["活动"].iter_rows(min_row=2, values_only=True)] == ["西部专属研讨"]


def test_namesakes_are_asked_apart(chat: Chat) -> None:
    roster = chat.d.storage.roster
    erxiao = roster.find_school("东部二小")
    assert erxiao is not None
    roster.add_member(
        "王芳",
        at=at(11, 1),
        role=Role.TEACHER,
        alliance_id=chat.d.east.id,
        school_id=erxiao.id,
        userid="t1b",
    )
    out = replies(chat.say("lead1", "档案 王芳", chat=None), False)
    assert "有多位「王芳」" in out and "王芳(东部一小)" in out and "王芳(东部二小)" in out
    path = attachment_of(chat, "lead1", "档案 王芳(东部二小) 本学期")
    overview = openpyxl.load_workbook(path)["概览"]
    names = [r[1] for r in overview.iter_rows(values_only=True) if r[0] == "姓名"]
    assert names == ["王芳（东部二小，东部联盟，账号 t1b）"]


async def test_the_link_opens_only_for_who_asked(
    chat: Chat, aiohttp_client: Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
) -> None:
    match = LINK.search(replies(chat.say("t1", "我的档案", chat=None), False))
    assert match is not None
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, JIAOYAN_DB=chat.d.db, JIAOYAN_DASHBOARD_SECRET=SECRET
    )
    app = web.Application()
    add_routes(app, chat.d.storage, settings, chat.clock)
    client = await aiohttp_client(app)
    response = await client.get(f"/reports/{match.group(1)}/{match.group(2)}")
    assert response.status == 200
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    [(_, workbook), (_, page)] = LINK.findall(replies(chat.say("t1", "我的档案", chat=None), False))
    assert workbook.endswith(".xlsx") and page.endswith(".html")
    response = await client.get(f"/reports/{match.group(1)}/{page}")
    assert response.status == 200 and response.content_type == "text/html"
    assert "font-src data:" in response.headers["Content-Security-Policy"]
    assert "王芳 成长档案" in await response.text()
    # The same file with another teacher's genuine link: refused, nothing sent.
    other = sign(SECRET, chat.d.east.id, "t2", NOW + timedelta(hours=1))
    response = await client.get(f"/reports/{other}/{match.group(2)}")
    assert response.status == 403 and "不是为你生成的" in await response.text()


def test_without_a_secret_the_file_still_goes(district: District) -> None:
    chat = make_chat(district, secret=None)
    [reply] = [e for e in chat.say("t1", "我的档案", chat=None) if isinstance(e, Reply)]
    assert "JIAOYAN_DASHBOARD_SECRET" in reply.text and "reports/" not in reply.text
    assert reply.attachment is not None and Path(reply.attachment.path).is_file()


def test_old_archives_are_cleaned_up(chat: Chat) -> None:
    exports = chat.d.data_dir / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    old = exports / "m3-3_20261120-100000.xlsx"  # a week before NOW
    recent = exports / "m3-3_20261126-100000.html"  # yesterday: its link may still be used
    old.write_bytes(b"old")
    recent.write_bytes(b"recent")
    chat.say("t1", "我的档案", chat=None)
    assert not old.exists() and recent.exists()
