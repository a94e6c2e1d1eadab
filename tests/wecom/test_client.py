"""WeComClient against the fake WeCom API: tokens, retries, errors, uploads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.errors import WeComError, WeComTransportError
from bot.core.clock import FakeClock
from tests.fakes.wecom_api import (
    DEFAULT_AGENT_ID,
    DEFAULT_APP_SECRET,
    DEFAULT_CORP_ID,
    FakeWeComAPI,
    Fault,
)
from tests.wecom.conftest import RecordingSleep

SEND = "/cgi-bin/message/send"


async def send(client: WeComClient, text: str = "明天上午九点教研活动，请准时签到。") -> None:
    await client.send_message(DEFAULT_APP_SECRET, DEFAULT_AGENT_ID, ["zhangsan"], text)


async def test_token_is_cached_and_refreshed_before_it_expires(
    client: WeComClient, fake_api: FakeWeComAPI, clock: FakeClock
) -> None:
    await send(client)
    clock.advance(timedelta(hours=1))
    await send(client)
    assert fake_api.token_requests == 1

    # 7200 s tokens are replaced 5 minutes early, so WeCom never sees an expired one.
    clock.advance(timedelta(seconds=7200 - 3600 - 299))
    await send(client)
    assert fake_api.token_requests == 2
    assert fake_api.errors == []
    assert len(fake_api.messages) == 3


async def test_token_expired_on_wecom_side_is_refreshed_once_and_message_delivered_once(
    client: WeComClient, fake_api: FakeWeComAPI
) -> None:
    await send(client, "第一条")
    fake_api.expire_tokens()

    await send(client, "第二条")

    assert fake_api.errors == [42001]
    assert fake_api.token_requests == 2
    assert [m.content for m in fake_api.messages] == ["第一条", "第二条"]


@pytest.mark.parametrize("errcode", [40014, 42001, 40001])
async def test_token_error_answer_triggers_one_refresh(
    client: WeComClient, fake_api: FakeWeComAPI, errcode: int
) -> None:
    fake_api.fail_next(Fault.error(errcode, path=SEND))

    await send(client)

    assert fake_api.token_requests == 2
    assert len(fake_api.messages) == 1


async def test_token_refreshed_only_once_when_wecom_keeps_rejecting(
    client: WeComClient, fake_api: FakeWeComAPI
) -> None:
    fake_api.fail_next(Fault.error(42001, path=SEND), Fault.error(42001, path=SEND))

    with pytest.raises(WeComError) as caught:
        await send(client)

    assert caught.value.errcode == 42001
    assert caught.value.retryable
    assert fake_api.token_requests == 2
    assert fake_api.messages == []


async def test_concurrent_senders_share_one_token_fetch(
    client: WeComClient, fake_api: FakeWeComAPI
) -> None:
    await asyncio.gather(*(send(client, f"通知 {i}") for i in range(5)))

    assert fake_api.token_requests == 1
    assert sorted(m.content or "" for m in fake_api.messages) == [f"通知 {i}" for i in range(5)]


@pytest.mark.parametrize(
    "faults",
    [
        [Fault.http(500, path=SEND), Fault.http(502, path=SEND)],
        [Fault.error(45009, path=SEND), Fault.error(-1, path=SEND)],
        [Fault.error(45033, path=SEND)],
        [Fault.drop(path=SEND)],
    ],
    ids=["http-5xx", "freq-limit-and-busy", "concurrency-limit", "connection-dropped"],
)
async def test_transient_failures_are_retried_and_delivered_once(
    client: WeComClient, fake_api: FakeWeComAPI, sleeper: RecordingSleep, faults: list[Fault]
) -> None:
    fake_api.fail_next(*faults)

    await send(client)

    assert len(fake_api.messages) == 1
    assert len(sleeper.delays) == len(faults)
    # Exponential backoff with jitter: step 1 s, 2 s, ... each taken at 50-100 %.
    for attempt, delay in enumerate(sleeper.delays):
        assert 0.5 * 2**attempt <= delay <= 2**attempt


async def test_timeout_is_retried(
    make_client: Callable[..., WeComClient], fake_api: FakeWeComAPI, sleeper: RecordingSleep
) -> None:
    # Long enough that the retried request never times out on a loaded machine too; the
    # hang outlasts it, so the first request surely does.
    client = make_client(timeout=0.5)
    fake_api.fail_next(Fault.hang(path=SEND))

    await send(client)

    assert len(fake_api.messages) == 1
    assert fake_api.requests.count(SEND) == 2
    assert len(sleeper.delays) == 1


async def test_ip_not_trusted_gives_chinese_admin_hint_and_is_not_retried(
    client: WeComClient, fake_api: FakeWeComAPI, sleeper: RecordingSleep
) -> None:
    fake_api.fail_next(Fault.error(60020, path=SEND))

    with pytest.raises(WeComError) as caught:
        await send(client)

    error = caught.value
    assert error.errcode == 60020
    assert not error.retryable
    assert error.admin_hint is not None and "可信 IP" in error.admin_hint
    assert "可信 IP" in error.describe()
    assert fake_api.requests.count(SEND) == 1
    assert sleeper.delays == []
    assert fake_api.messages == []


async def test_gives_up_after_max_retries_with_retryable_transport_error(
    make_client: Callable[..., WeComClient], fake_api: FakeWeComAPI, sleeper: RecordingSleep
) -> None:
    client = make_client(max_retries=2)
    fake_api.fail_next(*[Fault.http(503, path=SEND)] * 3)

    with pytest.raises(WeComTransportError) as caught:
        await send(client)

    assert caught.value.retryable
    assert caught.value.admin_hint is not None and "WECOM_API_BASE" in caught.value.admin_hint
    assert fake_api.requests.count(SEND) == 3
    assert len(sleeper.delays) == 2
    assert fake_api.messages == []


async def test_persistent_rate_limit_surfaces_as_retryable(
    make_client: Callable[..., WeComClient], fake_api: FakeWeComAPI
) -> None:
    client = make_client(max_retries=1)
    fake_api.fail_next(Fault.error(45009, path=SEND), Fault.error(45009, path=SEND))

    with pytest.raises(WeComError) as caught:
        await send(client)

    assert caught.value.errcode == 45009
    assert caught.value.retryable


async def test_wrong_secret_is_not_retried_and_never_logged(
    client: WeComClient, fake_api: FakeWeComAPI, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "this-secret-must-never-appear-in-logs"
    caplog.set_level(logging.DEBUG, logger="bot")

    with pytest.raises(WeComError) as caught:
        await client.send_message(wrong, DEFAULT_AGENT_ID, ["zhangsan"], "你好")

    assert caught.value.errcode == 40001
    assert not caught.value.retryable
    assert caught.value.admin_hint is not None and "Secret" in caught.value.admin_hint
    assert fake_api.token_requests == 1
    bot_logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot"))
    assert wrong not in bot_logs
    assert wrong not in str(caught.value)


async def test_tokens_and_secrets_stay_out_of_logs_on_network_failure(
    make_client: Callable[..., WeComClient],
    fake_api: FakeWeComAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client(max_retries=1)
    caplog.set_level(logging.DEBUG, logger="bot")
    await send(client)
    token = await client.get_token(DEFAULT_APP_SECRET)
    fake_api.fail_next(Fault.drop(path=SEND), Fault.drop(path=SEND))

    with pytest.raises(WeComTransportError) as caught:
        await send(client)

    bot_logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot"))
    for secret in (DEFAULT_APP_SECRET, token):
        assert secret not in bot_logs
        assert secret not in str(caught.value)


async def test_wrong_agent_id_is_reported_plainly(
    client: WeComClient, fake_api: FakeWeComAPI
) -> None:
    with pytest.raises(WeComError) as caught:
        await client.send_message(DEFAULT_APP_SECRET, 1000099, ["zhangsan"], "你好")

    assert caught.value.errcode == 301002
    assert not caught.value.retryable
    assert caught.value.admin_hint is not None and "WECOM_AGENT_ID" in caught.value.admin_hint


async def test_upload_returns_media_id_and_file_reaches_member(
    client: WeComClient, fake_api: FakeWeComAPI
) -> None:
    data = "姓名,签到\n张三,是\n".encode()

    media_id = await client.upload_media(DEFAULT_APP_SECRET, "file", "签到表.csv", data)
    await client.send_file(
        DEFAULT_APP_SECRET, media_id, agent_id=DEFAULT_AGENT_ID, touser=["zhangsan"]
    )

    assert media_id.startswith("fake-media-")
    [upload] = fake_api.uploads
    assert (upload.media_id, upload.kind, upload.filename, upload.data) == (
        media_id,
        "file",
        "签到表.csv",
        data,
    )
    [message] = fake_api.messages
    assert (message.target, message.msgtype) == ("zhangsan", "file")
    assert message.payload["file"] == {"media_id": media_id}


async def test_upload_is_retried_after_server_error(
    client: WeComClient, fake_api: FakeWeComAPI
) -> None:
    fake_api.fail_next(Fault.http(500, path="/cgi-bin/media/upload"))

    media_id = await client.upload_media(DEFAULT_APP_SECRET, "file", "a.txt", b"hello world")

    assert [u.media_id for u in fake_api.uploads] == [media_id]
    assert fake_api.uploads[0].data == b"hello world"


async def test_send_file_to_app_chat(client: WeComClient, fake_api: FakeWeComAPI) -> None:
    media_id = await client.upload_media(DEFAULT_APP_SECRET, "file", "总结.docx", b"0123456789")

    await client.send_file(DEFAULT_APP_SECRET, media_id, chatid="jiaoyan01")

    [message] = fake_api.messages
    assert (message.api, message.target, message.msgtype) == ("appchat/send", "jiaoyan01", "file")


async def test_base_url_from_constructor_is_used_for_every_call(
    client: WeComClient, fake_api: FakeWeComAPI, base_url: str
) -> None:
    await send(client)

    assert client.base_url == base_url
    assert fake_api.requests == ["/cgi-bin/gettoken", SEND]


async def test_unreachable_base_url_is_a_retryable_transport_error(
    http_session: aiohttp.ClientSession,
    clock: FakeClock,
    sleeper: RecordingSleep,
    unused_tcp_port: int,
) -> None:
    client = WeComClient(
        http_session,
        f"http://127.0.0.1:{unused_tcp_port}",
        DEFAULT_CORP_ID,
        clock,
        sleep=sleeper,
        max_retries=1,
    )

    with pytest.raises(WeComTransportError) as caught:
        await send(client)

    assert caught.value.retryable
    assert len(sleeper.delays) == 1


async def test_a_redirect_from_the_api_is_refused_not_followed(
    client: WeComClient,
    fake_api: FakeWeComAPI,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> None:
    elsewhere: list[str] = []

    async def collect(request: web.Request) -> web.Response:
        elsewhere.append(request.path_qs)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", collect)
    other = await aiohttp_server(app, host="127.0.0.1")
    fake_api.fail_next(Fault.redirect(str(other.make_url("/steal")), path=SEND))
    with pytest.raises(WeComTransportError) as exc:
        await send(client)
    assert exc.value.retryable is False
    assert "redirect" in str(exc.value)
    assert elsewhere == []
    assert fake_api.messages == []
