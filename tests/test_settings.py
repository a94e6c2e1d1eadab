"""Settings from the environment, validated with readable messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.settings import SettingsError, load_settings
from bot.routing.context import BotConfig


def test_defaults_without_any_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    settings = load_settings()
    assert settings.db == Path("data/jiaoyan.db") and settings.tz == "Asia/Shanghai"
    assert settings.admins == [] and settings.min_reflection_chars == 30
    config = BotConfig.from_settings(settings)
    assert config.dashboard_secret is None and config.public_url == "http://127.0.0.1:8080"


def test_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "JIAOYAN_ADMINS=zhangsan， lisi,\nJIAOYAN_DASHBOARD_SECRET=s3cret-value\n", encoding="utf-8"
    )
    monkeypatch.setenv("JIAOYAN_TZ", "Asia/Urumqi")
    settings = load_settings()
    assert settings.admins == ["zhangsan", "lisi"]
    assert settings.zone.key == "Asia/Urumqi"
    assert "s3cret-value" not in repr(settings)  # secrets never print
    config = BotConfig.from_settings(settings)
    assert config.dashboard_secret == "s3cret-value" and config.admins == {"zhangsan", "lisi"}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("JIAOYAN_TZ", "Asia/Atlantis", "未知的时区"),
        ("JIAOYAN_MIN_REFLECTION", "0", "JIAOYAN_MIN_REFLECTION"),
        ("JIAOYAN_SIGNIN_OPEN", "many", "JIAOYAN_SIGNIN_OPEN"),
        ("JIAOYAN_BELL_SCHEDULE", "8:00-8:40,上午第二节", "第2节「上午第二节」应写成 8:00-8:40"),
        ("JIAOYAN_BELL_SCHEDULE", "8:00-8:40,8:30-9:10", "第2节「8:30-9:10」的时间不对"),
    ],
)
def test_bad_values_are_explained(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "配置有误" in str(caught.value) and message in str(caught.value)


def test_bell_schedule_reaches_the_bot_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert BotConfig.from_settings(load_settings()).lessons[2] == (10 * 60, 10 * 60 + 40)
    monkeypatch.setenv("JIAOYAN_BELL_SCHEDULE", "7:50-8:30，8:40-9:20")
    config = BotConfig.from_settings(load_settings())
    assert config.lessons == ((7 * 60 + 50, 8 * 60 + 30), (8 * 60 + 40, 9 * 60 + 20))
