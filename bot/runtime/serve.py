"""The whole bot as one runtime: every configured channel, the outbox, the scheduler, HTTP.

`jiaoyan-bot serve` (`bot.cli.launch`) runs it in one process with one event loop and one
database (`run_server`). Scale beyond one process is meant to come from PostgreSQL and several
instances, not from forking this one.

Structure (so that more parts plug in with one line each):
- `build_runtime` wires channels, senders and the `App` from settings. Its `route_adders` list
  feeds the web application (`bot.runtime.web`); its `services` list holds background services
  (anything with `async start()` / `async stop()`), started in order and stopped in reverse.
- `Runtime.start()` first recovers inbox messages a crash left unprocessed, then starts the
  services; `Runtime.stop()` stops them in reverse: the long connection (no new messages),
  then the pipeline drain (replies of messages in progress get queued), then the outbox worker.
- `run_server` adds the HTTP listener around that and waits for a stop event.

Several instances may share one PostgreSQL database (behind a load balancer): each takes in
and processes its own callbacks and sends from the shared outbox (rows claimed one round at a
time), while the scheduler, the long connection and the recovery of a dead instance's
messages run on the leading instance only (`bot.runtime.leader`). On SQLite the one process
always leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import aiohttp

from bot.channels.aibot_http import AibotResponseSender
from bot.channels.aibot_ws import AibotLongConnection
from bot.channels.app_sender import AppSender
from bot.channels.base import IncomingSink, Sender
from bot.channels.status import ChannelStatus, channel_statuses
from bot.channels.webhook import WebhookSender
from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.ratelimit import (
    APP_MEMBER_PER_MINUTE,
    WEBHOOK_PER_MINUTE,
    SlidingWindowLimiter,
)
from bot.core.clock import Clock, SystemClock
from bot.core.messages import Channel, Incoming
from bot.core.settings import Settings
from bot.pipeline.files import FileIntake, FileStore, MediaDownloader, files_dir_for
from bot.pipeline.inbox import Pipeline
from bot.runtime.app import App, create_app
from bot.runtime.http_intake import health_body, http_route_adders, secret_value
from bot.runtime.leader import ORPHAN_SWEEP, Leadership, PeriodicTask, Service
from bot.runtime.metrics_route import metrics_routes
from bot.runtime.playground import (
    PLAYGROUND_PATH,
    playground_hub,
    playground_routes,
    playground_senders,
    submit_to,
)
from bot.runtime.sd_notify import READY, STOPPING, SystemdNotifier
from bot.runtime.web import Announce, RouteAdder, create_web_app, listen_until
from handlers.evidence import follows_record
from reports.digest_process import DigestInChildProcess
from scheduling.items import ReminderPolicy
from storage import Storage
from storage.checkpoint import TRUNCATE_ABOVE, WalCheckpointer
from storage.leadership import leader_lock_for, new_instance_id

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]
SinkFactory = Callable[[App], IncomingSink]

STOP_TIMEOUT = 15.0
# Exit statuses of `serve` that a restart can cure (systemd Restart=on-failure and Docker's
# restart policy start it again; 2, a configuration error, is left alone): the database could
# not be opened (missing folder, locked, not a database), or another connection took over the
# bot's long connection (WeCom allows one per BotID; a fresh start connects again).
EXIT_UNAVAILABLE = 1
EXIT_REPLACED = 3


class StartupError(Exception):
    """Something `serve` needs could not be opened; the message is Chinese, for the log."""


# How often the leading instance re-reads the schedule when instances share the database: a
# message handled on another instance (a new activity) cannot re-arm the leader's alarm.
SHARED_MAX_SLEEP = timedelta(seconds=30)


class TaskService:
    """A long-running coroutine as a `Service`: stop() asks it to end, then waits for it."""

    def __init__(
        self,
        name: str,
        run: Callable[[], Awaitable[None]],
        request_stop: Callable[[], None],
        *,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        self.name = name
        self._run_factory = run
        self._request_stop = request_stop
        self._stop_timeout = stop_timeout
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        try:
            await self._run_factory()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s stopped with an error", self.name)
        else:
            log.info("%s finished", self.name)

    async def stop(self) -> None:
        task = self._task
        if task is None:
            return
        self._request_stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), self._stop_timeout)
        except TimeoutError:
            log.warning(
                "%s did not stop within %.0fs; cancelling it", self.name, self._stop_timeout
            )
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class PipelineDrain:
    """At stop, let messages being processed finish so their replies are queued.

    Anything still unfinished after the timeout stays "received" in the inbox and is
    processed by `recover()` at the next start, so nothing is lost either way.
    """

    def __init__(self, pipeline: Pipeline, *, timeout: float = STOP_TIMEOUT) -> None:
        self._pipeline = pipeline
        self._timeout = timeout

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self._pipeline.drain(), self._timeout)
        except TimeoutError:
            log.warning("messages still in progress at shutdown will be recovered at next start")
        self._pipeline.log_traffic()


class LongConnectionService:
    """The long connection as a service that can start again after a stop: this instance
    may lose the lead and take it again later."""

    def __init__(
        self, connection: AibotLongConnection, *, stop_timeout: float, replaced: asyncio.Event
    ) -> None:
        """`replaced` is set when the connection ends because another one took over the
        bot (WeCom keeps one per BotID): `serve` then exits so a restart connects again."""
        self._connection = connection
        self._stop_timeout = stop_timeout
        self._replaced = replaced
        self._task: TaskService | None = None

    async def start(self) -> None:
        if self._task is None:
            self._connection.resume()
            self._task = TaskService(
                "aibot-long-connection",
                self._run,
                self._connection.stop,
                stop_timeout=self._stop_timeout,
            )
            await self._task.start()

    async def _run(self) -> None:
        await self._connection.run()
        if self._connection.replaced:
            self._replaced.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await task.stop()


class _ForwardingSink:
    """The long connection is built before the App (it is one of its senders), so it gets
    this sink, which forwards to the real one once the App exists."""

    def __init__(self) -> None:
        self.target: IncomingSink | None = None

    async def submit(self, incoming: Incoming) -> bool:
        if self.target is None:
            raise RuntimeError("the inbox is not ready yet")
        return await self.target.submit(incoming)


@dataclass(frozen=True)
class RuntimeOptions:
    """Knobs tests turn; production uses the defaults."""

    api_sleep: Sleep = asyncio.sleep  # WeCom API retries
    ws_sleep: Sleep = asyncio.sleep  # long-connection heartbeat and reconnect backoff
    run_worker: bool = True  # False: the caller drives app.worker.run_once() itself
    # This instance's name in its claims on shared rows (several instances on PostgreSQL);
    # run_server names it after host and port, so a restarted instance is the same one.
    instance: str | None = None
    stop_timeout: float = STOP_TIMEOUT


class Runtime:
    """Everything `serve` runs, built and wired but not started."""

    def __init__(
        self,
        *,
        app: App,
        statuses: list[ChannelStatus],
        long_connection: AibotLongConnection | None,
        route_adders: list[RouteAdder],
        services: list[Service],
        playground: bool = False,
        replaced: asyncio.Event | None = None,
        leadership: Leadership | None = None,
    ) -> None:
        self.app = app
        self.playground = playground  # `/playground/` is served (no WeCom channel)
        # Set when the long connection ends because another one took over (run_server exits).
        self.replaced = replaced or asyncio.Event()
        self.leadership = leadership
        self.statuses = statuses
        self.long_connection = long_connection
        self.services = services
        self.web_app = create_web_app(self.health, route_adders)
        self._started: list[Service] = []
        self._running = False

    @property
    def enabled(self) -> set[Channel]:
        return {status.channel for status in self.statuses if status.enabled}

    async def start(self) -> None:
        """Recover what a crash left unprocessed, then start the services in order."""
        if self._running:
            return
        self._running = True
        recovered = await self.app.pipeline.recover()
        if recovered:
            log.info("processing %d message(s) left over from the last run", recovered)
        for service in self.services:
            await service.start()
            self._started.append(service)

    async def stop(self) -> None:
        """Stop the started services in reverse order; safe to call more than once."""
        while self._started:
            service = self._started.pop()
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", type(service).__name__)
        self._running = False

    def health(self) -> dict[str, Any]:
        """What `/healthz` shows (see `bot.runtime.http_intake.health_body`)."""
        body = health_body(
            self.statuses,
            self.app.outbox.stats(),
            long_connection=self.long_connection_state,
        )
        if self.leadership is not None and self.app.outbox.shared:
            # Several instances on PostgreSQL: which one runs reminders and the long connection.
            body["role"] = "leader" if self.leadership.leading else "follower"
        return body

    @property
    def long_connection_state(self) -> str | None:
        """The long connection's state (connected, connecting, replaced, or standby on an
        instance that does not lead); None without one."""
        connection = self.long_connection
        if connection is None:
            return None
        if self.leadership is not None and not self.leadership.leading:
            return "standby"  # another instance leads and holds the bot's one connection
        if connection.replaced:
            return "replaced"
        return "connected" if connection.is_connected else "connecting"


def build_runtime(
    settings: Settings,
    *,
    session: aiohttp.ClientSession,
    storage: Storage,
    clock: Clock,
    options: RuntimeOptions | None = None,
    sink_factory: SinkFactory | None = None,
) -> Runtime:
    """Wire the enabled channels, their senders and the App. Call inside the running loop.

    `sink_factory(app)` chooses what the channels feed (default `app.pipeline`); tests use it
    to wrap the pipeline. Recovery and draining always use `app.pipeline`.
    """
    options = options or RuntimeOptions()
    instance = options.instance or new_instance_id()
    statuses = channel_statuses(settings)
    enabled = {status.channel for status in statuses if status.enabled}
    minute = timedelta(minutes=1)
    client = WeComClient(
        session, settings.wecom_api_base, settings.wecom_corp_id, clock, sleep=options.api_sleep
    )

    webhook_limiter = SlidingWindowLimiter(WEBHOOK_PER_MINUTE, minute, clock)
    senders: list[Sender] = [WebhookSender(client, webhook_limiter)]
    forwarding = _ForwardingSink()
    long_connection: AibotLongConnection | None = None
    if Channel.AIBOT_WS in enabled:
        long_connection = AibotLongConnection(
            settings.wecom_bot_ws_url,
            settings.wecom_bot_id.strip(),
            secret_value(settings.wecom_bot_secret),
            forwarding,
            session=session,
            clock=clock,
            sleep=options.ws_sleep,
        )
        senders.append(long_connection)
    if Channel.AIBOT_HTTP in enabled:
        senders.append(AibotResponseSender(session, allowed_origins=settings.reply_origins))
    if Channel.APP in enabled:
        member_limiter = SlidingWindowLimiter(APP_MEMBER_PER_MINUTE, minute, clock)
        senders.append(
            AppSender(
                client,
                secret_value(settings.wecom_app_secret),
                settings.wecom_agent_id.strip(),
                member_limiter=member_limiter,
            )
        )
    # Without any WeCom channel, the local playground page is the way to talk to the bot.
    hub = playground_hub(settings, storage, clock) if not enabled else None
    sender_map: dict[Channel, Sender] = {sender.channel: sender for sender in senders}
    if hub is not None:
        sender_map.update(playground_senders(hub))
    # Private answers and direct messages: the app if configured, else the long connection.
    private_channel = (
        Channel.APP
        if Channel.APP in enabled
        else Channel.AIBOT_WS
        if Channel.AIBOT_WS in enabled
        else Channel.PLAYGROUND
        if hub is not None
        else None
    )
    callback_key = settings.wecom_bot_aes_key
    file_intake = FileIntake(
        MediaDownloader(session, settings.media_hosts),
        FileStore(files_dir_for(settings.db)),
        callback_aes_key=callback_key.get_secret_value() if callback_key else None,
        follows_record=partial(follows_record, storage, clock),
    )
    app = create_app(
        settings,
        clock=clock,
        senders=sender_map,
        private_channel=private_channel,
        storage=storage,
        file_intake=file_intake,
        digest_builder=DigestInChildProcess(settings.db),
        instance=instance,
        reminder_policy=ReminderPolicy(max_sleep=SHARED_MAX_SLEEP)
        if storage.outbox.shared
        else None,
    )
    sink = sink_factory(app) if sink_factory is not None else app.pipeline
    forwarding.target = sink

    route_adders = http_route_adders(settings, enabled, sink=sink, storage=storage, clock=clock)
    route_adders.append(metrics_routes(app.metrics, secret_value(settings.metrics_token)))
    if hub is not None:
        # serve listens on all addresses by default: the page answers this machine only.
        page = playground_routes(settings, storage, clock, hub, submit_to(sink), local_only=True)
        route_adders.append(page.add_routes)

    # Background services: started in this order, stopped in reverse.
    services: list[Service] = []
    if options.run_worker:
        worker_stop = asyncio.Event()
        services.append(
            TaskService(
                "outbox-worker",
                lambda: app.worker.run(worker_stop),
                worker_stop.set,
                stop_timeout=options.stop_timeout,
            )
        )
    services.append(PipelineDrain(app.pipeline, timeout=options.stop_timeout))
    # Disk syncs of WAL checkpoints happen in a thread, never inside a callback's commit.
    if storage.path is not None:
        checkpointer = WalCheckpointer(storage.db.conn, storage.path, truncate_above=TRUNCATE_ABOVE)
        checkpoint_stop = asyncio.Event()
        services.append(
            TaskService(
                "wal-checkpointer",
                lambda: checkpointer.run(checkpoint_stop),
                checkpoint_stop.set,
                stop_timeout=options.stop_timeout,
            )
        )
    # On the leading instance only (always on SQLite): reminders and digests (the scheduler
    # catches up on what fell due while down, then arms its alarm), the long connection, and
    # with several instances the messages of one that died.
    leader_services: list[Service] = []
    replaced = asyncio.Event()
    shared = app.outbox.shared
    if shared:
        leader_services.append(PeriodicTask("orphan-recovery", app.pipeline.recover, ORPHAN_SWEEP))
    leader_services.append(app.scheduler)
    if long_connection is not None:
        leader_services.append(
            LongConnectionService(
                long_connection, stop_timeout=options.stop_timeout, replaced=replaced
            )
        )

    def leading_changed(leading: bool) -> None:
        # Only the leader holds the long connection, so only it sends that channel's items.
        if shared and long_connection is not None:
            app.worker.leave_channel(Channel.AIBOT_WS, not leading)

    leading_changed(False)
    leadership = Leadership(
        leader_lock_for(storage.location), leader_services, on_change=leading_changed
    )
    services.append(leadership)
    return Runtime(
        app=app,
        statuses=statuses,
        long_connection=long_connection,
        route_adders=route_adders,
        services=services,
        playground=hub is not None,
        replaced=replaced,
        leadership=leadership,
    )


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    options: RuntimeOptions | None = None,
    sink_factory: SinkFactory | None = None,
) -> AsyncIterator[Runtime]:
    """Open the database and one shared HTTP session, build the runtime, and on exit stop the
    services (if started), close the session and the database. `StartupError` when the
    database cannot be opened."""
    try:
        storage = Storage.open(settings.db)
    except Exception as exc:  # any backend's error: missing folder, locked, not a database
        raise StartupError(f"无法打开数据库 {settings.db}：{exc}") from exc
    try:
        async with aiohttp.ClientSession() as session:
            runtime = build_runtime(
                settings,
                session=session,
                storage=storage,
                clock=clock or SystemClock(),
                options=options,
                sink_factory=sink_factory,
            )
            try:
                yield runtime
            finally:
                await runtime.stop()
    finally:
        storage.close()


async def run_server(
    settings: Settings,
    host: str,
    port: int,
    *,
    stop: asyncio.Event,
    clock: Clock | None = None,
    options: RuntimeOptions | None = None,
    announce: Announce = print,
    on_ready: Callable[[str], None] | None = None,
    notifier: SystemdNotifier | None = None,
) -> int:
    """Run everything in this process until `stop` is set: recover, start services, listen,
    then shut down in order. `notifier` tells systemd when serving starts and stops. Ends by
    itself, non-zero, when it cannot go on (the database cannot be opened, the long connection
    was taken over), so a restart policy restarts it."""
    notifier = notifier or SystemdNotifier(None)
    options = options or RuntimeOptions()
    if options.instance is None:
        options = dataclasses.replace(options, instance=new_instance_id(port or None))
    try:
        async with open_runtime(settings, clock=clock, options=options) as runtime:
            await runtime.start()  # recovery first: READY only once leftovers are processed

            def ready(base_url: str) -> None:
                if runtime.playground:
                    announce(
                        f"没有配置企业微信，可在本机浏览器打开体验页：{base_url}{PLAYGROUND_PATH}"
                        "（只对本机开放，按真实时间运行）"
                    )
                notifier.notify(READY, f"STATUS=正在服务 {base_url}")
                if on_ready is not None:
                    on_ready(base_url)

            watcher = asyncio.create_task(_stop_when_set(runtime.replaced, stop))
            try:
                code = await listen_until(
                    runtime.web_app, host, port, stop=stop, announce=announce, on_ready=ready
                )
            finally:
                watcher.cancel()
            notifier.notify(STOPPING)  # the services stop as this block ends
    except StartupError as exc:
        announce(
            f"{exc}。服务退出（退出码 {EXIT_UNAVAILABLE}），由 systemd 或 Docker 稍后重新启动。"
        )
        return EXIT_UNAVAILABLE
    if runtime.replaced.is_set():
        announce(
            "智能机器人长连接被同一 BotID 的另一条连接取代，服务退出（退出码 "
            f"{EXIT_REPLACED}），由 systemd 或 Docker 重新启动后会重新连接。"
            "如果反复出现，说明还有另一个实例在运行，请只保留一个。"
        )
        return EXIT_REPLACED
    if code == 0:
        announce("服务已停止。")
    return code


async def _stop_when_set(event: asyncio.Event, stop: asyncio.Event) -> None:
    await event.wait()
    stop.set()
