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
        ("WECOM_MEDIA_HOSTS", "https://wework.qpic.cn", "不是域名：应写成 wework.qpic.cn"),
        ("WECOM_MEDIA_HOSTS", "wework.qpic.cn:99999", "不是域名"),
        ("WECOM_MEDIA_HOSTS", "*.cn", "范围太大"),
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


WECOM_DOC_IMAGE = (  # doc 100719's example, signature shortened
    "https://ww-aibot-img-1258476243.cos.ap-guangzhou.myqcloud.com/BHoPdA3/7571665296904772241"
    "?sign=q-sign-algorithm%3Dsha1"
)


@pytest.mark.parametrize(
    ("url", "fetched"),
    [
        (WECOM_DOC_IMAGE, True),  # smart-bot images and files
        ("https://wework.qpic.cn/wwpic/144608_vSrhCdqkR3GGa0/", True),  # an app's PicUrl
        ("https://qyapi.weixin.qq.com/cgi-bin/media/get?media_id=M", True),  # the API base
        ("http://wework.qpic.cn/wwpic/1/", False),  # not https
        ("https://wework.qpic.cn:8443/wwpic/1/", False),  # another port
        ("https://qpic.cn/wwpic/1/", False),  # *. means subdomains only
        ("https://other-1250000000.cos.ap-guangzhou.myqcloud.com/a", False),  # anyone's bucket
        ("https://ww-aibot-img-1258476243.cos.ap-guangzhou.myqcloud.com.evil.cn/a", False),
        ("https://wework.qpic.cn@evil.cn/wwpic/1/", False),
        ("https://169.254.169.254/latest/meta-data/", False),
        ("file:///etc/passwd", False),
    ],
)
def test_files_are_fetched_only_from_wecoms_media_hosts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, fetched: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings().media_hosts.allows(url) is fetched


def test_media_hosts_are_configurable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A private deployment lists its own hosts; plain http only on its API base's host."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WECOM_API_BASE", "http://wecom.school.cn:8080")
    monkeypatch.setenv("WECOM_MEDIA_HOSTS", "*.files.school.cn， wecom.school.cn:9000")
    hosts = load_settings().media_hosts
    assert hosts.allows("https://a.files.school.cn/1") and hosts.allows(
        "http://wecom.school.cn:9000/1"
    )
    assert hosts.allows("http://wecom.school.cn:8080/cgi-bin/media/get")
    assert not hosts.allows("http://a.files.school.cn/1")  # plain http only on the API base's host
    assert not hosts.allows("http://wecom.school.cn:9001/1")
    assert not hosts.allows(WECOM_DOC_IMAGE)  # the list replaces the default
