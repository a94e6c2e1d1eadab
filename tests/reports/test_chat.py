"""导出 and 汇总 网页 in chat: links only privately, for people who may see the names."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.core.clock import FakeClock
from bot.core.messages import Effect, Reply
from bot.core.settings import Settings
from bot.routing.context import BotConfig
from bot.routing.router import Dispatcher
from handlers import build_router
from reports.dashboard_routes import add_routes
from reports.links import verify
from tests.fakes.router_bot import RouterBot

from .conftest import NOW, SHANGHAI, District

SECRET = "chat-dashboard-secret-0123456789abcdef"
PUBLIC = "https://jy.example.cn"
LINK = re.compile(r"https://jy\.example\.cn/reports/([A-Za-z0-9_\-.]+)/(\S*)")


@dataclass
class Chat(RouterBot):
    d: District

    def say(self, userid: str, text: str, chat: str | None = "group-east") -> list[Effect]:
        return self.speaker.ask(self.dispatcher, userid, text, chat)


def make_chat(d: District, secret: str | None = SECRET) -> Chat:
    clock = FakeClock(NOW)
    config = BotConfig(
        zone=SHANGHAI, admins=frozenset({"boss"}), dashboard_secret=secret, public_url=PUBLIC
    )
    return Chat(d.storage, clock, Dispatcher(build_router(), d.storage, clock, config), d)


@pytest.fixture
def chat(district: District) -> Chat:
    return make_chat(district)


def replies(effects: list[Effect], private: bool) -> str:
    return "\n".join(e.text for e in effects if isinstance(e, Reply) and e.private is private)


def test_dashboard_link_goes_privately_and_expires_in_a_day(chat: Chat) -> None:
    effects = chat.say("lead1", "汇总 网页")
    public, private = replies(effects, False), replies(effects, True)
    assert public == "看板链接已私信发给你。"
    assert "reports/" not in public
    match = LINK.search(private)
    assert match is not None and "「东部联盟」教研看板" in private and "请勿转发" in private
    claims = verify(SECRET, match.group(1), NOW)
    assert claims.alliance_id == chat.d.east.id and claims.userid == "lead1"
    assert claims.expires_at == NOW + timedelta(hours=24)
    assert "11月28日(周六) 18:00 前有效" in private


def test_kanban_command_in_private_chat_answers_directly(chat: Chat) -> None:
    effects = chat.say("lead1", "看板", chat=None)
    assert len(effects) == 1 and LINK.search(replies(effects, False)) is not None
    assert LINK.search(replies(chat.say("lead1", "汇总网页"), True)) is not None


def test_text_summary_is_unchanged(chat: Chat) -> None:
    out = replies(chat.say("lead1", "汇总 本周"), False)
    assert "「东部联盟」本周" in out and "reports/" not in out


def test_teachers_cannot_get_links_or_exports(chat: Chat) -> None:
    for text in ("汇总 网页", "看板", "导出"):
        out = replies(chat.say("t1", text), False) + replies(chat.say("t1", text), True)
        assert "权限" in out and "reports/" not in out


def test_without_a_secret_the_admin_is_told_what_to_set(district: District) -> None:
    chat = make_chat(district, secret=None)
    out = replies(chat.say("lead1", "汇总 网页"), False)
    assert "JIAOYAN_DASHBOARD_SECRET" in out and "reports/" not in out


def test_without_a_secret_export_still_delivers_the_file(district: District) -> None:
    chat = make_chat(district, secret=None)
    effects = chat.say("lead1", "导出 本周", chat=None)
    [reply] = [e for e in effects if isinstance(e, Reply)]
    assert "已导出「东部联盟」本周" in reply.text and "reports/" not in reply.text
    assert "JIAOYAN_DASHBOARD_SECRET" in reply.text
    assert reply.attachment is not None and reply.attachment.name.endswith(".xlsx")
    assert Path(reply.attachment.path).is_file()


async def test_export_builds_the_file_and_links_it_privately(
    chat: Chat, aiohttp_client: Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
) -> None:
    effects = chat.say("lead1", "导出 本周")
    assert replies(effects, False) == "导出完成，下载链接已私信发给你。"
    private = replies(effects, True)
    assert "已导出「东部联盟」本周（11月23日–11月29日）的教研档案" in private
    assert "活动 2 个，签到 6 条，反思 5 篇，请假 2 条" in private
    match = LINK.search(private)
    assert match is not None and match.group(2).startswith("files/a")
    files = list((chat.d.data_dir / "exports").glob("*.xlsx"))
    assert [f.name for f in files] == [match.group(2).removeprefix("files/")]

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, JIAOYAN_DB=chat.d.db, JIAOYAN_DASHBOARD_SECRET=SECRET
    )
    app = web.Application()
    add_routes(app, chat.d.storage, settings, chat.clock)
    client = await aiohttp_client(app)
    response = await client.get(f"/reports/{match.group(1)}/{match.group(2)}")
    assert response.status == 200
    book = openpyxl.load_workbook(files[0])
    assert book.sheetnames[0] == "活动" and book["活动"].max_row == 3


def test_export_of_another_alliance_needs_reach(chat: Chat) -> None:
    out = replies(chat.say("lead1", "导出 本学期 中西部联盟"), False)
    assert "只能管理本联盟" in out
    effects = chat.say("staff1", "导出 本学期 中西部联盟", chat=None)
    assert "已导出「中西部联盟」本学期" in replies(effects, False)


def test_export_with_a_bad_range_gets_a_hint(chat: Chat) -> None:
    out = replies(chat.say("lead1", "导出 去年夏天"), False)
    assert "没看懂「去年夏天」" in out and "导出 本学期" in out


def test_old_exports_are_cleaned_up(chat: Chat) -> None:
    chat.say("lead1", "导出 本周")
    chat.clock.advance(timedelta(days=3))
    chat.say("lead1", "导出 本周")
    names = sorted(f.name for f in (chat.d.data_dir / "exports").glob("*.xlsx"))
    assert names == [f"a{chat.d.east.id}_20261130-180000.xlsx"]
