"""`jiaoyan-bot simulate`: the shipped week plays in seconds and shows every push at its time."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.cli.simulate import simulate_command
from bot.core.settings import Settings
from storage import Storage

WEEK = Path(__file__).resolve().parent.parent / "examples" / "week.yaml"


@pytest.fixture(autouse=True)
def no_configured_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """A JIAOYAN_DB in the environment would make simulate write into that database."""
    monkeypatch.delenv("JIAOYAN_DB", raising=False)


@pytest.fixture
def week_output() -> list[str]:
    lines: list[str] = []
    code = simulate_command(Settings(), WEEK, lines.append)
    assert code == 0, "\n".join(lines)
    return lines


def sent_at(lines: list[str], stamp: str, where: str) -> list[str]:
    """Bot messages printed at `stamp` (e.g. '12月3日 周四 18:00') to `where`."""
    prefix = f"{stamp}  [{where}] 教研助手: "
    return [line[len(prefix) :] for line in lines if line.startswith(prefix)]


def bot_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if "] 教研助手: " in line]


def test_notice_and_receipt_reminder_to_the_unconfirmed(week_output: list[str]) -> None:
    [notice] = sent_at(week_output, "11月30日 周一 08:30", "群 东部联盟群")
    assert notice.startswith("【通知 N1】")
    tuesday = [line for line in bot_lines(week_output) if line.startswith("12月1日 周二 08:30")]
    assert sorted(line.split("]")[0].split("→ ")[1] for line in tuesday) == ["孙丽", "李强", "赵磊"]
    assert all("「收到 N1」" in line for line in tuesday)


def test_activity_reminders_the_day_before_and_one_hour_before(week_output: list[str]) -> None:
    [day_before] = sent_at(week_output, "12月2日 周三 18:00", "群 东部联盟群")
    assert "A1" in day_before and "12月3日(周四) 下午 14:30" in day_before
    [soon] = sent_at(week_output, "12月3日 周四 13:30", "群 东部联盟群")
    assert "A1" in soon and "14:30" in soon
    assert sum("A1" in line and "14:30" in line for line in bot_lines(week_output)) == 3


def test_quiet_hours_defer_the_scheduled_notice_to_0730(week_output: list[str]) -> None:
    [published] = sent_at(week_output, "12月3日 周四 07:30", "群 东部联盟群")
    assert published.startswith("【通知 N2】")
    assert not [line for line in week_output if line.startswith("12月3日 周四 07:00")]


def test_signins_including_late_and_leave(week_output: list[str]) -> None:
    text = "\n".join(week_output)
    assert "张敏 已签到 A1，记为迟到（下午 14:42）" in text
    assert "已登记 赵磊 在 A1 请假" in text


def test_deadline_reminders_only_to_those_still_missing(week_output: list[str]) -> None:
    def reminded(stamp: str) -> list[str]:
        lines = [line for line in bot_lines(week_output) if line.startswith(stamp)]
        return sorted(line.split("→ ")[1].split("]")[0] for line in lines if "反思" in line)

    # 王芳 and 刘洋 handed in; 赵磊 is on leave.
    assert reminded("12月3日 周四 18:00") == ["孙丽", "张敏", "李强"]
    # 李强 handed in on Thursday evening.
    assert reminded("12月4日 周五 08:00") == ["孙丽", "张敏"]
    assert not any("→ 赵磊" in line and "反思" in line for line in week_output)


def test_friday_digest_to_the_group_without_names(week_output: list[str]) -> None:
    [digest] = sent_at(week_output, "12月4日 周五 17:00", "群 东部联盟群")
    assert digest.startswith("## 东部联盟 · 教研周报")
    start = week_output.index(f"12月4日 周五 17:00  [群 东部联盟群] 教研助手: {digest}")
    end = next(i for i in range(start + 1, len(week_output)) if week_output[i].startswith("12月"))
    body = "\n".join(week_output[start:end])
    assert "东部二小：签到" in body and "1/2 50%" in body
    # 孙丽 missed the activity and 赵磊 was on leave: neither is named in the group.
    assert "孙丽" not in body and "赵磊" not in body
    assert week_output[-1].startswith("\n━━ 场景结束（12月5日 周六 12:00）")


def test_a_given_database_keeps_the_result(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    lines: list[str] = []
    assert simulate_command(Settings(), WEEK, lines.append, db=db) == 0
    storage = Storage.open(db)
    try:
        activity = storage.activities.get(1)
        assert activity is not None and activity.title == "同课异构《秋天的雨》"
    finally:
        storage.close()


def test_cli_runs_a_scenario_and_reports_errors_in_chinese(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        'start: "2030-03-04 08:00"\nsteps:\n  - at: 14:30\n    who: 王芳\n    say: 签到\n',
        encoding="utf-8",
    )
    assert main(["simulate", str(broken)]) == 2
    assert "时间请加引号" in capsys.readouterr().out

    backwards = tmp_path / "backwards.yaml"
    backwards.write_text(
        'start: "2030-03-04 08:00"\nsteps:\n  - at: "2030-03-03 08:00"\n', encoding="utf-8"
    )
    assert main(["simulate", str(backwards)]) == 2
    assert "时间不能倒退" in capsys.readouterr().out


def test_review_after_the_lesson_shows_only_its_count_in_the_group(
    week_output: list[str],
) -> None:
    [answer] = sent_at(week_output, "12月3日 周四 16:40", "群 东部联盟群")
    assert answer == "已收到李强对 A1（王芳执教）的评课，谢谢！A1 共有 1 条评课。"
    text = "\n".join(week_output)
    assert "**听评课**（评课 1 条，听课 0 节）" in text
    assert "常提的不足：小组讨论" in text


def test_a_weekly_series_is_announced_once_and_listed_as_one_line(week_output: list[str]) -> None:
    [series] = sent_at(week_output, "12月4日 周五 16:40", "群 东部联盟群")
    assert series.startswith("【新系列活动】S1「集体备课《单元整体教学》」 每周三")
    text = "\n".join(week_output)
    assert "共 6 次：A2 12月9日、A3 12月16日" in text and "A7 2027年1月13日" in text
    assert "· S1「集体备课《单元整体教学》」 每周三 下午 15:00–17:00，东部二小；下次 A2" in text


def test_a_lesson_study_round_takes_its_design_before_the_lesson(week_output: list[str]) -> None:
    def message(stamp: str, where: str) -> str:
        """A bot message at `stamp` to `where` with its continuation lines."""
        prefix = f"{stamp}  [{where}] 教研助手: "
        start = next(i for i, line in enumerate(week_output) if line.startswith(prefix))
        rest = itertools.takewhile(lambda line: line.startswith("    "), week_output[start + 1 :])
        return "\n".join([week_output[start][len(prefix) :], *(line.strip() for line in rest)])

    announced = message("12月4日 周五 16:50", "群 东部联盟群")
    assert announced.startswith("【新活动】A8「说课《分数的初步认识》」")
    assert "课例「分数的初步认识」第1轮，执教 王芳" in announced
    taken = message("12月4日 周五 17:20", "私信 → 王芳")
    assert taken == "已收到王芳对 A8 的说课稿（36 字，第 1 版）。"  # the day before the lesson
    assert message("12月4日 周五 17:25", "群 东部联盟群").splitlines() == [
        "课例「分数的初步认识」共 1 轮：",
        "第1轮 12月8日(周二) A8 执教 王芳：签到 0，反思 0，评课 0",
    ]
