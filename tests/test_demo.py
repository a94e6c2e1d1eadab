"""`jiaoyan-bot demo` plays a readable alliance week on a fresh database."""

from __future__ import annotations

from pathlib import Path

from bot.cli.main import main
from storage import Storage


def test_demo_plays_the_week_and_leaves_a_database(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "demo.db"
    assert main(["demo", "--db", str(db), "--start", "2026-12-07"]) == 0
    out = capsys.readouterr().out
    # The story a user reads, in order.
    steps = [
        "【通知 N1】",
        "【新活动】A1",
        "已确认收到通知 N1",
        "还没有收到您的确认",
        "A1 请假，不计缺席",
        "明天有教研活动",
        "将在 1 小时后开始",
        "签到成功",
        "记为迟到",
        "代签",
        "只有 11 字",
        "已收到",
        "未交反思",
        "的教学反思请于",
        "本学期已获学时",
        "本周（",
        "## 东部联盟 · 教研周报",
        "明天 晚上 23:59 截止",
        "今天 晚上 23:59 截止",
        "演示结束",
    ]
    positions = [out.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "Traceback" not in out and "出错" not in out
    assert f"jiaoyan-bot console --db {db}" in out
    assert "12月7日 周一 08:" in out
    storage = Storage.open(db)
    try:
        assert len(storage.roster.schools()) == 29
        assert {a.name for a in storage.roster.alliances()} >= {
            "东部联盟",
            "中西部联盟(一组)",
            "中西部联盟(二组)",
        }
        assert 200 < storage.roster.count_members() < 400
        signed = storage.submissions.signins(1)
        assert any(s.status.value == "late" for s in signed.values())
        assert len(storage.submissions.leaves(1)) == 3
    finally:
        storage.close()


def test_demo_starts_fresh_each_time(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "demo.db"
    assert main(["demo", "--db", str(db), "--start", "2027-03-03"]) == 0
    assert main(["demo", "--db", str(db), "--start", "2027-03-03"]) == 0
    storage = Storage.open(db)
    try:
        assert len(storage.roster.schools()) == 29  # not doubled
    finally:
        storage.close()


def test_demo_weeks_start_on_the_coming_monday() -> None:
    from datetime import date

    from bot.cli.demo import coming_monday, monday_of

    assert coming_monday(date(2026, 12, 3)) == date(2026, 12, 7)  # Thursday
    assert coming_monday(date(2026, 12, 7)) == date(2026, 12, 7)  # a Monday stays
    assert coming_monday(date(2026, 12, 13)) == date(2026, 12, 14)  # Sunday
    assert monday_of(date(2027, 3, 3)) == date(2027, 3, 1)


def test_demo_rejects_an_unreadable_start(capsys) -> None:  # type: ignore[no-untyped-def]
    import pytest

    with pytest.raises(SystemExit):
        main(["demo", "--start", "下周一"])
    assert "2026-12-07" in capsys.readouterr().err


def test_demo_suggests_what_works_in_the_console_on_the_real_date() -> None:
    """A week already over can be looked back on; a week still ahead cannot be yet."""
    from datetime import date

    from bot.cli.demo import console_suggestions

    past = console_suggestions(date(2026, 12, 7), today=date(2026, 12, 15))
    assert "「汇总 2026年12月7日~12月13日」" in past and "反思 A1" in past
    ahead = console_suggestions(date(2026, 12, 7), today=date(2026, 12, 3))
    assert "汇总" not in ahead.split("。")[0] and "jiaoyan-bot demo --start 2026-11-23" in ahead
