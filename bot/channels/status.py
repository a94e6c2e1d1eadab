"""Which receiving channels the settings enable: told by `serve` at start, `/healthz` and
`jiaoyan-bot check`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.messages import Channel
from bot.core.setting_values import setting_value
from bot.core.settings import Settings


@dataclass(frozen=True)
class ChannelStatus:
    """Whether one receiving channel is configured: all its settings, none, or some."""

    channel: Channel
    label: str
    required: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def enabled(self) -> bool:
        return not self.missing

    @property
    def partial(self) -> bool:
        return bool(self.missing) and len(self.missing) < len(self.required)

    @property
    def present(self) -> tuple[str, ...]:
        return tuple(name for name in self.required if name not in self.missing)

    def describe(self) -> str:
        """One line for the start-up banner, e.g. 智能机器人长连接：未启用（缺少 WECOM_BOT_ID、…）."""
        if self.enabled:
            return f"{self.label}：已启用"
        missing = "、".join(self.missing)
        if self.partial:
            return f"{self.label}：未启用（配置不完整，缺少 {missing}）"
        return f"{self.label}：未启用（缺少 {missing}）"


_CHANNELS: tuple[tuple[Channel, str, tuple[str, ...]], ...] = (
    (Channel.AIBOT_WS, "智能机器人长连接", ("WECOM_BOT_ID", "WECOM_BOT_SECRET")),
    (
        Channel.AIBOT_HTTP,
        "智能机器人回调（/wecom/aibot）",
        ("WECOM_BOT_TOKEN", "WECOM_BOT_AES_KEY"),
    ),
    (
        Channel.APP,
        "自建应用（/wecom/app）",
        (
            "WECOM_CORP_ID",
            "WECOM_AGENT_ID",
            "WECOM_APP_SECRET",
            "WECOM_APP_TOKEN",
            "WECOM_APP_AES_KEY",
        ),
    ),
)
WEBHOOK_STATUS_LINE = "群机器人 Webhook 推送：已启用（发往绑定时附了 webhook 地址的群）"


def channel_statuses(settings: Settings) -> list[ChannelStatus]:
    """The receiving channels in a fixed order, each with the settings it still lacks."""
    return [
        ChannelStatus(
            channel=channel,
            label=label,
            required=required,
            missing=tuple(name for name in required if not setting_value(settings, name)),
        )
        for channel, label, required in _CHANNELS
    ]
