"""Signed, encrypted callback requests as WeCom sends them, built with the test suite's
independent implementation of WeCom's side (`tests.fakes.wecom_crypto.WeComSide`)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from bench.world import BOT_NAME, GROUP_HTTP, REFLECTION, Campus
from tests.fakes.wecom_api import DEFAULT_AGENT_ID, DEFAULT_CORP_ID
from tests.fakes.wecom_crypto import WeComSide, app_text_xml
from tests.fakes.world import AIBOT_ID, FakeWeCom

Request = tuple[str, str]  # (path?query, body)


def command(campus: Campus, index: int) -> str:
    """Every other message a sign-in, the rest reflections: the mix of an activity day."""
    if index % 2 == 0:
        return f"签到 {campus.signin.code}"
    return f"反思 {campus.reflect.code} {REFLECTION}（第{index}篇）"


def aibot_request(
    fake: FakeWeCom,
    campus: Campus,
    index: int,
    *,
    msgid: str,
    timestamp: int,
    text: str | None = None,
    userid: str | None = None,
) -> Request:
    """A group @-mention to the smart bot in callback mode (doc 100719), from teacher `index`
    (or from `userid`)."""
    payload = {
        "msgid": msgid,
        "aibotid": AIBOT_ID,
        "chattype": "group",
        "chatid": GROUP_HTTP,
        "from": {"userid": userid or campus.userid(index)},
        "response_url": fake.response_url(f"RC-{msgid}"),
        "msgtype": "text",
        "text": {"content": f"{BOT_NAME} {text or command(campus, index)}"},
    }
    query, body = fake.aibot.aibot_post(payload, timestamp)
    return f"/wecom/aibot?{urlencode(query)}", body


def app_request(
    fake: FakeWeCom,
    campus: Campus,
    index: int,
    *,
    msgid: int,
    timestamp: int,
    text: str | None = None,
) -> Request:
    """A private text message to the self-built app (doc 90239), from teacher `index`."""
    xml = app_text_xml(
        corp_id=DEFAULT_CORP_ID,
        from_user=campus.userid(index),
        content=text or command(campus, index),
        msg_id=str(msgid),
        create_time=timestamp,
        agent_id=str(DEFAULT_AGENT_ID),
    )
    query, body = fake.app.app_post(xml, timestamp)
    return f"/wecom/app?{urlencode(query)}", body


def aibot_pool(fake: FakeWeCom, campus: Campus, count: int, *, prefix: str) -> list[Request]:
    now = int(time.time())
    return [
        aibot_request(fake, campus, i, msgid=f"{prefix}{i:07d}", timestamp=now)
        for i in range(count)
    ]


def app_pool(fake: FakeWeCom, campus: Campus, count: int, *, first_msgid: int) -> list[Request]:
    now = int(time.time())
    return [
        app_request(fake, campus, i, msgid=first_msgid + i, timestamp=now) for i in range(count)
    ]


def robot_xml(userid: str, text: str, msgid: str) -> str:
    """The group robot's XML callback (doc 99399) that `wecom-bot-svr` understands."""
    return (
        "<xml><WebhookUrl><![CDATA[http://127.0.0.1/cgi-bin/webhook/send?key=x]]></WebhookUrl>"
        f"<ChatId><![CDATA[{GROUP_HTTP}]]></ChatId><ChatType>group</ChatType>"
        f"<From><UserId>{userid}</UserId><Name><![CDATA[老师]]></Name>"
        f"<Alias><![CDATA[{userid}]]></Alias></From><MsgType>text</MsgType>"
        f"<Text><Content><![CDATA[{text}]]></Content></Text><MsgId>{msgid}</MsgId></xml>"
    )


def robot_pool(side: WeComSide, campus: Campus, count: int) -> list[Request]:
    """The same messages as `aibot_pool`, in the robot's XML envelope."""
    now = int(time.time())
    pool = []
    for i in range(count):
        xml = robot_xml(campus.userid(i), f"{BOT_NAME} {command(campus, i)}", f"peer{i:07d}")
        encrypted = side.encrypt(xml)
        query = side.query(encrypted, now)
        body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        pool.append((f"/wecom_bot?{urlencode(query)}", body))
    return pool
