"""Configuration from the environment and `.env`, validated once at start."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.core.media_hosts import DEFAULT_MEDIA_HOSTS, MediaHosts, parse_host_pattern, url_parts
from bot.text.dates import DEFAULT_LESSONS, Lessons, parse_bell_schedule

DEFAULT_WECOM_API_BASE = "https://qyapi.weixin.qq.com"
DEFAULT_WECOM_BOT_WS_URL = "wss://openws.work.weixin.qq.com"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class Settings(BaseSettings):
    """All settings of one deployment. Secrets are `SecretStr` so they never print."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # A SQLite file (the default), or a postgresql:// URL (docs/storage.md).
    db: Path | str = Field(default=Path("data/jiaoyan.db"), alias="JIAOYAN_DB")
    tz: str = Field(default="Asia/Shanghai", alias="JIAOYAN_TZ")
    admins: Annotated[list[str], NoDecode] = Field(default_factory=list, alias="JIAOYAN_ADMINS")
    min_reflection_chars: int = Field(default=30, ge=1, le=2000, alias="JIAOYAN_MIN_REFLECTION")
    signin_open_minutes: int = Field(default=30, ge=0, le=24 * 60, alias="JIAOYAN_SIGNIN_OPEN")
    # 节次表: what 第三节 means in 发起活动 and other times.
    bell_schedule: Annotated[Lessons, NoDecode] = Field(
        default=DEFAULT_LESSONS, alias="JIAOYAN_BELL_SCHEDULE"
    )
    outbox_max_attempts: int = Field(default=8, ge=1, le=100, alias="JIAOYAN_OUTBOX_MAX_ATTEMPTS")
    dashboard_secret: SecretStr | None = Field(default=None, alias="JIAOYAN_DASHBOARD_SECRET")
    public_url: str = Field(default=DEFAULT_PUBLIC_URL, alias="JIAOYAN_PUBLIC_URL")
    # Logs: "text" (one readable line) or "json" (one object per line, for log collectors).
    log_format: str = Field(default="text", alias="JIAOYAN_LOG_FORMAT")
    # None: WARNING for commands, INFO for `serve`.
    log_level: str | None = Field(default=None, alias="JIAOYAN_LOG_LEVEL")
    # `/metrics` answers only requests bearing this token; without it `/metrics` is off.
    metrics_token: SecretStr | None = Field(default=None, alias="JIAOYAN_METRICS_TOKEN")

    wecom_api_base: str = Field(default=DEFAULT_WECOM_API_BASE, alias="WECOM_API_BASE")
    # More origins (scheme://host:port) whose response_url may be called, besides the API base.
    wecom_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="WECOM_ALLOWED_ORIGINS"
    )
    # Hosts people's files are downloaded from, besides the API base's (bot.core.media_hosts).
    wecom_media_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_MEDIA_HOSTS), alias="WECOM_MEDIA_HOSTS"
    )
    wecom_corp_id: str = Field(default="", alias="WECOM_CORP_ID")
    wecom_agent_id: str = Field(default="", alias="WECOM_AGENT_ID")
    wecom_app_secret: SecretStr | None = Field(default=None, alias="WECOM_APP_SECRET")
    wecom_app_token: SecretStr | None = Field(default=None, alias="WECOM_APP_TOKEN")
    wecom_app_aes_key: SecretStr | None = Field(default=None, alias="WECOM_APP_AES_KEY")
    wecom_bot_id: str = Field(default="", alias="WECOM_BOT_ID")
    wecom_bot_secret: SecretStr | None = Field(default=None, alias="WECOM_BOT_SECRET")
    wecom_bot_ws_url: str = Field(default=DEFAULT_WECOM_BOT_WS_URL, alias="WECOM_BOT_WS_URL")
    wecom_bot_token: SecretStr | None = Field(default=None, alias="WECOM_BOT_TOKEN")
    wecom_bot_aes_key: SecretStr | None = Field(default=None, alias="WECOM_BOT_AES_KEY")

    @field_validator("admins", "wecom_allowed_origins", "wecom_media_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace("，", ",").split(",") if part.strip()]
        return value

    @field_validator("db", mode="before")
    @classmethod
    def _database(cls, value: object) -> object:
        """A postgresql:// URL stays text (checked here); anything else is a SQLite file."""
        if isinstance(value, str):
            url = "://" in value or value.startswith(("postgresql:", "postgres:"))
            return check_database_url(value) if url else Path(value)
        return value

    @field_validator("bell_schedule", mode="before")
    @classmethod
    def _parse_bell_schedule(cls, value: object) -> object:
        return parse_bell_schedule(value) if isinstance(value, str) else value

    @field_validator("wecom_media_hosts")
    @classmethod
    def _media_hosts(cls, value: list[str]) -> list[str]:
        for entry in value:
            parse_host_pattern(entry)  # raises ValueError with the Chinese explanation
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in LOG_FORMATS:
            raise ValueError(f"应为 {' 或 '.join(LOG_FORMATS)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().upper()
        if value not in LOG_LEVELS:
            raise ValueError(f"应为 {'、'.join(LOG_LEVELS)} 之一")
        return value

    @field_validator("tz")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"未知的时区 {value!r}，例如 Asia/Shanghai") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def reply_origins(self) -> frozenset[str]:
        """Origins a smart-bot response_url may point at: the API base's and the listed ones."""
        origins = (origin_of(url) for url in (self.wecom_api_base, *self.wecom_allowed_origins))
        return frozenset(origin for origin in origins if origin)

    @property
    def media_hosts(self) -> MediaHosts:
        """Where files people send may be downloaded from: the list and the API base."""
        return MediaHosts.of(self.wecom_media_hosts, self.wecom_api_base)


def origin_of(url: str) -> str | None:
    """ "scheme://host:port" of an http(s) URL, port made explicit; None for anything else."""
    parts = url_parts(url)
    return f"{parts[0]}://{parts[1]}:{parts[2]}" if parts else None


class SettingsError(Exception):
    """Raised with a readable Chinese explanation of what is wrong in the configuration."""


def check_database_url(url: str) -> str:
    """A PostgreSQL URL as `JIAOYAN_DB` takes it, or ValueError saying in Chinese what to fix."""
    parts = urlsplit(url)
    example = "例如 postgresql://jiaoyan:密码@127.0.0.1:5432/jiaoyan"
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(
            f"JIAOYAN_DB 只能是 SQLite 数据库文件路径或 postgresql:// 地址，不支持「{parts.scheme}://」。"
            f"{example}"
        )
    try:
        parts.port  # noqa: B018  (raises for a port that is not a number)
    except ValueError:
        raise ValueError(f"JIAOYAN_DB 中的端口不是数字。{example}") from None
    has_socket = "host=" in parts.query
    if not url.startswith(parts.scheme + "://"):
        raise ValueError(f"JIAOYAN_DB 的地址应以 {parts.scheme}:// 开头。{example}")
    if not parts.hostname and not has_socket:
        raise ValueError(f"JIAOYAN_DB 缺少数据库服务器地址。{example}")
    if not parts.path.strip("/") and "dbname=" not in parts.query:
        raise ValueError(f"JIAOYAN_DB 缺少数据库名（地址最后的 /库名）。{example}")
    return url


def database_label(db: Path | str) -> str:
    """`JIAOYAN_DB` as it may be shown or logged: a URL without its password."""
    if isinstance(db, Path):
        return str(db)
    parts = urlsplit(db)
    if parts.password is None:
        return db
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def load_settings(env_file: Path | None = None, **overrides: object) -> Settings:
    """Build settings from the environment and `env_file` (default `.env`, if present),
    turning pydantic's errors into one readable Chinese message."""
    if env_file is not None and not env_file.is_file():
        raise SettingsError(f"找不到配置文件 {env_file}：请检查 --env-file 的路径。")
    if env_file is not None:
        overrides["_env_file"] = env_file
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = ["配置有误："]
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "?"
            lines.append(f"- {name}: {explain_error(err)}")
        raise SettingsError("\n".join(lines)) from exc


def explain_error(err: Mapping[str, Any]) -> str:
    """One pydantic error in Chinese. Our own validators already raise Chinese text."""
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    shown = err.get("input")
    value = f"，现在是「{shown}」" if isinstance(shown, str | int | float) else ""
    if kind == "value_error":
        return str(err.get("msg", "")).removeprefix("Value error, ")
    if kind == "missing":
        return "缺少这项设置"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"应为整数{value}"
    if kind in ("float_parsing", "float_type"):
        return f"应为数字{value}"
    if kind in ("bool_parsing", "bool_type"):
        return f"应为 true 或 false{value}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(ctx.values()), "?")
        words = {
            "greater_than_equal": "不能小于",
            "greater_than": "应大于",
            "less_than_equal": "不能大于",
            "less_than": "应小于",
        }
        return f"{words[kind]} {bound}{value}"
    if kind.startswith("url_"):
        return f"不是有效的网址{value}"
    if kind.startswith("string_"):
        return f"应为文字{value}"
    return f"取值无效{value}"
