"""The `jiaoyan-bot` command line: demo, console, roster and calendar import, serve, check,
simulate, export, backup."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path

from bot.cli.argparse_zh import ChineseArgumentParser
from bot.core.logs import configure_logging
from bot.core.setting_keys import unknown_keys
from bot.core.settings import Settings, SettingsError, load_settings
from storage import Storage
from storage.db import DatabaseUnavailable

DEMO_DB = Path("data/demo.db")
PLAYGROUND_DB = Path("data/playground.db")


ENV_FILE_HELP = "读取哪个配置文件（默认当前目录的 .env）"


def _parser() -> argparse.ArgumentParser:
    parser = ChineseArgumentParser(
        prog="jiaoyan-bot", description="教研助手：企业微信教研联盟机器人"
    )
    parser.add_argument("-V", "--version", action="version", version=_version(), help="显示版本号")
    parser.add_argument("--env-file", type=Path, metavar="文件", help=ENV_FILE_HELP)
    common = ChineseArgumentParser(add_help=False)
    common.add_argument(
        "--db", metavar="数据库", help="数据库文件或 postgresql:// 地址（默认取 JIAOYAN_DB）"
    )
    # Also after the command; SUPPRESS keeps a value given before the command.
    common.add_argument(
        "--env-file", type=Path, default=argparse.SUPPRESS, metavar="文件", help=ENV_FILE_HELP
    )
    common.add_argument("-v", "--verbose", action="store_true", help="输出调试日志")
    sub = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="命令",
        title="命令",
        help="每个命令的说明：jiaoyan-bot 命令 -h",
    )

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, parents=[common])

    demo = add("demo", f"生成演示数据并演示一周的教研活动（默认写入 {DEMO_DB}）")
    demo.add_argument(
        "--start",
        type=_iso_date,
        metavar="日期",
        help="演示哪一周，如 2026-12-07（取该日所在的周一；默认即将到来的周一）",
    )

    playground = add(
        "playground",
        f"在本机网页上和机器人对话、拨动时钟（不写 --db 时在 {PLAYGROUND_DB} 生成演示区并先演示一周）",
    )
    playground.add_argument(
        "--host", default="127.0.0.1", help="监听地址（默认 127.0.0.1，只有本机能打开）"
    )
    playground.add_argument("--port", type=int, default=8080, help="端口（默认 8080）")
    playground.add_argument(
        "--start", type=_iso_date, help="演示哪一周，如 2026-12-07（不写 --db 时有效）"
    )

    console = add("console", "在终端里和机器人对话")
    console.add_argument(
        "--as", dest="userid", metavar="账号", required=True, help="以哪个企业微信账号发言"
    )
    console.add_argument("--chat", metavar="群聊ID", help="群聊 ID（不写则为私聊）")

    roster = add("import-roster", "从 CSV/XLSX 导入名册")
    roster.add_argument("file", type=Path, metavar="名册文件", help="名册文件（.csv 或 .xlsx）")
    roster.add_argument("--dry-run", action="store_true", help="只检查并报告，不写入")

    calendar = sub.add_parser("calendar", help="校历：导入开学、放假、节假日和调休")
    calendar_sub = calendar.add_subparsers(dest="calendar_command", required=True, metavar="操作")
    calendar_import = calendar_sub.add_parser(
        "import",
        help="从 YAML 文件导入一个学期的校历（见 examples/calendar.yaml）",
        parents=[common],
    )
    calendar_import.add_argument("file", type=Path)

    serve = add("serve", "运行机器人服务（已配置的渠道、定时任务、HTTP）")
    serve.add_argument("--host", default="0.0.0.0", metavar="地址", help="监听地址（默认 0.0.0.0）")
    serve.add_argument(
        "--port", type=int, default=8080, metavar="端口", help="监听端口（默认 8080）"
    )

    check = add("check", "检查配置是否正确")
    check.add_argument("--online", action="store_true", help="同时连接企业微信接口验证")

    simulate = add("simulate", "在模拟时钟上回放一个场景文件")
    simulate.add_argument("file", type=Path, metavar="场景文件", help="场景文件（.yaml）")

    db = sub.add_parser("db", help="数据库维护")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="操作")
    db_copy = db_sub.add_parser(
        "copy", help="把 SQLite 数据库复制到空的 PostgreSQL 库", parents=[common]
    )
    db_copy.add_argument(
        "--to", required=True, help="目标地址，如 postgresql://用户:密码@主机/库名"
    )

    export = add("export", "导出 Excel 档案")
    export.add_argument("--alliance", metavar="联盟", help="联盟名（默认全部）")
    export.add_argument(
        "--member", metavar="账号", help="只导出这位成员的成长档案（.xlsx 或 .html）"
    )
    export.add_argument("--from", dest="date_from", metavar="日期", help="开始日期，如 2026-09-01")
    export.add_argument("--to", dest="date_to", metavar="日期", help="结束日期，如 2027-01-31")
    export.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="文件",
        required=True,
        help="输出文件 .xlsx（--member 时也可以是 .html）",
    )

    backup = add("backup", "备份数据库（服务运行时也能得到一致的副本）")
    backup.add_argument(
        "-o", "--output", type=Path, metavar="文件", required=True, help="备份文件，如 备份.db"
    )
    return parser


def _version() -> str:
    """The installed package's version, as `pip show jiaoyan-bot` would say."""
    try:
        return f"jiaoyan-bot {metadata.version('jiaoyan-bot')}"
    except metadata.PackageNotFoundError:
        return "jiaoyan-bot（未安装，版本未知）"


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期「{text}」看不懂，请写成 2026-12-07") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo" and args.db is None:
            args.db = DEMO_DB  # the demo never touches the real database by default
        if args.command == "playground":
            args.demo = args.db is None  # without --db: a fresh demo district, never the real one
            args.db = args.db or PLAYGROUND_DB
        overrides = {"JIAOYAN_DB": args.db} if args.db else {}
        settings = load_settings(args.env_file, **overrides)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging(
        settings.log_format,
        settings.log_level,
        verbose=args.verbose,
        service=args.command == "serve",
    )
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
    if command == "playground":
        from bot.cli.demo import coming_monday, monday_of
        from bot.cli.launch import playground_command

        today = datetime.now(settings.zone).date()
        week = (
            (monday_of(args.start) if args.start else coming_monday(today)) if args.demo else None
        )
        return playground_command(settings, args.host, args.port, demo_week=week)
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
    if command == "calendar":
        return _import_calendar(args.file, settings)
    if command == "serve":
        from bot.cli.launch import serve_command

        return serve_command(
            settings,
            host=args.host,
            port=args.port,
            unknown=unknown_keys(args.env_file, os.environ),
        )
    if command == "check":
        from bot.cli.check import check_command

        unknown = unknown_keys(args.env_file, os.environ)
        return check_command(settings, online=args.online, unknown=unknown)
    if command == "simulate":
        from bot.cli.simulate import simulate_command

        return simulate_command(settings, args.file, print, db=args.db)
    if command == "db":
        from bot.cli.db_copy import copy_command

        return copy_command(settings.db, args.to, print)
    if command == "export" and args.member:
        from reports.archive_cli import archive_command

        if args.alliance:
            print("--member 和 --alliance 只能选一个。", file=sys.stderr)
            return 2
        return archive_command(
            settings,
            member=args.member,
            date_from=args.date_from,
            date_to=args.date_to,
            output=args.output,
        )
    if command == "export":
        from reports.cli import export_command

        return export_command(
            settings,
            alliance=args.alliance,
            date_from=args.date_from,
            date_to=args.date_to,
            output=args.output,
        )
    if command == "backup":
        from bot.cli.backup import backup_command

        return backup_command(str(settings.db), args.output)
    raise AssertionError(command)


def _import_calendar(path: Path, settings: Settings) -> int:
    """calendar import FILE: one term's calendar, which new recurring activities skip."""
    from storage.calendar_file import CalendarFileError, read_calendar_file

    try:
        calendar = read_calendar_file(path)
    except CalendarFileError as error:
        print(f"校历没有导入：\n{error}", file=sys.stderr)
        return 2
    storage = Storage.open(settings.db)
    try:
        storage.calendar.import_term(calendar.term, calendar.days)
    finally:
        storage.close()
    term = calendar.term
    print(
        f"已导入校历「{term.name}」：{term.starts_on:%Y-%m-%d} 开学，{term.ends_on:%Y-%m-%d} 放假；"
        f"节假日 {calendar.holidays} 天，调休上班 {calendar.workdays} 天。"
        "之后发起的系列活动会跳过节假日和假期（已发起的不变）。"
    )
    return 0


def _namer(storage: Storage) -> Callable[[str], str]:
    """Console output shows people by name rather than account."""

    def name(userid: str) -> str:
        member = storage.roster.member_by_userid(userid)
        return member.name if member else userid

    return name


if __name__ == "__main__":
    sys.exit(main())
