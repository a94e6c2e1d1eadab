"""`jiaoyan-bot simulate FILE`: replay a scripted scenario on a simulated clock.

A scenario (YAML, described in docs/scheduling.md) has a roster and a list of timed steps —
who says what in which chat, and times to advance to. Messages go through the real pipeline
(inbox → router → outbox → console sender); between steps the clock jumps from one due instant
to the next, so every reminder, scheduled notice and digest is printed at the time it goes out.
A week plays in about a second.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.channels.console_sender import ConsoleSender
from bot.cli.harness import Speaker, deliver
from bot.core.clock import FakeClock
from bot.core.messages import Channel
from bot.core.settings import Settings
from bot.routing.context import Hint
from bot.runtime.app import App, create_app
from bot.text.dates import parse_when
from handlers.digest import OFF_WORDS, parse_schedule
from handlers.format import WEEKDAYS
from scheduling.simulated import advance_clock
from storage import Storage
from storage.roster_import import ACCOUNT, ALLIANCE, NAME, PARENT, ROLE, SCHOOL, import_roster

Write = Callable[[str], None]

EXIT_OK = 0
EXIT_BAD_SCENARIO = 2
_ABSOLUTE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})$")
_RELATIVE = re.compile(r"^\+\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?$", re.IGNORECASE)
_QUIET = re.compile(r"^(\d{1,2}:\d{2})\s*[-~–至到]\s*(\d{1,2}:\d{2})$")
_PERSON_KEYS = {
    "姓名": NAME,
    "学校": SCHOOL,
    "联盟": ALLIANCE,
    "协作体": ALLIANCE,
    "上级联盟": PARENT,
    "账号": ACCOUNT,
    "企业微信账号": ACCOUNT,
    "角色": ROLE,
}


class ScenarioError(Exception):
    """The scenario file cannot be replayed as written (message in Chinese)."""


def _as_text(value: Any, field: str) -> Any:
    """YAML turns 14:30 into a number (base 60) and full timestamps into datetimes."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, int) and field in ("at", "advance", "start"):
        raise ValueError('时间请加引号，例如 at: "14:30"（否则 YAML 会把它当成数字）')
    return str(value)


class Step(BaseModel):
    """One line of the script; `at`/`advance` first moves the clock, then `who` says `say`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    at: str | None = None
    advance: str | None = None
    who: str | None = None
    chat: str | None = Field(default=None, alias="in")
    say: str | None = None
    note: str | None = None

    @field_validator("at", "advance", "who", "chat", "say", "note", mode="before")
    @classmethod
    def _text(cls, value: Any, info: Any) -> Any:
        return _as_text(value, info.field_name)


class AllianceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parent: str | None = None
    timezone: str | None = None
    quiet: str | None = None  # "21:30-07:30", or "无" for none
    digest: str | None = None  # "周五 17:00" or "关"


class RosterSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alliances: dict[str, AllianceSettings] = Field(default_factory=dict)
    people: list[dict[str, Any]] = Field(default_factory=list)
    groups: dict[str, str] = Field(default_factory=dict)  # chat id → alliance name


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    timezone: str | None = None
    start: str
    roster: RosterSection = Field(default_factory=RosterSection)
    steps: list[Step]

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, value: Any) -> Any:
        return _as_text(value, "start")


def load_scenario(path: Path) -> Scenario:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioError(f"无法读取场景文件 {path}：{error.strerror or error}") from error
    except yaml.YAMLError as error:
        raise ScenarioError(f"场景文件不是有效的 YAML：{error}") from error
    if not isinstance(data, dict):
        raise ScenarioError("场景文件的顶层应当是一个映射（含 start、roster、steps）。")
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        lines = ["场景文件有误："]
        for err in error.errors():
            where = ".".join(str(part) for part in err["loc"])
            lines.append(f"- {where}: {err['msg']}")
        raise ScenarioError("\n".join(lines)) from error


def parse_moment(text: str, now: datetime, zone: ZoneInfo) -> datetime:
    """'2026-11-30 08:30', '+1d2h', '+30m', or anything the bot understands ('周四 14:25')."""
    text = text.strip()
    if matched := _ABSOLUTE.match(text):
        year, month, day, hour, minute = (int(part) for part in matched.groups())
        try:
            return datetime(year, month, day, hour, minute, tzinfo=zone)
        except ValueError as error:
            raise ScenarioError(f"时间「{text}」不存在：{error}") from error
    if (matched := _RELATIVE.match(text)) and any(matched.groups()):
        days, hours, minutes = (int(part or 0) for part in matched.groups())
        return now + timedelta(days=days, hours=hours, minutes=minutes)
    when = parse_when(text, now.astimezone(zone))
    if when is None:
        raise ScenarioError(f"没看懂时间「{text}」，请写 2026-11-30 08:30、+2h 或 周四 14:25。")
    return when.start


class Transcript:
    """Prints each line with the simulated local time it happened at."""

    def __init__(self, write: Write, clock: FakeClock, zone: ZoneInfo) -> None:
        self._write = write
        self._clock = clock
        self._zone = zone

    def stamp(self) -> str:
        now = self._clock.now().astimezone(self._zone)
        return f"{now.month}月{now.day}日 周{WEEKDAYS[now.weekday()]} {now:%H:%M}"

    def line(self, text: str) -> None:
        first, *rest = text.split("\n")
        self._write(f"{self.stamp()}  {first}")
        for more in rest:
            self._write(f"    {more}" if more and not more.startswith("    ") else more)

    def note(self, text: str) -> None:
        self._write(f"\n── {text} ──")


class Simulation:
    """Plays a scenario against an app built on a FakeClock."""

    def __init__(self, app: App, clock: FakeClock, zone: ZoneInfo, transcript: Transcript) -> None:
        self.app = app
        self.clock = clock
        self.zone = zone
        self.transcript = transcript
        self._speaker = Speaker(clock, prefix=f"sim-{uuid.uuid4().hex[:8]}-")

    async def flush(self) -> None:
        """Deliver everything queued and due now."""
        await deliver(self.app.worker)

    async def advance(self, target: datetime) -> None:
        if target < self.clock.now():
            raise ScenarioError(
                f"时间不能倒退：已经到了 {self.transcript.stamp()}，"
                f"却要回到 {target.astimezone(self.zone):%Y-%m-%d %H:%M}。"
            )
        await advance_clock(self.app.scheduler, self.clock, target, after_each=self.flush)

    async def say(self, who: str, chat: str | None, text: str) -> None:
        userid, name = self._person(who)
        where = f"群 {chat}" if chat else "私聊"
        self.transcript.line(f"[{where}] {name}: {text}")
        await self._speaker.say(self.app, userid, text, chat)

    def _person(self, who: str) -> tuple[str, str]:
        roster = self.app.storage.roster
        member = roster.member_by_userid(who)
        if member is not None:
            return who, member.name
        named = roster.members_named(who)
        if len(named) == 1 and named[0].userid:
            return named[0].userid, named[0].name
        if len(named) > 1:
            raise ScenarioError(f"名册里有多位「{who}」，请在 who 中写企业微信账号。")
        if named:
            raise ScenarioError(f"「{who}」在名册里没有企业微信账号，无法以其身份发言。")
        return who, who  # a stranger: the bot will ask them to introduce themselves

    async def play(self, steps: list[Step]) -> None:
        for number, step in enumerate(steps, start=1):
            try:
                await self._step(step)
            except ScenarioError as error:
                raise ScenarioError(f"第 {number} 步：{error}") from error

    async def _step(self, step: Step) -> None:
        if step.note:
            self.transcript.note(step.note)
        moment = step.at or step.advance
        if moment:
            await self.advance(parse_moment(moment, self.clock.now(), self.zone))
        if step.say is not None:
            if not step.who:
                raise ScenarioError("写了 say 却没有写 who（谁说的）。")
            await self.say(step.who, step.chat, step.say)
        elif step.who or step.chat:
            raise ScenarioError("写了 who/in 却没有写 say（说什么）。")


def apply_roster(storage: Storage, roster: RosterSection, at: datetime) -> list[str]:
    """Bring the roster, alliance settings and group bindings in; returns problems (Chinese)."""
    rows = []
    for person in roster.people:
        row: dict[str, str] = {}
        for key, value in person.items():
            column = _PERSON_KEYS.get(str(key))
            if column is None:
                return [f"名册人员的列「{key}」不认识，可用：{'、'.join(_PERSON_KEYS)}"]
            row[column] = "" if value is None else str(value)
        rows.append(row)
    problems: list[str] = []
    if rows:
        report = import_roster(storage, rows, at=at, dry_run=False)
        if report.problems:
            return [report.render()]
    for name, settings in roster.alliances.items():
        parent = storage.roster.ensure_alliance(settings.parent, at=at) if settings.parent else None
        alliance = storage.roster.ensure_alliance(
            name, at=at, parent_id=parent.id if parent else None
        )
        problems.extend(_alliance_settings(storage, alliance.id, name, settings, at))
    for chat, alliance_name in roster.groups.items():
        found = storage.roster.find_alliance(alliance_name)
        if found is None:
            problems.append(f"群「{chat}」要绑定的联盟「{alliance_name}」不在名册里。")
            continue
        storage.chats.bind(chat, Channel.CONSOLE.value, found.id, bound_by="simulate", at=at)
    return problems


def _alliance_settings(
    storage: Storage, alliance_id: int, name: str, settings: AllianceSettings, at: datetime
) -> list[str]:
    changes: dict[str, object] = {}
    if settings.timezone:
        try:
            ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return [f"联盟「{name}」的时区「{settings.timezone}」不认识，例如 Asia/Shanghai。"]
        changes["timezone"] = settings.timezone
    if settings.quiet:
        if settings.quiet.strip() in ("无", "不设", "none"):
            changes["quiet_start"] = changes["quiet_end"] = "00:00"
        else:
            matched = _QUIET.match(settings.quiet.strip())
            if matched is None:
                return [f"联盟「{name}」的免打扰时间「{settings.quiet}」请写成 21:30-07:30。"]
            changes["quiet_start"], changes["quiet_end"] = (
                f"{int(t.split(':')[0]):02d}:{t.split(':')[1]}" for t in matched.groups()
            )
    if settings.digest:
        if settings.digest.strip() in OFF_WORDS:
            changes["digest_enabled"] = 0
        else:
            try:
                weekday, time_text = parse_schedule(settings.digest, at)
            except Hint as hint:
                return [f"联盟「{name}」的周报设置：{hint}"]
            if weekday is not None:
                changes["digest_weekday"] = weekday
            if time_text is not None:
                changes["digest_time"] = time_text
    if changes:
        storage.roster.update_alliance(alliance_id, **changes)
    return []


async def run_scenario(
    scenario: Scenario, settings: Settings, db_path: Path | str, write: Write
) -> int:
    """Replay `scenario` against the database at `db_path`; print everything via `write`."""
    try:
        zone = ZoneInfo(scenario.timezone or settings.tz)
    except (ZoneInfoNotFoundError, ValueError):
        write(f"场景的时区「{scenario.timezone}」不认识，例如 Asia/Shanghai。")
        return EXIT_BAD_SCENARIO
    start = parse_moment(scenario.start, datetime.now(zone), zone)
    clock = FakeClock(start)
    storage = Storage.open(db_path)
    app: App | None = None
    try:
        problems = apply_roster(storage, scenario.roster, clock.now())
        if problems:
            write("\n".join(["名册有误，场景没有运行：", *problems]))
            return EXIT_BAD_SCENARIO
        transcript = Transcript(write, clock, zone)
        names = storage.roster

        def name_of(userid: str) -> str:
            member = names.member_by_userid(userid)
            return member.name if member else userid

        sender = ConsoleSender(transcript.line, name_of)
        app = create_app(
            settings.model_copy(update={"tz": zone.key, "db": db_path}),
            clock=clock,
            storage=storage,
            senders={Channel.CONSOLE: sender},
            private_channel=Channel.CONSOLE,
        )
        if scenario.title:
            write(f"━━ {scenario.title} ━━")
        simulation = Simulation(app, clock, zone, transcript)
        await simulation.play(scenario.steps)
        await app.pipeline.drain()
        await simulation.flush()
        write(f"\n━━ 场景结束（{transcript.stamp()}）━━")
        return EXIT_OK
    finally:
        if app is not None:
            app.close()
        else:
            storage.close()


def simulate_command(
    settings: Settings, path: Path, write: Write, *, db: Path | str | None = None
) -> int:
    """CLI entry. Uses `db` (or a database set explicitly in settings: --db / JIAOYAN_DB);
    otherwise a fresh temporary database that is deleted afterwards."""
    try:
        scenario = load_scenario(path)
    except ScenarioError as error:
        write(str(error))
        return EXIT_BAD_SCENARIO
    chosen = db if db is not None else (settings.db if "db" in settings.model_fields_set else None)
    try:
        if chosen is not None:
            write(f"数据库：{chosen}")
            return asyncio.run(run_scenario(scenario, settings, chosen, write))
        with tempfile.TemporaryDirectory(prefix="jiaoyan-sim-") as folder:
            return asyncio.run(run_scenario(scenario, settings, Path(folder) / "sim.db", write))
    except ScenarioError as error:
        write(str(error))
        return EXIT_BAD_SCENARIO
