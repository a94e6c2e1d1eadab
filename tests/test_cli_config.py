"""The command line explains itself: Chinese help everywhere, --version, --env-file, and
keys in .env or the environment that look like ours but are misspelled."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from bot.cli.check import check_settings
from bot.cli.main import _parser, main
from bot.core.setting_keys import unknown_keys
from bot.core.settings import Settings, SettingsError, load_settings

ENGLISH_BOILERPLATE = (
    "usage:",
    "positional arguments",
    "options:",
    "optional arguments",
    "show this help message",
    "show program's version",
    "error:",
    "the following arguments are required",
    "invalid choice",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Only what a test sets counts, not the developer's shell or .env."""
    monkeypatch.chdir(tmp_path)
    for name, info in Settings.model_fields.items():
        monkeypatch.delenv(info.alias or name, raising=False)
    yield


def _commands() -> list[str]:
    subparsers = next(
        action for action in _parser()._actions if isinstance(action, argparse._SubParsersAction)
    )
    return list(subparsers.choices)


@pytest.mark.parametrize("argv", [[], *([name] for name in _commands())])
def test_every_help_page_is_chinese(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "-h"])
    assert exit_.value.code == 0
    page = capsys.readouterr().out
    assert page.startswith("用法：jiaoyan-bot") and "显示帮助并退出" in page
    for english in ENGLISH_BOILERPLATE:
        assert english not in page.lower(), (argv, english)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["nope"], "没有 'nope' 这个命令"),
        (["console"], "缺少参数：--as"),
        (["serve", "--port", "eighty"], "参数 --port 应为整数"),
        (["check", "--shout"], "不认识的参数：--shout"),
    ],
)
def test_mistyped_commands_are_explained_in_chinese(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and "用法：" in err
    for english in ENGLISH_BOILERPLATE:
        assert english not in err.lower(), english


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"jiaoyan-bot {metadata.version('jiaoyan-bot')}"


@pytest.mark.parametrize("before_command", [True, False])
def test_env_file_chooses_which_configuration_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], before_command: bool
) -> None:
    (tmp_path / ".env").write_text("JIAOYAN_ADMINS=from_default_env\n", encoding="utf-8")
    other = tmp_path / "school.env"
    other.write_text(
        f"JIAOYAN_DB={tmp_path / 'school.db'}\nJIAOYAN_ADMINS=school_admin\n"
        "WECOM_BOT_SECERT=oops\n",
        encoding="utf-8",
    )
    option = ["--env-file", str(other)]
    argv = [*option, "check"] if before_command else ["check", *option]
    main(argv)
    out = capsys.readouterr().out
    assert f"数据库 {tmp_path / 'school.db'}" in out
    assert "JIAOYAN_ADMINS 为空" not in out
    # The typo is looked for in the file given, not in ./.env.
    assert f"{other}里的 WECOM_BOT_SECERT" in out and "是不是想写 WECOM_BOT_SECRET" in out


def test_a_missing_env_file_is_an_error_not_an_empty_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--env-file", str(tmp_path / "missing.env"), "check"]) == 2
    assert "找不到配置文件" in capsys.readouterr().err


def test_misspelled_keys_are_flagged_with_the_right_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "JIAOYAN_ADMIN=zhangsan\nWECOM_CORP_ID=ww0123456789abcdef\nOTHER_TOOL_KEY=1\n",
        encoding="utf-8",
    )
    environ = {
        "WECOM_BOT_SECERT": "x",
        "JIAOYAN_WHATEVER": "1",
        "JIAOYAN_WORKER_PROCESS": "1",  # retired, not misspelled
        "PATH": "/usr/bin",
    }
    found = {key.name: key for key in unknown_keys(None, environ)}
    assert set(found) == {
        "JIAOYAN_ADMIN",
        "WECOM_BOT_SECERT",
        "JIAOYAN_WHATEVER",
        "JIAOYAN_WORKER_PROCESS",
    }
    assert found["JIAOYAN_ADMIN"].suggestion == "JIAOYAN_ADMINS"
    assert found["WECOM_BOT_SECERT"].suggestion == "WECOM_BOT_SECRET"
    assert found["JIAOYAN_WHATEVER"].suggestion is None

    settings = load_settings()
    report = check_settings(settings, list(found.values())).render()
    assert (
        "[注意] .env里的 JIAOYAN_ADMIN 不是教研助手的设置，会被忽略：是不是想写 JIAOYAN_ADMINS？"
        in report
    )
    assert "环境变量里的 WECOM_BOT_SECERT" in report and "WECOM_BOT_SECRET？" in report
    assert "JIAOYAN_WHATEVER 不是教研助手的设置，会被忽略：请检查拼写。" in report
    assert (
        "[提示] 环境变量里的 JIAOYAN_WORKER_PROCESS 是旧版本的设置，已不再起作用，可以删掉。"
        in report
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("JIAOYAN_SIGNIN_OPEN", "many", "JIAOYAN_SIGNIN_OPEN: 应为整数，现在是「many」"),
        ("JIAOYAN_MIN_REFLECTION", "0", "JIAOYAN_MIN_REFLECTION: 不能小于 1，现在是「0」"),
        ("JIAOYAN_OUTBOX_MAX_ATTEMPTS", "1000", "不能大于 100"),
        ("JIAOYAN_LOG_FORMAT", "xml", "JIAOYAN_LOG_FORMAT: 应为 text 或 json"),
        ("JIAOYAN_LOG_LEVEL", "loud", "JIAOYAN_LOG_LEVEL: 应为 DEBUG、INFO、WARNING、ERROR 之一"),
    ],
)
def test_validation_errors_are_chinese(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert text.startswith("配置有误：") and message in text
    assert "Input should" not in text and "valid integer" not in text


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("", "[提示] /metrics 未开启"),
        ("short", "[注意] JIAOYAN_METRICS_TOKEN 太短"),
        ("0123456789abcdef0123", "[正常] /metrics 已开启"),
    ],
)
def test_check_says_whether_metrics_are_on(
    monkeypatch: pytest.MonkeyPatch, token: str, expected: str
) -> None:
    monkeypatch.setenv("JIAOYAN_METRICS_TOKEN", token)
    report = check_settings(load_settings()).render()
    assert expected in report and (not token or token not in report)
