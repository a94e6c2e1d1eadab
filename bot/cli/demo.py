"""`jiaoyan-bot demo`: a fresh demo district and one scripted alliance week, printed readably.

Everything goes through the same pipeline a WeCom message takes (inbox → router → outbox →
sender); only the clock is simulated, so the week plays in seconds.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.channels.console_sender import ConsoleSender
from bot.cli.demo_data import CLUSTERS, GROUP_CHATS, DemoPeople, build_district
from bot.cli.harness import Speaker, deliver
from bot.core.clock import FakeClock
from bot.core.messages import Channel, Outgoing
from bot.core.settings import Settings
from bot.runtime.app import App, create_app
from handlers.format import WEEKDAYS
from scheduling.simulated import advance_clock
from storage import Storage
from storage.attendance import roll_of

EAST = "东部联盟"
EAST_GROUP = GROUP_CHATS[EAST]
PRIVATE_SHOWN = 3
REFLECTION_TEMPLATES = [
    "今天的同课异构让我看到了两种不同的教学设计。{a}老师注重朗读感悟，{b}老师更强调小组合作探究。我反思自己的课堂，提问还比较碎，下次要设计更有层次的大问题，给学生留足思考的时间。",
    "听了两节《秋天的雨》，最大的收获是如何借助关键词句引导学生想象画面。课后研讨中大家提到评价语言要具体，我准备在自己的班里试一试分层朗读和即时评价。",
    "这次活动让我重新思考单元整体教学。两位老师都抓住了语文要素，但在学习任务设计上有差异。我觉得应当从学生的真实问题出发，让读写结合更自然，课后我会修改自己的教学设计。",
    "课堂观察中我重点记录了学生的发言次数，发现小组合作时仍有部分学生参与不足。以后在分工上要更明确，并在巡视时关注后进生，及时给予鼓励和指导。",
]


@dataclass
class Transcript:
    """Prints the conversation: who said what where, and everything the bot sent."""

    write: Callable[[str], None]
    names: dict[str, str]
    zone: ZoneInfo
    clock: FakeClock
    quiet: bool = False
    outgoing: list[Outgoing] = field(default_factory=list)

    def stamp(self) -> str:
        now = self.clock.now().astimezone(self.zone)
        return f"{now.month}月{now.day}日 周{WEEKDAYS[now.weekday()]} {now:%H:%M}"

    def said(self, userid: str, chat: str | None, text: str) -> None:
        if self.quiet:
            return
        where = f"群 {chat}" if chat else "私聊"
        first, *rest = text.split("\n")
        self.write(f"\n{self.stamp()} [{where}] {self.names.get(userid, userid)}: {first}")
        for line in rest:
            self.write(f"    {line}")

    def section(self, title: str) -> None:
        self.write(f"\n━━ {title} ━━")


class DemoSender:
    """Console delivery that folds one broadcast to several groups into one printed message."""

    channel = Channel.CONSOLE

    def __init__(self, transcript: Transcript, console: ConsoleSender) -> None:
        self._transcript = transcript
        self._console = console
        self._pending: list[Outgoing] = []

    async def send(self, message: Outgoing) -> None:
        self._pending.append(message)

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def flush(self) -> None:
        groups: dict[tuple[str, bool, tuple[str, ...]], list[Outgoing]] = {}
        for message in self._pending:
            key = (message.text, message.target_kind.value == "chat", tuple(message.mention))
            groups.setdefault(key, []).append(message)
        self._pending.clear()
        if self._transcript.quiet:
            return
        private = [m for ms in groups.values() for m in ms if m.target_kind.value == "user"]
        if len(private) > PRIVATE_SHOWN:
            # Personal reminders differ only by name: show a few, count the rest.
            for message in private[:PRIVATE_SHOWN]:
                self._transcript.write(self._console.format(message))
            self._transcript.write(f"    ……共 {len(private)} 条私信提醒，其余略")
            groups = {k: ms for k, ms in groups.items() if ms[0].target_kind.value != "user"}
        for messages in groups.values():
            first = messages[0]
            text = self._console.format(first)
            if len(messages) > 1:
                targets = "、".join(m.target for m in messages)
                text = text.replace(f"[群 {first.target}]", f"[群 {targets}]", 1)
            self._transcript.write(text)


class DemoWeek:
    def __init__(
        self,
        app: App,
        clock: FakeClock,
        people: DemoPeople,
        transcript: Transcript,
        sender: DemoSender,
    ):
        self.app = app
        self.clock = clock
        self.people = people
        self.transcript = transcript
        self.sender = sender
        self.rng = random.Random(7)
        self._speaker = Speaker(clock, prefix="demo-")

    async def say(self, userid: str, text: str, chat: str | None = EAST_GROUP) -> None:
        self.transcript.said(userid, chat, text)
        await self._speaker.say(self.app, userid, text, chat)
        self.sender.flush()

    async def quietly(self, actions: list[tuple[str, str]], note: str) -> None:
        """Many similar messages: processed for real, summarised in one line."""
        self.transcript.quiet = True
        for userid, text in actions:
            await self.say(userid, text)
            await self.at_minutes(self.rng.randint(0, 1))
        self.transcript.quiet = False
        self.transcript.write(f"\n{self.transcript.stamp()} （{note}）")

    async def at(self, moment: datetime) -> None:
        """Move the clock, letting every reminder or digest due on the way go out on time."""
        await advance_clock(self.app.scheduler, self.clock, moment, after_each=self._pushes)

    async def at_minutes(self, minutes: int) -> None:
        await self.at(self.clock.now() + timedelta(minutes=minutes))

    async def _pushes(self) -> None:
        await deliver(self.app.worker)
        if self.sender.pending and not self.transcript.quiet:
            self.transcript.write(f"\n{self.transcript.stamp()} （定时推送）")
        self.sender.flush()


def coming_monday(today: date) -> date:
    """The demo's default week: today when it is a Monday, else the next Monday."""
    return today + timedelta(days=-today.weekday() % 7)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_start(monday: date, zone: ZoneInfo) -> datetime:
    """08:00 on the played week's Monday, where the story begins."""
    return datetime.combine(monday, time(8, 0), tzinfo=zone)


async def run_demo(
    settings: Settings, write: Callable[[str], None], monday: date, today: date
) -> int:
    """Play the week that begins on `monday`; passing the date keeps the story reproducible.
    `today` (the real date) only decides what the closing lines suggest trying next."""
    db_path = settings.db
    if not isinstance(db_path, Path):
        write("演示只用 SQLite 文件，不会写入 PostgreSQL：请去掉 --db 或换成文件路径。")
        return 2
    for suffix in ("", "-wal", "-shm"):
        db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
    zone = settings.zone
    clock = FakeClock(week_start(monday, zone))
    storage = Storage.open(db_path)
    people = build_district(storage, clock.now())
    transcript = Transcript(write=write, names=people.names, zone=zone, clock=clock)
    console = ConsoleSender(write, lambda userid: people.names.get(userid, userid))
    sender = DemoSender(transcript, console)
    app = create_app(
        settings,
        clock=clock,
        storage=storage,
        senders={Channel.CONSOLE: sender},
        private_channel=Channel.CONSOLE,
    )
    try:
        await play_week(DemoWeek(app, clock, people, transcript, sender), zone)
        members = storage.roster.count_members()
        teacher = _owes_reflection(storage, people)
    finally:
        app.close()
    leader = people.leaders[EAST]
    write(
        "\n━━ 演示结束 ━━\n"
        f"演示数据库：{db_path.resolve()}（{len(people.teachers)} 所学校，{members} 位成员）\n"
        "接下来可以在终端里亲自试试：\n"
        f"  jiaoyan-bot console --db {db_path} --as {teacher} --chat {EAST_GROUP}"
        f"    （{people.names[teacher]}，教师，已签到但还没交反思）\n"
        f"  jiaoyan-bot console --db {db_path} --as {leader}"
        f"    （{people.names[leader]}，东部联盟负责人，私聊）\n"
        f"{console_suggestions(monday, today)}输入 :quit 退出。"
    )
    return 0


def console_suggestions(monday: date, today: date) -> str:
    """The console runs on the real clock: the played week's records can be looked back on
    only once it is over, so a week still ahead gets honest suggestions instead."""
    if monday + timedelta(days=7) <= today:
        return (
            f"进入后发送「帮助」「我的」「活动」「反思 A1 正文」「汇总 {_week_period(monday)}」等；"
        )
    last_week = monday_of(today) - timedelta(days=7)
    return (
        "进入后发送「帮助」「我的」「活动」「请假 A1 原因」等。控制台按真实时间运行，演示的这一周还没过完，"
        "签到、反思和汇总要到时才能试；想现在就回看一整周，可以演示已经过去的一周："
        f"jiaoyan-bot demo --start {last_week.isoformat()}\n"
    )


def _week_period(monday: date) -> str:
    """The played week as a 汇总 period that means the same whatever the real date is."""
    sunday = monday + timedelta(days=6)
    return f"{monday.year}年{monday.month}月{monday.day}日~{sunday.month}月{sunday.day}日"


def _owes_reflection(storage: Storage, people: DemoPeople) -> str:
    """A teacher the reader can try 反思 as: signed in to A1 but no reflection yet."""
    activity = storage.activities.get(1)
    assert activity is not None
    roll = roll_of(storage, activity)
    names = {m.userid for m in roll.missing_reflection() if m.id in roll.signins and m.userid}
    leader = people.leaders[EAST]
    return sorted(uid for uid in names if uid != leader)[0]


async def play_week(week: DemoWeek, zone: ZoneInfo) -> None:
    people = week.people
    east_schools = CLUSTERS[EAST]
    east_teachers = [uid for school in east_schools for uid in people.teachers[school]]
    leader = people.leaders[EAST]
    monday = week.clock.now().astimezone(zone)
    week.transcript.section("周一：教研员发通知，联盟负责人发起同课异构")
    await week.say(
        people.staff,
        "通知 全部 需回执 本学期校本研修材料请于本周五前上传到区教研平台，各校业务领导负责督促。",
        chat=None,
    )
    await week.at_minutes(25)
    await week.say(
        leader,
        "发起活动 周四 14:30-16:30 同课异构《秋天的雨》 地点:尚志市实验小学 学时:2 反思截止:周六",
    )
    await week.at_minutes(10)
    first_three = east_teachers[:3]
    for userid in first_three:
        await week.say(userid, "收到")
        await week.at_minutes(2)
    await week.quietly(
        [(uid, "收到 N1") for uid in east_teachers[3:] if week.rng.random() < 0.8],
        "另有约八成东部老师回复了「收到」，略",
    )
    await week.at(monday.replace(hour=16))
    await week.say(people.staff, "回执 N1", chat=None)

    week.transcript.section("周三：有老师请假")
    await week.at(monday + timedelta(days=2, hours=2))
    on_leave = east_teachers[5:8]
    await week.say(on_leave[0], "请假 A1 参加市里的骨干教师培训")
    for userid in on_leave[1:]:
        await week.say(userid, "请假 A1 外出学习")

    week.transcript.section("周四：活动签到（有人迟到，有人缺席）")
    thursday = monday + timedelta(days=3)
    await week.at(thursday.replace(hour=13, minute=50))
    await week.say(east_teachers[0], "签到")
    await week.at(thursday.replace(hour=14, minute=0))
    await week.say(east_teachers[0], "签到")
    await week.say(east_teachers[1], "签到 A1")
    await week.say(east_teachers[1], "签到 A1")
    present = [uid for uid in east_teachers[2:] if uid not in on_leave]
    missing = present[-6:]
    punctual, late = present[:-12], present[-12:-6]
    await week.quietly(
        [(uid, "签到") for uid in punctual], f"另有 {len(punctual)} 位老师准时签到，略"
    )
    await week.at(thursday.replace(hour=14, minute=42))
    await week.say(late[0], "qd A1")
    await week.quietly(
        [(uid, "签到 A1") for uid in late[1:]], f"另有 {len(late) - 1} 位老师迟到签到，略"
    )
    await week.at(thursday.replace(hour=14, minute=50))
    await week.say(leader, f"代签 A1 {people.names[missing[0]]}")

    week.transcript.section("周四傍晚：提交教学反思（有人太短后补充）")
    await week.at(thursday.replace(hour=17, minute=10))
    await week.say(east_teachers[0], "反思 A1 很受启发，学到了很多。")
    await week.say(
        east_teachers[0],
        "反思 A1\n"
        + REFLECTION_TEMPLATES[0].format(a="王", b="李")
        + "\n（补充）评课时大家的建议很中肯。",
    )
    await week.say(east_teachers[1], "反思 " + REFLECTION_TEMPLATES[1])
    writers = [uid for uid in punctual[1:] + late if week.rng.random() < 0.75]
    await week.quietly(
        [
            (uid, "反思 A1 " + week.rng.choice(REFLECTION_TEMPLATES).format(a="赵", b="孙"))
            for uid in writers
        ],
        f"另有 {len(writers)} 位老师提交了反思，略",
    )

    week.transcript.section("周五：负责人查看未交、催交并汇总")
    friday = monday + timedelta(days=4)
    await week.at(friday.replace(hour=9))
    await week.say(leader, "未交 A1")
    await week.say(leader, "催交 A1")
    await week.at(friday.replace(hour=10))
    await week.say(east_teachers[0], "我的", chat=None)
    await week.at(friday.replace(hour=16, minute=30))
    await week.say(leader, "汇总 本周")

    week.transcript.section("周五傍晚到周六早晨：自动周报，反思截止提醒只发给还没交的人")
    await week.at(friday + timedelta(days=1, hours=1))
