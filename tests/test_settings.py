"""Settings from the environment, validated with readable messages."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bot.context import BotConfig
from bot.intake_processes import bind_listeners, intake_process_count
from bot.settings import SettingsError, load_settings


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
        ("JIAOYAN_INTAKE_PROCESSES", "9", "JIAOYAN_INTAKE_PROCESSES"),
        ("JIAOYAN_INTAKE_PROCESSES", "0", "JIAOYAN_INTAKE_PROCESSES"),
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


@pytest.mark.skipif(sys.platform != "linux", reason="several intake processes need Linux")
def test_intake_processes_default_to_one_per_core_at_most_two(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JIAOYAN_INTAKE_PROCESSES", "")  # as the .env.example line leaves it
    settings = load_settings()
    assert settings.intake_processes is None
    for cores, expected in ((1, 1), (2, 2), (16, 2), (None, 1)):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        assert intake_process_count(settings) == expected
    monkeypatch.setenv("JIAOYAN_INTAKE_PROCESSES", "3")
    assert intake_process_count(load_settings()) == 3


@pytest.mark.skipif(sys.platform != "linux", reason="several intake processes need Linux")
def test_intake_sockets_share_one_port_but_never_with_another_serve() -> None:
    listeners = bind_listeners("127.0.0.1", 0, 2)
    try:
        ports = {sock.getsockname()[1] for sock in listeners}
        assert len(ports) == 1  # port 0: the second took the port the first got
        # A second `serve` on the same port (SO_REUSEPORT would allow it) is refused.
        with pytest.raises(OSError):
            bind_listeners("127.0.0.1", ports.pop(), 2)
    finally:
        for sock in listeners:
            sock.close()
