"""The leaders' dashboard over HTTP: the right alliance's data, nothing else, 403 for bad links."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.core.clock import FakeClock
from bot.core.settings import Settings
from reports.dashboard_routes import add_routes
from reports.links import sign
from storage.reviews import ReviewParts

from .conftest import NOW, WEST_SECRET, District

SECRET = "dashboard-secret-for-tests-0123456789"
WEST_WORDS = ("孙丽", "陈静", "西城小学", "西部专属研讨", WEST_SECRET[:8])

ClientMaker = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


def settings_for(d: District, secret: str | None = SECRET) -> Settings:
    values: dict[str, Any] = {"JIAOYAN_DB": d.db, "JIAOYAN_ADMINS": "boss"}
    if secret is not None:
        values["JIAOYAN_DASHBOARD_SECRET"] = secret
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class Site:
    def __init__(self, client: TestClient[Any, Any], clock: FakeClock, d: District) -> None:
        self.client = client
        self.clock = clock
        self.d = d

    def token(self, userid: str = "lead1", alliance_id: int | None = None) -> str:
        alliance = self.d.east.id if alliance_id is None else alliance_id
        return sign(SECRET, alliance, userid, self.clock.now() + timedelta(hours=24))

    async def get(self, path: str, token: str | None = None) -> tuple[int, str, Any]:
        response = await self.client.get(f"/reports/{token or self.token()}/{path}")
        body = await response.read()
        text = body.decode("utf-8", "replace") if response.content_type.startswith("text") else ""
        return response.status, text, response


@pytest.fixture
async def site(district: District, aiohttp_client: ClientMaker) -> Site:
    clock = FakeClock(NOW)
    app = web.Application()
    add_routes(app, district.storage, settings_for(district), clock)
    return Site(await aiohttp_client(app), clock, district)


async def test_overview_shows_the_alliance_numbers_and_missing_names(site: Site) -> None:
    status, html, response = await site.get("?p=本周")
    assert status == 200
    assert "东部联盟 · 教研看板" in html and "本周（11月23日–11月29日）" in html
    assert "刘洋（联盟负责人）" in html
    assert ">75%<" in html and ">63%<" in html  # total sign-in and reflection rates
    one = '<td class="name">东部一小</td>'
    assert one in html and '80%</span> <span class="count">4/5</span>' in html
    assert html.index(one) < html.index('<td class="name">东部二小</td>')
    assert "未签到 1 人" in html and "东部二小：赵磊" in html
    assert "较上期↓25个百分点" in html
    for word in WEST_WORDS:
        assert word not in html
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "http://" not in html.replace('href="', "")  # no external assets


async def test_overview_counts_observations_and_reviews_per_school(site: Site) -> None:
    status, html, _ = await site.get("?p=本周")
    assert status == 200 and "各校听评课" not in html  # nobody wrote any yet
    d = site.d
    parts = ReviewParts(strengths="导入自然", weaknesses="讨论偏短", suggestions="多展示")
    for observer in ("张敏", "赵磊"):
        d.storage.reviews.observe(
            alliance_id=d.east.id,
            observer_id=d.people[observer].id,
            teacher_id=d.people["王芳"].id,
            lesson_date=date(2026, 11, 25),
            topic="圆的面积",
            subject=None,
            parts=parts,
            at=NOW,
        )
    status, html, _ = await site.get("?p=本周")
    assert "各校听评课" in html and ">2 · 0<" in html
    row = html[html.index('<table class="reviews">') :]
    assert '<td class="name">东部二小</td><td class="num">2</td><td class="num">0</td>' in row
    assert '<td class="num">2/2</td>' in row
    assert "导入自然" not in html  # counts only


async def test_bare_token_redirects_to_the_page(site: Site) -> None:
    response = await site.client.get(f"/reports/{site.token()}", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].endswith("/")


async def test_reflections_search_highlights_and_stays_in_the_alliance(site: Site) -> None:
    status, html, _ = await site.get("reflections?p=本周&q=小组合作")
    assert status == 200
    assert "包含「小组合作」的反思 3 篇" in html and html.count("<mark>小组合作</mark>") >= 3
    status, html, _ = await site.get("reflections?p=本学期&q=西部秘密关键词")
    assert "包含「西部秘密关键词」的反思 0 篇" in html and "没有找到反思" in html
    status, html, _ = await site.get("reflections?p=本学期")
    assert "共 6 篇" in html
    for word in WEST_WORDS:
        assert word not in html


async def test_user_text_is_escaped(site: Site) -> None:
    d = site.d
    d.storage.submissions.submit_reflection(
        1, d.people["刘洋"].id, '<script>alert("x")</script><img src=x onerror=alert(1)>', at=NOW
    )
    d.storage.activities.update(2, at=NOW, title="<b>加粗</b>")
    _, html, _ = await site.get("reflections?p=本周&q=script")
    assert "<script>alert" not in html and "&lt;" in html and "<img src=x" not in html
    _, html, _ = await site.get("?p=本周")
    assert "<b>加粗</b>" not in html and "&lt;b&gt;加粗&lt;/b&gt;" in html


async def test_charts_are_png_images(site: Site) -> None:
    for path in ("trend.png", "rates.png?p=本周"):
        status, _, response = await site.get(path)
        assert status == 200 and response.content_type == "image/png"
        assert (await response.read()).startswith(b"\x89PNG")


async def test_excel_download_holds_only_this_alliance(site: Site) -> None:
    status, _, response = await site.get("export.xlsx?p=本学期")
    assert status == 200
    assert response.content_type.startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(await response.read()))
    text = " ".join(
        str(v) for s in book.worksheets for row in s.iter_rows(values_only=True) for v in row if v
    )
    assert "秋天的雨" in text
    for word in WEST_WORDS:
        assert word not in text


async def test_expired_link_gets_a_chinese_403_and_no_data(site: Site) -> None:
    token = site.token()
    site.clock.advance(timedelta(hours=24))
    for path in ("", "reflections", "trend.png", "export.xlsx"):
        status, html, _ = await site.get(path, token)
        assert status == 403
        assert "链接已过期" in html and "东部一小" not in html


async def test_altered_link_gets_a_chinese_403_and_no_data(site: Site) -> None:
    token = site.token()
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    status, html, _ = await site.get("", tampered)
    assert status == 403 and "链接无效" in html and "东部" not in html


async def test_a_link_for_someone_without_reach_shows_nothing(site: Site) -> None:
    d = site.d
    # The west's leader, even with a correctly signed link, cannot see the east.
    status, html, _ = await site.get("", site.token("lead2", d.east.id))
    assert status == 403 and "无权查看" in html and "东部一小" not in html
    # A teacher cannot see names at all.
    status, _, _ = await site.get("", site.token("t1"))
    assert status == 403
    # Staff and configured admins reach every alliance.
    assert (await site.get("?p=本周", site.token("staff1", d.west.id)))[0] == 200
    status, html, _ = await site.get("?p=本周", site.token("boss", d.west.id))
    assert status == 200 and "西城小学" in html and "东部一小" not in html


async def test_west_link_shows_only_the_west(site: Site) -> None:
    status, html, _ = await site.get("?p=本周", site.token("lead2", site.d.west.id))
    assert status == 200 and "中西部联盟" in html and "西城小学" in html
    for word in ("东部一小", "东部二小", "秋天的雨", "赵磊", "王芳"):
        assert word not in html


async def test_role_change_revokes_an_unexpired_link(site: Site) -> None:
    token = site.token()
    site.d.storage.roster.update_member(site.d.people["刘洋"].id, role="teacher")
    status, _, _ = await site.get("", token)
    assert status == 403


async def test_exported_files_are_served_only_to_their_alliance(site: Site) -> None:
    folder = site.d.data_dir / "exports"
    folder.mkdir(parents=True)
    (folder / f"a{site.d.west.id}_20261127-180000.xlsx").write_bytes(b"west data")
    (folder / f"a{site.d.east.id}_20261127-180000.xlsx").write_bytes(b"east data")
    (site.d.data_dir / "private.txt").write_bytes(b"west data")  # beside the exports
    status, _, response = await site.get(f"files/a{site.d.east.id}_20261127-180000.xlsx")
    assert status == 200 and await response.read() == b"east data"
    for name in (f"a{site.d.west.id}_20261127-180000.xlsx", "..%2Fprivate.txt", "x.xlsx"):
        status, html, _ = await site.get(f"files/{name}")
        assert status in (403, 404) and "west data" not in html


async def test_dashboard_is_off_without_a_secret(
    district: District, aiohttp_client: ClientMaker
) -> None:
    app = web.Application()
    add_routes(app, district.storage, settings_for(district, secret=None), FakeClock(NOW))
    client = await aiohttp_client(app)
    token = sign(SECRET, district.east.id, "lead1", NOW + timedelta(hours=1))
    response = await client.get(f"/reports/{token}/")
    html = await response.text()
    assert response.status == 403 and "JIAOYAN_DASHBOARD_SECRET" in html and "东部一小" not in html
