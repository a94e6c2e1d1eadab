"""`jiaoyan-bot check`: is the configuration usable, and if not, what exactly must change.

Everything an administrator reads here is plain Chinese. Secrets are never printed: only
their length and first two characters, enough to spot "wrong key pasted" without leaking it.
`serve` runs the same offline checks before starting and refuses to start on errors.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from bot.channels.aibot_ws_frames import (
    CMD_SUBSCRIBE,
    ERRCODE_BAD_CREDENTIALS,
    ERRCODE_OK,
    InboundFrame,
    new_req_id,
    subscribe_frame,
)
from bot.channels.status import WEBHOOK_STATUS_LINE, channel_statuses
from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.errors import WeComError
from bot.core.clock import Clock, SystemClock
from bot.core.messages import Channel
from bot.core.setting_keys import UnknownKey
from bot.core.setting_values import is_secret, setting_value
from bot.core.settings import Settings, database_label

Sleep = Callable[[float], Awaitable[object]]

ONLINE_TIMEOUT = 5.0
AES_KEY_LENGTH = 43
_BASE64_ALPHABET = re.compile(r"^[A-Za-z0-9+/]+$")
_CORP_ID = re.compile(r"^ww[0-9a-f]{16}$")
_CALLBACK_TOKEN = re.compile(r"^[A-Za-z0-9]{1,32}$")
_SHOW_PREFIX_FROM = 8  # shorter secrets show their length only
MIN_METRICS_TOKEN = 16
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "0.0.0.0", "::1"})


class Level(StrEnum):
    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


_LEVEL_TAGS = {
    Level.OK: "[正常]",
    Level.INFO: "[提示]",
    Level.WARNING: "[注意]",
    Level.ERROR: "[错误]",
}


@dataclass(frozen=True)
class Finding:
    level: Level
    message: str

    def render(self) -> str:
        return f"{_LEVEL_TAGS[self.level]} {self.message}"


@dataclass
class CheckReport:
    """What the checks found, in the order they found it."""

    findings: list[Finding] = field(default_factory=list)

    def add(self, level: Level, message: str) -> None:
        self.findings.append(Finding(level, message))

    def ok(self, message: str) -> None:
        self.add(Level.OK, message)

    def info(self, message: str) -> None:
        self.add(Level.INFO, message)

    def warn(self, message: str) -> None:
        self.add(Level.WARNING, message)

    def error(self, message: str) -> None:
        self.add(Level.ERROR, message)

    def of(self, level: Level) -> list[Finding]:
        return [f for f in self.findings if f.level is level]

    @property
    def errors(self) -> list[Finding]:
        return self.of(Level.ERROR)

    @property
    def warnings(self) -> list[Finding]:
        return self.of(Level.WARNING)

    @property
    def passed(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.errors:
            return (
                f"检查未通过：{len(self.errors)} 个错误、{len(self.warnings)} 个需要注意的地方。"
                "请按上面的说明修改 .env 后再运行 jiaoyan-bot check。"
            )
        if self.warnings:
            return f"检查通过，但有 {len(self.warnings)} 个需要注意的地方。"
        return "检查通过，配置没有发现问题。"

    def render(self) -> str:
        return "\n".join([*(f.render() for f in self.findings), "", self.summary()])


# ------------------------------------------------------------------ secrets on screen


def masked(value: str) -> str:
    """How a secret may appear on screen: its length and (when long) its first two characters."""
    if len(value) < _SHOW_PREFIX_FROM:
        return f"{len(value)} 个字符"
    return f"{len(value)} 个字符，以「{value[:2]}」开头"


# ------------------------------------------------------------------ offline checks


def check_settings(settings: Settings, unknown: Sequence[UnknownKey] = ()) -> CheckReport:
    """Everything that can be checked without the network; `unknown` are keys that look like
    ours but are not (`bot.core.setting_keys.unknown_keys`)."""
    report = CheckReport()
    _check_unknown_keys(unknown, report)
    _check_channels(settings, report)
    _check_secrets_present(settings, report)
    for name in ("WECOM_APP_AES_KEY", "WECOM_BOT_AES_KEY"):
        _check_aes_key(name, setting_value(settings, name), report)
    for name in ("WECOM_APP_TOKEN", "WECOM_BOT_TOKEN"):
        _check_callback_token(name, setting_value(settings, name), report)
    _check_corp_id(setting_value(settings, "WECOM_CORP_ID"), report)
    _check_agent_id(setting_value(settings, "WECOM_AGENT_ID"), report)
    _check_url("WECOM_API_BASE", settings.wecom_api_base, ("http", "https"), report)
    _check_url("WECOM_BOT_WS_URL", settings.wecom_bot_ws_url, ("ws", "wss"), report)
    _check_callback_urls(settings, report)
    if isinstance(settings.db, Path):
        _check_db_path(settings.db, report)
    else:
        report.info(f"数据库：PostgreSQL（{database_label(settings.db)}）")
    _check_metrics_token(setting_value(settings, "JIAOYAN_METRICS_TOKEN"), report)
    if not settings.admins:
        report.warn(
            "JIAOYAN_ADMINS 为空：没有超级管理员账号。建议填写至少一个管理员的企业微信账号"
            "（多个用逗号分隔），否则只有名册里角色为管理员的成员能管理机器人。"
        )
    return report


def _check_unknown_keys(unknown: Sequence[UnknownKey], report: CheckReport) -> None:
    for key in unknown:
        if key.retired:
            report.info(f"{key.where}里的 {key.name} 是旧版本的设置，已不再起作用，可以删掉。")
            continue
        guess = f"是不是想写 {key.suggestion}？" if key.suggestion else "请检查拼写。"
        report.warn(f"{key.where}里的 {key.name} 不是教研助手的设置，会被忽略：{guess}")


def _check_channels(settings: Settings, report: CheckReport) -> None:
    statuses = channel_statuses(settings)
    for status in statuses:
        if status.enabled:
            report.ok(status.describe())
        elif status.partial:
            report.error(
                f"{status.label}配置不完整：缺少 {'、'.join(status.missing)}。"
                f"要启用它请补全这些设置；不用它请删掉 {'、'.join(status.present)}。"
            )
        else:
            report.info(status.describe())
    report.info(WEBHOOK_STATUS_LINE)
    if not any(status.enabled for status in statuses):
        report.warn(
            "没有启用任何能接收消息的渠道：机器人收不到群里和私聊的消息，只能通过群机器人 webhook "
            "推送。请至少配置智能机器人（长连接或回调）或自建应用中的一种，见 docs/deploy.md。"
        )


def _check_secrets_present(settings: Settings, report: CheckReport) -> None:
    for status in channel_statuses(settings):
        for name in status.required:
            value = setting_value(settings, name)
            if value and is_secret(name):
                report.ok(f"{name}：已设置（{masked(value)}）")


def _check_aes_key(name: str, value: str, report: CheckReport) -> None:
    """EncodingAESKey: 43 characters of base64 that decode (with one '=') to a 32-byte key."""
    if not value:
        return
    if len(value) != AES_KEY_LENGTH:
        report.error(
            f"{name} 长度不对：EncodingAESKey 应为 {AES_KEY_LENGTH} 个字符，现在是 "
            f"{len(value)} 个。请在管理后台重新复制，注意不要多复制空格或引号。"
        )
        return
    if not _BASE64_ALPHABET.match(value):
        report.error(
            f"{name} 含有不允许的字符：EncodingAESKey 只能由英文字母、数字、+ 和 / 组成"
            f"（{masked(value)}）。请在管理后台重新复制。"
        )
        return
    try:
        key = base64.b64decode(value + "=", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        report.error(f"{name} 无法解码为 32 字节的密钥：请在管理后台重新生成并复制。")
        return
    report.ok(f"{name}：格式正确（{AES_KEY_LENGTH} 个字符）")


def _check_callback_token(name: str, value: str, report: CheckReport) -> None:
    if value and not _CALLBACK_TOKEN.match(value):
        report.warn(
            f"{name} 看起来不对：管理后台生成的 Token 由英文字母和数字组成，最多 32 位"
            f"（现在 {masked(value)}）。请确认复制完整、没有多余的空格。"
        )


def _check_corp_id(value: str, report: CheckReport) -> None:
    if not value:
        return
    if _CORP_ID.match(value):
        report.ok(f"WECOM_CORP_ID：{value}")
        return
    report.warn(
        f"WECOM_CORP_ID「{value}」看起来不像企业 ID：企业 ID 通常是 ww 开头加 16 位十六进制字符，"
        "在管理后台「我的企业 → 企业信息」页面最下方。如确认无误可忽略。"
    )


def _check_agent_id(value: str, report: CheckReport) -> None:
    if not value:
        return
    if value.isascii() and value.isdigit():
        report.ok(f"WECOM_AGENT_ID：{value}")
        return
    report.error(
        f"WECOM_AGENT_ID「{value}」不是数字：AgentId 是一串数字（如 1000002），"
        "在管理后台「应用管理 → 本应用」页面可以看到。"
    )


def _check_url(name: str, value: str, schemes: tuple[str, ...], report: CheckReport) -> None:
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme.lower() not in schemes or not host:
        examples = " 或 ".join(f"{scheme}://…" for scheme in schemes)
        report.error(f"{name}「{value}」不是有效的地址：应以 {examples} 开头。")
        return
    report.ok(f"{name}：{value}")


def _check_callback_urls(settings: Settings, report: CheckReport) -> None:
    """Tell the admin the exact URLs to paste into the console for the callback channels."""
    base = settings.public_url.rstrip("/")
    paths = {Channel.AIBOT_HTTP: "/wecom/aibot", Channel.APP: "/wecom/app"}
    callbacks = [s for s in channel_statuses(settings) if s.enabled and s.channel in paths]
    for status in callbacks:
        report.info(f"{status.label}：管理后台里填写的 URL 应为 {base}{paths[status.channel]}")
    if callbacks and (urlsplit(base).hostname or "") in _LOCAL_HOSTS:
        report.warn(
            f"JIAOYAN_PUBLIC_URL 是本机地址（{base}）：企业微信无法回调到这里。"
            "请设为外网能访问的地址，如 https://你的域名（即管理后台里填写的 URL 的前半部分）。"
        )


def _check_db_path(path: Path, report: CheckReport) -> None:
    """The database file (and its folder, for SQLite's -wal/-shm files) must be writable."""
    if path.exists():
        if path.is_dir():
            report.error(
                f"JIAOYAN_DB 指向的是一个文件夹（{path}），应为数据库文件，如 data/jiaoyan.db。"
            )
            return
        if not os.access(path, os.R_OK | os.W_OK):
            report.error(f"数据库文件 {path} 没有读写权限：请用运行机器人的账号检查文件权限。")
            return
        folder = path.parent
    else:
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
    if not folder.is_dir():
        report.error(f"无法创建数据库 {path}：{folder} 不是文件夹。请检查 JIAOYAN_DB。")
        return
    if not os.access(folder, os.W_OK | os.X_OK):
        report.error(
            f"无法在 {folder} 中写入数据库 {path.name}：请用运行机器人的账号检查文件夹权限，"
            "或把 JIAOYAN_DB 改到可写的位置。"
        )
        return
    where = "已存在，可读写" if path.exists() else "将在首次启动时创建"
    report.ok(f"数据库 {path}：{where}")


def _check_metrics_token(token: str, report: CheckReport) -> None:
    if not token:
        report.info(
            "/metrics 未开启：需要 Prometheus 指标时设置 JIAOYAN_METRICS_TOKEN，见 docs/operations.md。"
        )
    elif len(token) < MIN_METRICS_TOKEN:
        report.warn(
            f"JIAOYAN_METRICS_TOKEN 太短（{masked(token)}）：请用至少 {MIN_METRICS_TOKEN} 个字符的"
            "随机串，如 openssl rand -hex 32 的输出。"
        )
    else:
        report.ok("/metrics 已开启：抓取时需带 JIAOYAN_METRICS_TOKEN 令牌。")


# ------------------------------------------------------------------ online checks


async def check_online(
    settings: Settings,
    report: CheckReport,
    *,
    session: aiohttp.ClientSession,
    clock: Clock,
    timeout: float = ONLINE_TIMEOUT,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Talk to WeCom: fetch an app access_token, try the long-connection subscribe."""
    corp_id = setting_value(settings, "WECOM_CORP_ID")
    app_secret = setting_value(settings, "WECOM_APP_SECRET")
    if corp_id and app_secret:
        await _check_app_token(
            settings, corp_id, app_secret, report, session, clock, timeout, sleep
        )
    else:
        await _check_api_reachable(settings.wecom_api_base, report, session, timeout)
    bot_id = setting_value(settings, "WECOM_BOT_ID")
    bot_secret = setting_value(settings, "WECOM_BOT_SECRET")
    if bot_id and bot_secret:
        report.info(
            "同一个 BotID 同时只能有一条长连接：本次检查会临时建立一条，若机器人服务正在运行，"
            "它的连接会被顶掉且不会自动重连，检查完请重启服务（如 systemctl restart jiaoyan-bot）。"
        )
        await _check_subscribe(
            settings.wecom_bot_ws_url, bot_id, bot_secret, report, session, timeout
        )


async def _check_app_token(
    settings: Settings,
    corp_id: str,
    secret: str,
    report: CheckReport,
    session: aiohttp.ClientSession,
    clock: Clock,
    timeout: float,
    sleep: Sleep,
) -> None:
    client = WeComClient(
        session,
        settings.wecom_api_base,
        corp_id,
        clock,
        sleep=sleep,
        max_retries=1,
        timeout=timeout,
    )
    try:
        await client.get_token(secret)
    except WeComError as exc:
        report.error(f"用 WECOM_APP_SECRET 获取 access_token 失败。{exc.describe()}")
        return
    report.ok(
        "已用 WECOM_CORP_ID 和 WECOM_APP_SECRET 成功获取 access_token。"
        "（企业可信 IP 要到真正发消息时才会被检查；如那时出现 60020，请按 docs/wecom-errors.md 处理。）"
    )


async def _check_api_reachable(
    base_url: str, report: CheckReport, session: aiohttp.ClientSession, timeout: float
) -> None:
    """Without app credentials, at least see that the API host answers like WeCom."""
    url = f"{base_url.rstrip('/')}/cgi-bin/gettoken"
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            status = resp.status
            raw = await resp.read()
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        report.error(
            f"连不上企业微信接口 {base_url}（{type(exc).__name__}）：请检查服务器网络、DNS 和 "
            "WECOM_API_BASE。"
        )
        return
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if status != 200 or not isinstance(answer, dict) or "errcode" not in answer:
        report.error(f"{base_url} 的回答不像企业微信接口（HTTP {status}）：请检查 WECOM_API_BASE。")
        return
    report.ok(f"可以连接企业微信接口 {base_url}。")


async def _check_subscribe(
    url: str,
    bot_id: str,
    secret: str,
    report: CheckReport,
    session: aiohttp.ClientSession,
    timeout: float,
) -> None:
    """Open the long connection, send the subscribe frame, read its answer, close."""
    req_id = new_req_id(CMD_SUBSCRIBE)
    try:
        async with asyncio.timeout(timeout):
            async with session.ws_connect(url, autoping=True) as ws:
                await ws.send_str(json.dumps(subscribe_frame(req_id, bot_id, secret)))
                answer = await _read_answer(ws, req_id)
    except TimeoutError:
        report.error(
            f"长连接 {url} 在 {timeout:.0f} 秒内没有完成订阅：请检查服务器能否访问该地址"
            "（出网防火墙、代理），以及 WECOM_BOT_WS_URL。"
        )
        return
    except (aiohttp.ClientError, OSError) as exc:
        report.error(
            f"无法建立长连接 {url}（{type(exc).__name__}）：请检查网络和 WECOM_BOT_WS_URL。"
        )
        return
    if answer is None:
        report.error(f"长连接 {url} 没有回应订阅请求就断开了：请检查 WECOM_BOT_WS_URL。")
    elif answer.result_code == ERRCODE_OK:
        report.ok(f"长连接订阅成功（BotID {bot_id}）。")
    elif answer.result_code == ERRCODE_BAD_CREDENTIALS:
        report.error(
            "长连接订阅被拒绝：BotID 或 Secret 不正确。请在管理后台「智能机器人 → 本机器人 → "
            "API 配置」核对 BotID，重新获取 Secret，更新 WECOM_BOT_ID / WECOM_BOT_SECRET；"
            "并确认连接方式选的是「使用长连接」。"
        )
    else:
        report.error(
            f"长连接订阅失败：错误码 {answer.result_code}（{answer.errmsg or '无说明'}）。"
            "请确认管理后台中该机器人的连接方式是「使用长连接」。"
        )


async def _read_answer(ws: aiohttp.ClientWebSocketResponse, req_id: str) -> InboundFrame | None:
    async for message in ws:
        if message.type is not aiohttp.WSMsgType.TEXT:
            break
        try:
            frame = InboundFrame.model_validate_json(message.data)
        except ValueError:
            continue
        if frame.cmd is None and frame.req_id == req_id:
            return frame
    return None


# ------------------------------------------------------------------ entry points


async def run_checks(
    settings: Settings,
    *,
    online: bool,
    unknown: Sequence[UnknownKey] = (),
    clock: Clock | None = None,
    session: aiohttp.ClientSession | None = None,
    timeout: float = ONLINE_TIMEOUT,
    sleep: Sleep = asyncio.sleep,
) -> CheckReport:
    """All checks; online ones only when asked (they need the network and real credentials)."""
    report = check_settings(settings, unknown)
    if not online:
        return report
    clock = clock or SystemClock()
    if session is not None:
        await check_online(
            settings, report, session=session, clock=clock, timeout=timeout, sleep=sleep
        )
        return report
    async with aiohttp.ClientSession() as own:
        await check_online(settings, report, session=own, clock=clock, timeout=timeout, sleep=sleep)
    return report


def check_command(settings: Settings, online: bool, unknown: Sequence[UnknownKey] = ()) -> int:
    """Print the report; 0 when fine, 1 when something must be fixed."""
    report = asyncio.run(run_checks(settings, online=online, unknown=unknown))
    print(report.render())
    return 0 if report.passed else 1
