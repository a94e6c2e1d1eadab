"""Talking to the bot on the playground page and moving its clock, over its HTTP API."""

from __future__ import annotations

from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.channels.playground.routes import PlaygroundRoutes
from bot.runtime.playground import RosterDirectory, submit_to
from tests.fakes.small_alliance import GROUP
from tests.scheduling.conftest import SHANGHAI, local

from .conftest import Playground, pushed_until


async def test_a_member_speaks_in_the_group_and_the_reply_is_pushed_to_the_page(
    playground: Playground,
) -> None:
    socket = await playground.page_socket()
    status, body = await playground.say(
        "lead1", "发起活动 周三 15:00 集体备课 地点:东部一小", GROUP
    )
    assert (status, body) == (200, {"ok": True})
    pushed = await pushed_until(socket, lambda m: m["from_bot"] and m["chat"] == GROUP)
    said, *_, reply = pushed
    assert said["speaker"] == "刘洋" and not said["from_bot"] and said["chat"] == GROUP
    assert "集体备课" in said["html"]
    assert "A1" in reply["html"] and "集体备课" in reply["html"]
    assert reply["speaker"] == "教研助手" and reply["time"] == "3月4日 周一 08:00"
    await socket.close()


async def test_a_private_answer_goes_to_the_members_private_chat(playground: Playground) -> None:
    socket = await playground.page_socket()
    await playground.say("t1", "我的")
    [said, reply] = await pushed_until(socket, lambda m: m["from_bot"])
    assert said["person"] == reply["person"] == "t1" and reply["chat"] is None
    assert reply["person_name"] == "王芳"
    state = await (await playground.client.get("/playground/api/state")).json()
    assert [m["id"] for m in state["messages"]] == [said["id"], reply["id"]]
    assert {"value": "t1", "label": "王芳（东部一小，教师）"} in state["members"]
    assert {"value": GROUP, "label": f"{GROUP}（东部联盟）"} in state["groups"]


async def test_moving_the_clock_sends_the_reminder_at_its_time(playground: Playground) -> None:
    await playground.say("lead1", "发起活动 周三 15:00 集体备课 地点:东部一小", GROUP)
    socket = await playground.page_socket()
    response = await playground.client.post(
        "/playground/api/clock", json={"to": "2030-03-05T19:00"}
    )
    assert response.status == 200
    assert (await response.json())["clock"]["label"] == "3月5日 周二 19:00"
    [reminder] = await pushed_until(socket, lambda m: m["from_bot"])
    assert reminder["chat"] == GROUP and "明天" in reminder["html"]
    assert "集体备课" in reminder["html"]
    assert reminder["time"] == "3月5日 周二 18:00"  # sent when due, not when the clock stopped
    assert playground.clock.now() == local("周二", "19:00")


async def test_clock_buttons_an_hour_a_day_and_friday_five_pm(playground: Playground) -> None:
    async def jump(body: dict[str, object]) -> str:
        response = await playground.client.post("/playground/api/clock", json=body)
        assert response.status == 200
        return str((await response.json())["clock"]["label"])

    assert await jump({"hours": 1}) == "3月4日 周一 09:00"
    assert await jump({"days": 1}) == "3月5日 周二 09:00"
    assert await jump({"next": "friday17"}) == "3月8日 周五 17:00"
    assert await jump({"next": "friday17"}) == "3月15日 周五 17:00"  # the next one after it


async def test_the_digest_arrives_on_friday_at_five(playground: Playground) -> None:
    socket = await playground.page_socket()
    await playground.client.post("/playground/api/clock", json={"next": "friday17"})
    digests = await pushed_until(socket, lambda m: "周报" in m["html"] and m["chat"] == GROUP)
    assert digests[-1]["time"] == "3月8日 周五 17:00"
    assert '<div class="md-h md-h2">' in digests[-1]["html"]  # markdown, rendered
    assert "&lt;font" not in digests[-1]["html"] and "<font" not in digests[-1]["html"]


async def test_bad_requests_are_refused_in_chinese_and_change_nothing(
    playground: Playground,
) -> None:
    assert await playground.say("nobody", "帮助") == (400, {"error": "请先从名册里选一个发言人。"})
    assert await playground.say("t1", "   ") == (400, {"error": "消息是空的。"})
    assert await playground.say("t1", "帮助", "no-such-group") == (400, {"error": "没有这个群。"})
    back = await playground.client.post("/playground/api/clock", json={"to": "2030-03-01T08:00"})
    assert back.status == 400
    assert (await back.json())["error"] == "时钟只能往前拨（现在是 3月4日 周一 08:00）。"
    far = await playground.client.post("/playground/api/clock", json={"days": 40})
    assert (await far.json())["error"] == "一次最多往前拨 31 天。"
    junk = await playground.client.post("/playground/api/clock", data=b"not json")
    assert (await junk.json())["error"] == "请求格式不对。"
    assert playground.clock.now() == local("周一", "08:00")
    state = await (await playground.client.get("/playground/api/state")).json()
    assert state["messages"] == []


async def test_an_export_opens_from_the_page_and_nothing_else_does(
    playground: Playground,
) -> None:
    await playground.say("lead1", "导出 本周")
    state = await (await playground.client.get("/playground/api/state")).json()
    [said, reply] = state["messages"]
    assert reply["person"] == "lead1" and "已导出「东部联盟」本周" in reply["html"]
    assert reply["attachment"] == {
        "name": "东部联盟-教研档案-20300304.xlsx",
        "image": False,
        "url": f"files/{reply['id']}",
    }
    response = await playground.client.get(f"/playground/{reply['attachment']['url']}")
    assert response.status == 200
    assert (await response.read())[:2] == b"PK"  # the workbook the export wrote
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert (await playground.client.get(f"/playground/files/{said['id']}")).status == 404
    assert (await playground.client.get("/playground/files/999")).status == 404


async def test_the_page_carries_the_conversation_so_far(playground: Playground) -> None:
    await playground.say("t1", "<script>alert(1)</script>", GROUP)
    page = await playground.client.get("/playground/")
    html = await page.text()
    assert page.status == 200 and "教研助手 · 体验页" in html
    assert "<script>alert" not in html  # the inlined state cannot close the script element
    assert "\\u0026lt;script\\u0026gt;alert(1)" in html  # escaped twice: HTML, then JSON
    assert "https://" not in html.split("<script>")[0]  # no assets from elsewhere


@pytest.mark.parametrize(
    ("peer", "allowed"), [("127.0.0.1", True), ("::1", True), ("192.0.2.7", False)]
)
async def test_served_by_serve_the_page_answers_this_machine_only(
    playground: Playground, peer: str, allowed: bool
) -> None:
    routes = PlaygroundRoutes(
        hub=playground.hub,
        directory=RosterDirectory(playground.app.storage),
        deliver=submit_to(playground.app.pipeline),
        clock=playground.clock,
        zone=SHANGHAI,
        local_only=True,
    )
    web_app = web.Application()
    routes.add_routes(web_app)
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 40000) if name == "peername" else default
    )
    request = make_mocked_request("GET", "/playground/", app=web_app, transport=transport)
    match = await web_app.router.resolve(request)
    if allowed:
        response = await match.handler(request)
        assert response.status == 200
    else:
        with pytest.raises(web.HTTPForbidden) as refused:
            await match.handler(request)
        assert refused.value.text == "体验页只对本机开放（http://127.0.0.1）。"
