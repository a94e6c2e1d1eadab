"""Heavy report work in a child process: the same results, the loop kept free, errors and
hangs reported."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.text.dates import parse_period
from reports.child_process import ReportProcessError, run_in_child, run_in_child_blocking
from reports.digest import build_digest
from reports.digest_process import DigestInChildProcess
from reports.export import ExportScope, export_workbook, export_workbook_apart
from storage.db import DatabaseUnavailable
from tests.postgres import database_url

from .conftest import NOW, SQLITE_ONLY, District


async def test_the_child_builds_the_same_digest_without_holding_the_loop(
    district: District,
) -> None:
    period = parse_period("本周", NOW)
    assert period is not None
    here = build_digest(district.storage, district.east, period, NOW)
    building = asyncio.create_task(
        DigestInChildProcess(district.db)(district.storage, district.east, period, NOW)
    )
    await asyncio.sleep(0)  # one turn of the loop: the child has only just been started
    assert not building.done()
    there = await building

    assert there.title == here.title
    assert there.group_parts == here.group_parts
    assert there.private_notes == here.private_notes and there.private_notes
    assert there.chart_png is not None and there.chart_png.startswith(b"\x89PNG")


async def test_the_childs_exception_reaches_the_caller(district: District, tmp_path: Path) -> None:
    period = parse_period("本周", NOW)
    assert period is not None
    if isinstance(district.db, Path):
        missing: Path | str = tmp_path / "nowhere" / "deeper" / "jiaoyan.db"
        missing.parent.parent.write_text("a file where a folder should be", encoding="utf-8")
        expected: tuple[type[Exception], str | None] = (NotADirectoryError, None)
    else:  # a database the server does not have
        missing = database_url(district.db, "nowhere")
        expected = (DatabaseUnavailable, "无法连接 PostgreSQL 数据库")
    builder = DigestInChildProcess(missing)
    with pytest.raises(expected[0], match=expected[1]):
        await builder(district.storage, district.east, period, NOW)


async def test_a_child_that_dies_is_an_error_with_its_exit_code() -> None:
    with pytest.raises(ReportProcessError, match="exited with 3"):
        await run_in_child("os:_exit", 3)


async def test_any_named_function_runs_in_a_child() -> None:
    pid = await run_in_child("os:getpid")
    assert isinstance(pid, int) and pid != os.getpid()
    assert await run_in_child("math:fsum", [0.1] * 10) == 1.0


@SQLITE_ONLY  # the hung child never reaches the database
async def test_a_hung_child_is_stopped(district: District, tmp_path: Path) -> None:
    period = parse_period("本周", NOW)
    assert period is not None
    # A "python" that never answers: the builder kills it after its timeout.
    builder = DigestInChildProcess(district.db, python=str(_sleeper(tmp_path)), timeout=0.5)
    with pytest.raises(ReportProcessError, match="timed out"):
        await builder(district.storage, district.east, period, NOW)


def _sleeper(folder: Path) -> Path:
    script = folder / "sleeper"
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n", encoding="utf-8")
    script.chmod(0o755)
    return script


def test_the_blocking_runner_for_code_already_in_a_thread() -> None:
    pid = run_in_child_blocking("os:getpid")
    assert isinstance(pid, int) and pid != os.getpid()
    with pytest.raises(ZeroDivisionError):
        run_in_child_blocking("operator:truediv", 1, 0)
    with pytest.raises(ReportProcessError, match="exited with 3"):
        run_in_child_blocking("os:_exit", 3)


def test_an_export_apart_writes_the_same_workbook_contents(
    district: District, tmp_path: Path
) -> None:
    period = parse_period("本学期", NOW)
    assert period is not None
    scope = ExportScope(
        alliance=district.east, start=period.start, end=period.end, zone=ZoneInfo("Asia/Shanghai")
    )
    here = export_workbook(district.storage, scope, tmp_path / "here.xlsx", NOW)
    apart = export_workbook_apart(district.storage, scope, tmp_path / "apart.xlsx", NOW)
    assert apart.path == tmp_path / "apart.xlsx" and apart.path.stat().st_size > 0
    assert (apart.counts, apart.hours) == (here.counts, here.hours)
    assert apart.counts["反思"] > 0


async def test_what_the_function_prints_does_not_spoil_its_answer() -> None:
    # print() writes to stdout, the channel the answer travels on.
    assert await run_in_child("builtins:print", "noise from a library") is None
    assert await run_in_child("builtins:sum", [1, 2, 3]) == 6
