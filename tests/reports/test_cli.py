"""`jiaoyan-bot export` on the command line: file, counts, errors in Chinese, progress bar."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest

from bot.cli.main import main
from bot.core.settings import Settings
from reports.cli import export_command

from .conftest import NOW, District


def settings_for(d: District) -> Settings:
    return Settings(_env_file=None, JIAOYAN_DB=d.db)  # type: ignore[call-arg]


def run(d: District, output: Path, **kw: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args: dict[str, object] = {"alliance": None, "date_from": None, "date_to": None}
    args.update(kw)
    code = export_command(
        settings_for(d),
        output=output,
        now=lambda: NOW,
        out=out,
        err=err,
        **args,  # type: ignore[arg-type]
    )
    return code, out.getvalue(), err.getvalue()


def test_export_prints_where_and_what(district: District, tmp_path: Path) -> None:
    target = tmp_path / "out" / "东部.xlsx"
    code, out, err = run(
        district, target, alliance="东部", date_from="2026-11-16", date_to="2026-11-29"
    )
    assert code == 0 and err == ""
    assert f"已导出（东部联盟，2026-11-16 至 2026-11-29）到 {target.resolve()}" in out
    assert "活动 3 个，签到 11 条，反思 6 篇，请假 2 条，通知 3 条（回执 2 条）" in out
    assert "学时合计 10.5" in out
    assert openpyxl.load_workbook(target).sheetnames[-2:] == ["教师统计", "说明"]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"date_from": "2026-13-01"}, "看不懂日期「2026-13-01」"),
        ({"alliance": "北部"}, "没有找到联盟「北部」。已有：尚志市小学语文、东部联盟、中西部联盟"),
        ({"date_from": "2026-11-20", "date_to": "2026-11-10"}, "开始日期要早于结束日期"),
    ],
)
def test_bad_input_gets_a_chinese_message_and_exit_2(
    district: District, tmp_path: Path, kw: dict[str, str], message: str
) -> None:
    code, out, err = run(district, tmp_path / "x.xlsx", **kw)
    assert code == 2 and message in err and out == ""
    assert not (tmp_path / "x.xlsx").exists()


def test_output_must_be_xlsx(district: District, tmp_path: Path) -> None:
    code, _, err = run(district, tmp_path / "x.csv")
    assert code == 2 and ".xlsx" in err


def test_progress_bar_on_a_terminal(district: District, tmp_path: Path) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Terminal()
    code = export_command(
        settings_for(district),
        alliance=None,
        date_from=None,
        date_to=None,
        output=tmp_path / "all.xlsx",
        now=lambda: NOW,
        out=io.StringIO(),
        err=err,
    )
    assert code == 0 and "导出" in err.getvalue()


def test_the_real_command_line(district: District, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "cli.xlsx"
    code = main(["export", "--db", str(district.db), "--alliance", "东部联盟", "-o", str(target)])
    assert code == 0 and target.exists()
    assert "已导出（东部联盟，全部时间）" in capsys.readouterr().out
    code = main(["export", "--db", str(tmp_path / "none.db"), "-o", str(target)])
    assert code == 2 and "找不到数据库" in capsys.readouterr().err
