"""The `jiaoyan-bot` command line: demo, console, roster import, serve, check, simulate, export."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from bot.core.settings import Settings, SettingsError, load_settings
from storage import Storage
from storage.db import DatabaseUnavailable

DEMO_DB = Path("data/demo.db")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jiaoyan-bot", description="教研助手：企业微信教研联盟机器人"
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", help="数据库文件或 postgresql:// 地址（默认取 JIAOYAN_DB）")
    common.add_argument("-v", "--verbose", action="store_true", help="输出调试日志")
    sub = parser.add_subparsers(dest="command", required=True, metavar="命令")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, parents=[common])

    demo = add("demo", f"生成演示数据并演示一周的教研活动（默认写入 {DEMO_DB}）")
    demo.add_argument(
        "--start",
        type=_iso_date,
        help="演示哪一周，如 2026-12-07（取该日所在的周一；默认即将到来的周一）",
    )

    console = add("console", "在终端里和机器人对话")
    console.add_argument("--as", dest="userid", required=True, help="以哪个企业微信账号发言")
    console.add_argument("--chat", help="群聊 ID（不写则为私聊）")

    roster = add("import-roster", "从 CSV/XLSX 导入名册")
    roster.add_argument("file", type=Path)
    roster.add_argument("--dry-run", action="store_true", help="只检查并报告，不写入")

    serve = add("serve", "运行机器人服务（已配置的渠道、定时任务、HTTP）")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8080)

    check = add("check", "检查配置是否正确")
    check.add_argument("--online", action="store_true", help="同时连接企业微信接口验证")

    simulate = add("simulate", "在模拟时钟上回放一个场景文件")
    simulate.add_argument("file", type=Path)

    db = sub.add_parser("db", help="数据库维护")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="操作")
    db_copy = db_sub.add_parser(
        "copy", help="把 SQLite 数据库复制到空的 PostgreSQL 库", parents=[common]
    )
    db_copy.add_argument(
        "--to", required=True, help="目标地址，如 postgresql://用户:密码@主机/库名"
    )

    export = add("export", "导出 Excel 档案")
    export.add_argument("--alliance", help="联盟名（默认全部）")
    export.add_argument("--from", dest="date_from", help="开始日期，如 2026-09-01")
    export.add_argument("--to", dest="date_to", help="结束日期，如 2027-01-31")
    export.add_argument("-o", "--output", type=Path, required=True, help="输出文件 .xlsx")
    return parser


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期「{text}」看不懂，请写成 2026-12-07") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "demo" and args.db is None:
            args.db = DEMO_DB  # the demo never touches the real database by default
        overrides = {"JIAOYAN_DB": args.db} if args.db else {}
        settings = load_settings(**overrides)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    try:
        return _run(args, settings)
    except DatabaseUnavailable as error:
        print(error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace, settings: Settings) -> int:
    command = args.command
    if command == "demo":
        from bot.cli.demo import coming_monday, monday_of, run_demo

        today = datetime.now(settings.zone).date()
        monday = monday_of(args.start) if args.start else coming_monday(today)
        return asyncio.run(run_demo(settings, print, monday, today))
    if command == "console":
        from bot.channels.console_sender import ConsoleSender
        from bot.cli.console import console_main, stdio_terminal
        from bot.core.messages import Channel
        from bot.runtime.app import create_app

        storage = Storage.open(settings.db)
        terminal = stdio_terminal()
        sender = ConsoleSender(terminal.write, _namer(storage))
        app = create_app(
            settings,
            storage=storage,
            senders={Channel.CONSOLE: sender},
            private_channel=Channel.CONSOLE,
            leave_other_channels=True,  # serve may deliver from the same database
        )
        try:
            return asyncio.run(console_main(app, terminal, args.userid, args.chat))
        finally:
            app.close()
    if command == "import-roster":
        from storage.roster_file import RosterFileError
        from storage.roster_import import import_roster_file

        storage = Storage.open(settings.db)
        try:
            report = import_roster_file(
                storage, args.file, at=datetime.now(UTC), dry_run=args.dry_run
            )
        except RosterFileError as error:
            print(f"无法读取名册：{error}", file=sys.stderr)
            return 2
        finally:
            storage.close()
        print(report.render())
        return 1 if report.problems else 0
    if command == "serve":
        from bot.cli.launch import serve_command

        return serve_command(settings, host=args.host, port=args.port)
    if command == "check":
        from bot.cli.check import check_command

        return check_command(settings, online=args.online)
    if command == "simulate":
        from bot.cli.simulate import simulate_command

        return simulate_command(settings, args.file, print, db=args.db)
    if command == "db":
        from bot.cli.db_copy import copy_command

        return copy_command(settings.db, args.to, print)
    if command == "export":
        from reports.cli import export_command

        return export_command(
            settings,
            alliance=args.alliance,
            date_from=args.date_from,
            date_to=args.date_to,
            output=args.output,
        )
    raise AssertionError(command)


def _namer(storage: Storage) -> Callable[[str], str]:
    """Console output shows people by name rather than account."""

    def name(userid: str) -> str:
        member = storage.roster.member_by_userid(userid)
        return member.name if member else userid

    return name


if __name__ == "__main__":
    sys.exit(main())
