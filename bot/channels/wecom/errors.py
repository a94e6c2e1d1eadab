"""Errors from WeCom's server API, with the Chinese hint an administrator needs to fix them.

WeCom answers almost every failure with HTTP 200 and a JSON `errcode`; what matters to the
bot is whether trying again can help (`retryable`) and what a human must change otherwise
(`admin_hint`). Codes come from WeCom's global errcode table (document path 90455).
"""

from __future__ import annotations

# Our own code for "no usable answer from WeCom at all" (network error, timeout, HTTP 5xx);
# WeCom never uses it.
TRANSPORT_ERRCODE = -2

SYSTEM_BUSY = -1
INVALID_SECRET = 40001  # also "invalid credential" for a stale token on some APIs
INVALID_CORPID = 40013
INVALID_TOKEN = 40014
CONTENT_TOO_LONG = 40058  # "invalid parameter", e.g. markdown.content exceed max length
TOKEN_EXPIRED = 42001
FREQ_LIMIT = 45009
CONCURRENCY_LIMIT = 45033
API_FORBIDDEN = 48002
NO_PRIVILEGE = 60011
IP_NOT_ALLOWED = 60020
ALL_RECEIVERS_INVALID = 81013
WEBHOOK_INVALID_KEY = 93000
WEBHOOK_TOO_FAST = 130101
AGENT_NOT_ALLOWED = 301002

TOKEN_ERRCODES = frozenset({INVALID_SECRET, INVALID_TOKEN, TOKEN_EXPIRED})
RATE_LIMIT_ERRCODES = frozenset({SYSTEM_BUSY, FREQ_LIMIT, CONCURRENCY_LIMIT, WEBHOOK_TOO_FAST})
# Worth trying later (the outbox's job) even after the client's own retries are spent.
RETRYABLE_ERRCODES = RATE_LIMIT_ERRCODES | {INVALID_TOKEN, TOKEN_EXPIRED, TRANSPORT_ERRCODE}

_ADMIN_HINTS: dict[int, str] = {
    IP_NOT_ALLOWED: (
        "服务器 IP 不在企业可信 IP 列表中：请管理员在企业微信管理后台「应用管理 → 本应用 → "
        "企业可信IP」中添加本服务器的出口 IP（错误信息里 from ip 后面的地址），保存后再试。"
    ),
    API_FORBIDDEN: (
        "接口权限不足：请管理员确认本应用有调用该接口的权限，并检查「企业可信IP」是否已配置。"
    ),
    NO_PRIVILEGE: (
        "权限不足：接收消息的成员不在应用的可见范围内。请管理员在「应用管理 → 本应用 → "
        "可见范围」中加入相关成员或部门。"
    ),
    INVALID_SECRET: (
        "Secret 不正确或已重置：请管理员在「应用管理 → 本应用」查看 Secret，"
        "更新 WECOM_APP_SECRET 后重启机器人。"
    ),
    INVALID_CORPID: (
        "企业 ID 不正确：请在「我的企业 → 企业信息」中核对 CorpID，更新 WECOM_CORP_ID。"
    ),
    INVALID_TOKEN: (
        "access_token 无效：机器人会自动重新获取；若反复出现，请检查 Secret 是否被重置。"
    ),
    TOKEN_EXPIRED: (
        "access_token 已过期：机器人会自动刷新；若反复出现，请检查服务器时间是否准确。"
    ),
    AGENT_NOT_ALLOWED: (
        "AgentId 与 Secret 不属于同一个应用：请核对 WECOM_AGENT_ID 与 WECOM_APP_SECRET。"
    ),
    ALL_RECEIVERS_INVALID: (
        "所有接收人都无效或不在应用可见范围内：请核对成员账号，并检查应用的可见范围。"
    ),
    FREQ_LIMIT: "调用太频繁，已被企业微信限流：机器人会稍后自动重试，无需处理。",
    CONCURRENCY_LIMIT: "并发调用太多，已被企业微信限流：机器人会稍后自动重试，无需处理。",
    WEBHOOK_TOO_FAST: "群机器人每分钟最多发送 20 条消息：机器人会稍后自动重试，无需处理。",
    SYSTEM_BUSY: "企业微信系统繁忙：机器人会稍后自动重试，无需处理。",
    WEBHOOK_INVALID_KEY: (
        "群机器人 Webhook 地址无效：机器人可能已被移出群聊或删除，"
        "请在群里重新添加机器人并更新地址。"
    ),
    CONTENT_TOO_LONG: "消息内容超出企业微信的长度限制或参数不合法。",
    TRANSPORT_ERRCODE: (
        "无法连接企业微信服务器：请检查服务器网络与 WECOM_API_BASE 配置，机器人会稍后自动重试。"
    ),
}


def admin_hint_for(errcode: int) -> str | None:
    """The Chinese advice for an administrator, or None when there is nothing to do."""
    return _ADMIN_HINTS.get(errcode)


class WeComError(Exception):
    """WeCom refused a call (`errcode` != 0). `errmsg` is WeCom's own English text."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        super().__init__(f"WeCom errcode {errcode}: {errmsg}")

    @property
    def retryable(self) -> bool:
        """True when the same call may succeed later without anyone changing anything."""
        return self.errcode in RETRYABLE_ERRCODES

    @property
    def admin_hint(self) -> str | None:
        return admin_hint_for(self.errcode)

    def describe(self) -> str:
        """One line for logs and admin notices: code, WeCom's text and our hint."""
        hint = self.admin_hint
        base = f"企业微信错误 {self.errcode}（{self.errmsg}）"
        return f"{base}：{hint}" if hint else base


class WeComTransportError(WeComError):
    """No usable answer from WeCom: network error, timeout, HTTP error or a non-JSON body."""

    def __init__(self, detail: str, *, retryable: bool = True) -> None:
        super().__init__(TRANSPORT_ERRCODE, detail)
        self._retryable = retryable

    @property
    def retryable(self) -> bool:
        return self._retryable
