"""`jiaoyan-bot serve` from the command line: check the settings, then run the service
(`bot.runtime.serve`, one process with one event loop and one database) until a signal."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date

from bot.channels.status import WEBHOOK_STATUS_LINE, channel_statuses
from bot.cli.check import CheckReport, check_settings
from bot.core.setting_keys import UnknownKey
from bot.core.settings import Settings, database_label

EXIT_CONFIG_ERROR = 2

Run = Callable[[asyncio.Event], Awaitable[int]]


def banner(settings: Settings, report: CheckReport) -> list[str]:
    """The start-up lines: which channels run, and any configuration problem."""
    lines = [status.describe() for status in channel_statuses(settings)]
    lines.append(WEBHOOK_STATUS_LINE)
    lines.extend(finding.render() for finding in (*report.warnings, *report.errors))
    return lines


def serve_command(
    settings: Settings, host: str, port: int, unknown: Sequence[UnknownKey] = ()
) -> int:
    """CLI entry: print which channels run, refuse a broken configuration, serve until signalled.

    The log level is the caller's (`bot.core.logs.configure_logging`: INFO unless configured)."""
    _say(f"教研助手服务启动中（数据库 {database_label(settings.db)}）")
    report = check_settings(settings, unknown)
    for line in banner(settings, report):
        _say(line)
    if not report.passed:
        _say("配置有错误，服务没有启动。请按上面的说明修改 .env，再运行 jiaoyan-bot check 确认。")
        return EXIT_CONFIG_ERROR
    from bot.runtime.sd_notify import SystemdNotifier
    from bot.runtime.serve import run_server

    def run(stop: asyncio.Event) -> Awaitable[int]:
        notifier = SystemdNotifier.from_environ(os.environ)  # Type=notify in the unit file
        return run_server(settings, host, port, stop=stop, announce=_say, notifier=notifier)

    _freeze_loaded()
    try:
        return asyncio.run(_until_signalled(run))
    except KeyboardInterrupt:  # pragma: no cover - only where signal handlers are unsupported
        print("已中断。", file=sys.stderr)
        return 130


def playground_command(settings: Settings, host: str, port: int, *, demo_week: date | None) -> int:
    """CLI entry of `jiaoyan-bot playground`: the local page until Ctrl+C."""
    from bot.cli.playground import run_playground

    _say(f"教研助手体验页启动中（数据库 {settings.db}）")

    def run(stop: asyncio.Event) -> Awaitable[int]:
        return run_playground(settings, host, port, demo_week=demo_week, stop=stop, announce=_say)

    try:
        return asyncio.run(_until_signalled(run))
    except KeyboardInterrupt:  # pragma: no cover - only where signal handlers are unsupported
        return 130


def _freeze_loaded() -> None:
    """Everything loaded so far (modules, schemas, word lists) lives as long as the process.
    Frozen, it is left out of the collector's full passes, which otherwise stopped the event
    loop for 50-90 ms every few seconds under load: the worst callback latencies."""
    gc.freeze()


async def _until_signalled(run: Run) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
        except (NotImplementedError, RuntimeError):  # e.g. Windows: Ctrl+C still interrupts
            pass
    try:
        return await run(stop)
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


def _say(line: str) -> None:
    print(line, flush=True)
