"""`jiaoyan-bot check`: what an administrator reads for good, broken and half-done settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.cli.check import check_command, run_checks
from bot.cli.main import main
from bot.core.clock import FakeClock
from bot.core.settings import Settings
from tests.fakes.wecom_api import DEFAULT_APP_SECRET, DEFAULT_CORP_ID, FakeWeComAPI, Fault
from tests.fakes.wecom_crypto import new_encoding_aes_key
from tests.fakes.wecom_ws import DEFAULT_BOT_ID, DEFAULT_SECRET, FakeWeComWS

APP_AES_KEY = new_encoding_aes_key()
BOT_AES_KEY = new_encoding_aes_key()
GOOD_CORP_ID = "ww0123456789abcdef"
ServerFactory = Callable[..., Awaitable[TestServer]]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only what a test sets counts, not the developer's shell or .env."""
    for name in list(Settings.model_fields):
        alias = Settings.model_fields[name].alias or name
        monkeypatch.delenv(alias, raising=False)
    yield


def settings_with(tmp_path: Path, **values: Any) -> Settings:
    values.setdefault("JIAOYAN_DB", tmp_path / "data" / "jiaoyan.db")
    values.setdefault("JIAOYAN_ADMINS", "admin1")
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def full(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "JIAOYAN_PUBLIC_URL": "https://jiaoyan.example.cn",
        "WECOM_CORP_ID": GOOD_CORP_ID,
        "WECOM_AGENT_ID": "1000002",
        "WECOM_APP_SECRET": "app-secret-value-0123456789",
        "WECOM_APP_TOKEN": "AppToken2026",
        "WECOM_APP_AES_KEY": APP_AES_KEY,
        "WECOM_BOT_ID": "aibBOT0001",
        "WECOM_BOT_SECRET": "bot-secret-value-0123456789",
        "WECOM_BOT_TOKEN": "BotToken2026",
        "WECOM_BOT_AES_KEY": BOT_AES_KEY,
    }
    values.update(overrides)
    return settings_with(tmp_path, **values)


def run(settings: Settings, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = check_command(settings, online=False)
    return code, capsys.readouterr().out


# ---------------------------------------------------------------- offline


def test_nothing_configured_is_fine_but_says_which_channels_are_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(settings_with(tmp_path), capsys)
    assert code == 0
    assert "[提示] 智能机器人长连接：未启用（缺少 WECOM_BOT_ID、WECOM_BOT_SECRET）" in out
    assert "[注意] 没有启用任何能接收消息的渠道" in out
    assert "数据库 " in out and "将在首次启动时创建" in out
    assert out.rstrip().endswith("检查通过，但有 1 个需要注意的地方。")


def test_a_complete_configuration_passes_and_never_prints_a_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = full(tmp_path)
    code, out = run(settings, capsys)
    assert code == 0, out
    assert "[正常] 智能机器人长连接：已启用" in out
    assert "[正常] 自建应用（/wecom/app）：已启用" in out
    assert "管理后台里填写的 URL 应为 https://jiaoyan.example.cn/wecom/aibot" in out
    assert "管理后台里填写的 URL 应为 https://jiaoyan.example.cn/wecom/app" in out
    assert "WECOM_APP_SECRET：已设置（27 个字符，以「ap」开头）" in out
    assert "[注意]" not in out and "[错误]" not in out
    assert out.rstrip().endswith("检查通过，配置没有发现问题。")
    for secret in (
        "app-secret-value-0123456789",
        "bot-secret-value-0123456789",
        "AppToken2026",
        "BotToken2026",
        APP_AES_KEY,
        BOT_AES_KEY,
    ):
        assert secret not in out


def test_aes_key_of_the_wrong_length_or_alphabet_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(full(tmp_path, WECOM_APP_AES_KEY=APP_AES_KEY[:42]), capsys)
    assert code == 1
    assert "[错误] WECOM_APP_AES_KEY 长度不对：EncodingAESKey 应为 43 个字符，现在是 42 个" in out

    code, out = run(full(tmp_path, WECOM_BOT_AES_KEY="-" + BOT_AES_KEY[1:]), capsys)
    assert code == 1
    assert "[错误] WECOM_BOT_AES_KEY 含有不允许的字符" in out
    assert BOT_AES_KEY[1:] not in out


def test_short_secrets_show_only_their_length(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _code, out = run(full(tmp_path, WECOM_BOT_TOKEN="tok1"), capsys)
    assert "[正常] WECOM_BOT_TOKEN：已设置（4 个字符）" in out
    assert "tok1" not in out and "「to」" not in out


def test_a_half_configured_channel_names_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_with(
        tmp_path, WECOM_CORP_ID=GOOD_CORP_ID, WECOM_APP_SECRET="s3cret-value", WECOM_BOT_ID="aib1"
    )
    code, out = run(settings, capsys)
    assert code == 1
    assert (
        "[错误] 自建应用（/wecom/app）配置不完整：缺少 WECOM_AGENT_ID、WECOM_APP_TOKEN、"
        "WECOM_APP_AES_KEY。要启用它请补全这些设置；不用它请删掉 WECOM_CORP_ID、WECOM_APP_SECRET。"
    ) in out
    assert "[错误] 智能机器人长连接配置不完整：缺少 WECOM_BOT_SECRET。" in out
    assert "s3cret-value" not in out
    assert "检查未通过：2 个错误" in out


def test_ids_urls_and_admins_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(
        full(
            tmp_path,
            WECOM_CORP_ID="corp-of-school",
            WECOM_AGENT_ID="10000O2",
            WECOM_API_BASE="qyapi.weixin.qq.com",
            WECOM_BOT_WS_URL="https://openws.work.weixin.qq.com",
            JIAOYAN_ADMINS="",
        ),
        capsys,
    )
    assert code == 1
    assert "[注意] WECOM_CORP_ID「corp-of-school」看起来不像企业 ID" in out
    assert "[错误] WECOM_AGENT_ID「10000O2」不是数字" in out
    assert (
        "[错误] WECOM_API_BASE「qyapi.weixin.qq.com」不是有效的地址：应以 http://… 或 https://… 开头。"
        in out
    )
    assert (
        "[错误] WECOM_BOT_WS_URL「https://openws.work.weixin.qq.com」不是有效的地址：应以 ws://… 或 wss://… 开头。"
        in out
    )
    assert "[注意] JIAOYAN_ADMINS 为空" in out


def test_a_callback_channel_with_a_local_public_url_is_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(full(tmp_path, JIAOYAN_PUBLIC_URL="http://127.0.0.1:8080"), capsys)
    assert code == 0
    assert out.count("JIAOYAN_PUBLIC_URL 是本机地址") == 1


def test_a_database_path_that_cannot_be_created_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    code, out = run(settings_with(tmp_path, JIAOYAN_DB=blocker / "jiaoyan.db"), capsys)
    assert code == 1
    assert f"[错误] 无法创建数据库 {blocker / 'jiaoyan.db'}：{blocker} 不是文件夹" in out

    code, out = run(settings_with(tmp_path, JIAOYAN_DB=tmp_path), capsys)
    assert code == 1
    assert "JIAOYAN_DB 指向的是一个文件夹" in out


@pytest.mark.parametrize(
    ("url", "explained"),
    [
        ("mysql://db.example.cn/jiaoyan", "不支持「mysql://」"),
        ("postgresql://jiaoyan@db.example.cn", "缺少数据库名"),
        ("postgresql:///jiaoyan", "缺少数据库服务器地址"),
        ("postgresql://db.example.cn:port/jiaoyan", "端口不是数字"),
        ("postgresql:/db.example.cn/jiaoyan", "应以 postgresql:// 开头"),
    ],
)
def test_a_bad_postgresql_url_is_explained_before_anything_runs(
    url: str, explained: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "JIAOYAN_DB" in err and explained in err


def test_a_postgresql_url_is_shown_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://jiaoyan:s3cret-pass@db.example.cn:5432/jiaoyan"
    code, out = run(settings_with(tmp_path, JIAOYAN_DB=url), capsys)
    assert code == 0
    assert "数据库：PostgreSQL（postgresql://jiaoyan:***@db.example.cn:5432/jiaoyan）" in out
    assert "s3cret-pass" not in out


def test_a_postgresql_server_that_does_not_answer_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("姓名,学校,联盟,企业微信账号,角色\n王芳,东部一小,东部联盟,wf,教师\n")
    url = "postgresql://jiaoyan:pw@127.0.0.1:1/jiaoyan"  # nothing listens on port 1
    assert main(["import-roster", str(roster), "--db", url]) == 2
    err = capsys.readouterr().err
    assert "无法连接 PostgreSQL 数据库" in err and "Traceback" not in err


# ---------------------------------------------------------------- online


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 24, 6, 0, tzinfo=UTC))


@pytest.fixture
def fake_api(clock: FakeClock) -> FakeWeComAPI:
    return FakeWeComAPI(clock)


@pytest.fixture
async def api_base(fake_api: FakeWeComAPI, aiohttp_server: ServerFactory) -> str:
    server = await aiohttp_server(fake_api.make_app(), host="127.0.0.1")
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
def fake_ws() -> FakeWeComWS:
    return FakeWeComWS()


@pytest.fixture
async def ws_url(fake_ws: FakeWeComWS, aiohttp_server: ServerFactory) -> str:
    server = await aiohttp_server(fake_ws.make_app(), host="127.0.0.1")
    return str(server.make_url("/")).replace("http://", "ws://", 1)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def no_sleep(_seconds: float) -> None:
    return None


def online_settings(tmp_path: Path, api_base: str, ws_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "WECOM_API_BASE": api_base,
        "WECOM_BOT_WS_URL": ws_url,
        "WECOM_CORP_ID": DEFAULT_CORP_ID,
        "WECOM_APP_SECRET": DEFAULT_APP_SECRET,
        "WECOM_BOT_ID": DEFAULT_BOT_ID,
        "WECOM_BOT_SECRET": DEFAULT_SECRET,
    }
    values.update(overrides)
    return full(tmp_path, **values)


async def check_online(
    settings: Settings, session: aiohttp.ClientSession, clock: FakeClock
) -> tuple[bool, str]:
    report = await run_checks(
        settings, online=True, clock=clock, session=session, timeout=5, sleep=no_sleep
    )
    return report.passed, report.render()


async def test_online_token_and_subscribe_succeed(
    tmp_path: Path,
    api_base: str,
    ws_url: str,
    fake_api: FakeWeComAPI,
    fake_ws: FakeWeComWS,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    passed, out = await check_online(online_settings(tmp_path, api_base, ws_url), session, clock)
    assert passed, out
    assert "[正常] 已用 WECOM_CORP_ID 和 WECOM_APP_SECRET 成功获取 access_token。" in out
    assert f"[正常] 长连接订阅成功（BotID {DEFAULT_BOT_ID}）。" in out
    assert "它的连接会被顶掉" in out  # the admin is warned before a live bot gets kicked
    assert fake_api.token_requests == 1 and fake_ws.subscriptions == 1
    await fake_ws.wait_disconnected()  # the probe does not stay connected
    for secret in (DEFAULT_APP_SECRET, DEFAULT_SECRET, "fake-token-1"):
        assert secret not in out


async def test_online_untrusted_ip_explains_the_trusted_ip_setting(
    tmp_path: Path,
    api_base: str,
    ws_url: str,
    fake_api: FakeWeComAPI,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    fake_api.fail_next(Fault.error(60020, path="/cgi-bin/gettoken"))
    passed, out = await check_online(online_settings(tmp_path, api_base, ws_url), session, clock)
    assert not passed
    line = next(line for line in out.splitlines() if "access_token 失败" in line)
    assert line.startswith("[错误] 用 WECOM_APP_SECRET 获取 access_token 失败。企业微信错误 60020")
    assert "企业可信IP" in line and "from ip: 127.0.0.1" in line
    assert DEFAULT_APP_SECRET not in out


async def test_online_wrong_corp_id_and_wrong_secret(
    tmp_path: Path,
    api_base: str,
    ws_url: str,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    wrong_corp = online_settings(tmp_path, api_base, ws_url, WECOM_CORP_ID="ww00000000000000ff")
    passed, out = await check_online(wrong_corp, session, clock)
    assert not passed and "企业微信错误 40013" in out and "企业 ID 不正确" in out

    wrong_secret = online_settings(tmp_path, api_base, ws_url, WECOM_APP_SECRET="not-the-secret")
    passed, out = await check_online(wrong_secret, session, clock)
    assert not passed and "企业微信错误 40001" in out and "Secret 不正确" in out
    assert "not-the-secret" not in out


async def test_online_bad_bot_credentials(
    tmp_path: Path,
    api_base: str,
    ws_url: str,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    settings = online_settings(tmp_path, api_base, ws_url, WECOM_BOT_SECRET="stale-bot-secret")
    passed, out = await check_online(settings, session, clock)
    assert not passed
    assert "[错误] 长连接订阅被拒绝：BotID 或 Secret 不正确。" in out
    assert "stale-bot-secret" not in out


async def test_online_without_app_checks_that_the_api_host_answers(
    tmp_path: Path, api_base: str, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    passed, out = await check_online(
        settings_with(tmp_path, WECOM_API_BASE=api_base), session, clock
    )
    assert passed and f"[正常] 可以连接企业微信接口 {api_base}。" in out

    unreachable = "http://127.0.0.1:9"  # discard port: nothing listens
    passed, out = await check_online(
        settings_with(tmp_path, WECOM_API_BASE=unreachable), session, clock
    )
    assert not passed and f"[错误] 连不上企业微信接口 {unreachable}" in out


async def test_online_token_check_retries_a_flaky_moment_once(
    tmp_path: Path,
    api_base: str,
    ws_url: str,
    fake_api: FakeWeComAPI,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    """A 5xx once is retried: a flaky moment of WeCom is not reported as a broken setup."""
    fake_api.fail_next(Fault.http(502, path="/cgi-bin/gettoken"))
    settings = online_settings(tmp_path, api_base, ws_url)
    passed, out = await check_online(settings, session, clock)
    assert passed, out
    assert fake_api.token_requests == 1 and fake_api.requests.count("/cgi-bin/gettoken") == 2
