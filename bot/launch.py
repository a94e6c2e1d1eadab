"""`jiaoyan-bot serve` from the command line: check the settings, then run the service as
several processes (`bot.split_serve`, the default on POSIX: intake processes and a worker) or
one (`bot.serve`) until a signal."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable

from bot.check import WEBHOOK_STATUS_LINE, CheckReport, channel_statuses, check_settings
from bot.settings import Settings

EXIT_CONFIG_ERROR = 2
EXIT_LISTEN_ERROR = 1

Run = Callable[[asyncio.Event], Awaitable[int]]


def banner(settings: Settings, report: CheckReport) -> list[str]:
    """The start-up lines: which channels run, and any configuration problem."""
    lines = [status.describe() for status in channel_statuses(settings)]
    lines.append(WEBHOOK_STATUS_LINE)
    lines.extend(finding.render() for finding in (*report.warnings, *report.errors))
    return lines


def uses_worker_process(settings: Settings) -> bool:
    """Two processes need fork-free spawning with inherited fds and file locks: POSIX."""
    return settings.worker_process and os.name == "posix"


def serve_command(settings: Settings, host: str, port: int) -> int:
    """CLI entry: print which channels run, refuse a broken configuration, serve until signalled."""
    root = logging.getLogger()
    verbose = root.level <= logging.DEBUG
    if root.level > logging.INFO:
        # A service's log is its only voice under systemd/Docker; bodies and secrets stay out.
        root.setLevel(logging.INFO)
    _say(f"教研助手服务启动中（数据库 {settings.db}）")
    report = check_settings(settings)
    for line in banner(settings, report):
        _say(line)
    if not report.passed:
        _say("配置有错误，服务没有启动。请按上面的说明修改 .env，再运行 jiaoyan-bot check 确认。")
        return EXIT_CONFIG_ERROR
    if uses_worker_process(settings):
        run = _split_server(settings, host, port, verbose=verbose)
        if run is None:
            return EXIT_LISTEN_ERROR
    else:
        from bot.serve import run_server

        def run(stop: asyncio.Event) -> Awaitable[int]:
            return run_server(settings, host, port, stop=stop, announce=_say)

        _freeze_loaded()
    try:
        return asyncio.run(_until_signalled(run))
    except KeyboardInterrupt:  # pragma: no cover - only where signal handlers are unsupported
        print("已中断。", file=sys.stderr)
        return 130


def _split_server(settings: Settings, host: str, port: int, *, verbose: bool) -> Run | None:
    """Bind the port, fork the other intake processes, and return how to run the first one
    (None when the port cannot be opened)."""
    from bot.intake_processes import bind_listeners, fork_intake_processes, intake_process_count
    from bot.split_serve import (
        load_callback_modules,
        prepare_files,
        run_forked_intake,
        run_split_server,
    )

    count = intake_process_count(settings)
    listeners: list[socket.socket] = []
    if count > 1:
        try:
            listeners = bind_listeners(host, port, count)
        except OSError as exc:
            _say(f"无法监听 {host}:{port}：端口可能已被占用或没有权限（{exc}）。")
            return None
    prepare_files(settings, count)  # closed again before the fork: SQLite forbids sharing
    load_callback_modules(settings)  # before the fork, so the intake processes share them
    _freeze_loaded()

    def run_forked(shard: int, sock: socket.socket, link: socket.socket) -> int:
        def run(stop: asyncio.Event) -> Awaitable[int]:
            return run_forked_intake(settings, shard, sock, link, stop=stop)

        return asyncio.run(_until_signalled(run))

    siblings = fork_intake_processes(listeners, run_forked)

    def run(stop: asyncio.Event) -> Awaitable[int]:
        return run_split_server(
            settings,
            host,
            port,
            stop=stop,
            announce=_say,
            verbose=verbose,
            sock=listeners[0] if listeners else None,
            siblings=siblings,
        )

    return run


def _freeze_loaded() -> None:
    """Everything loaded so far (modules, schemas, word lists) lives as long as the process.
    Frozen, it is left out of the collector's full passes, which otherwise stopped the event
    loop for 50-90 ms every few seconds under load: the worst callback latencies. Forked
    processes then also keep sharing its pages (a full pass writes to every object)."""
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
