"""A seeded district with known answers, shared by the report tests.

Two weeks in 东部联盟 (Shanghai time), plus a west alliance whose data must never leak:

This week (Mon 11-23 … Sun 11-29), "now" = Fri 11-27 18:00:
  A1 同课异构《秋天的雨》 Tue 11-24, host 东部一小, 2 学时
     刘洋 on time, 王芳 on time, 李强 late; 张敏 on leave; 赵磊 absent
     reflections: 王芳, 李强
  A2 集体备课「单元整体设计」 Thu 11-26, host 东部二小, 1.5 学时
     王芳 on time, 张敏 补签 (makeup), 赵磊 on time (代签 by 刘洋); 刘洋 on leave; 李强 absent
     reflections: 王芳 (longest of all), 张敏 (second longest), 赵磊
  A3 (west) 西部专属研讨 Wed 11-25: 孙丽 signs in and reflects
  A4 (east) next Tue 12-01 14:00 — coming; A6 (east) 12-10 — too far to be "coming"
Previous week:
  A5 听评课 Wed 11-18, 2 学时: all five of 东部 sign in on time; only 王芳 reflects

Known answers for this week (east): 东部一小 signed 4/5 (80%), reflected 3/5 (60%), late 1,
leave 1; 东部二小 signed 2/3 (67%), reflected 2/3 (67%), late 1, leave 1; total 6/8 = 75%,
5/8 = 63% (previous week 5/5 = 100%, 1/5 = 20%).
学时 over both weeks: 王芳 5.5, 李强 2, 张敏 1.5, 赵磊 1.5, 刘洋 0 — 10.5 in all.

Resources: R1 (east) 《秋天的雨》教学设计 by 王芳 Tue 11-24, for A1, recommended Wed 11-25;
R2 (east) a 课件 file by 张敏 Thu 11-26; R3 (district) a 书目 shared 11-10, recommended
Thu 11-26; R4 (west) 西部专属资源包; R5 (east) 《搭船的鸟》课堂实录 by 李强 last week.
This week in the east: new R1, R2 (2); recommended R1, R3 (2).
Feedback (张敏 is 东部二小's contact; 东部二小 has no leader):
  F1 (east, due Mon 11-30 17:00): 东部一小 answered (刘洋, revised once); 东部二小 missing.
  F2 (district, due Thu 11-26 17:00, still open): 东部二小 answered late (张敏, Fri 11-27),
     西城小学 answered (陈静); 东部一小 missing.
  F3 (west): never seen from the east.  F4 (east, made 11-16, closed): 东部一小 answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.core.messages import Channel
from storage import Storage
from storage.models import Activity, Alliance, Member, NoticeStatus, Role, SigninStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 27, 18, 0, tzinfo=SHANGHAI)

R1 = (
    "《秋天的雨》这节课我把朗读指导放在第一位，让学生在朗读中体会秋天的色彩。"
    "课堂上小组合作读得很投入，但学习任务的层次还不够清楚，教学环节之间的过渡有些生硬。"
)
R2 = (
    "听了王老师的课，我觉得朗读训练扎实有效，学生读出了秋雨的温柔。"
    "我们的课堂也要把学习任务设计得更具体。"
)
R3 = (
    "本次集体备课围绕单元整体设计展开。大家先梳理了本单元的人文主题和语文要素，"
    "再把三篇课文串成一个大的学习任务：为秋天写一份观察日记。我负责第二课时，"
    "打算用思维导图帮助学生整理观察顺序，用小组合作完成日记互评。老师们提出，"
    "评价量表要提前发给学生，让他们知道好日记的标准。我认为这样的单元整体设计能让学生的学习更有方向。"
)
R4 = (
    "我最大的收获是学会了从单元整体出发备课。以前我只盯着一篇课文，现在知道要先想清楚学习任务，"
    "再安排每节课的活动。小组合作要有明确分工，否则学生容易只聊天不学习。下周我会在班里试着用评价量表。"
)
R5 = "单元整体设计让我明白了课与课之间的联系，朗读和写话可以一起安排。"
R6 = "上周的听评课让我反思自己的提问方式，问题太碎，学生没有思考的空间。"
WEST_SECRET = "西部秘密关键词：这段话只属于中西部联盟，东部的任何页面都不能出现。"


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


@dataclass
class District:
    storage: Storage
    db: Path | str  # what JIAOYAN_DB holds: the SQLite file or the PostgreSQL URL
    data_dir: Path  # where the bot keeps files beside the data (exports)
    district: Alliance
    east: Alliance
    west: Alliance
    people: dict[str, Member]


def seed_district(storage: Storage) -> tuple[Alliance, Alliance, Alliance, dict[str, Member]]:
    t0 = at(11, 1)
    roster = storage.roster
    district = roster.ensure_alliance("尚志市小学语文", at=t0)
    east = roster.ensure_alliance("东部联盟", at=t0, parent_id=district.id)
    west = roster.ensure_alliance("中西部联盟", at=t0, parent_id=district.id)
    yixiao = roster.ensure_school("东部一小", east.id)
    erxiao = roster.ensure_school("东部二小", east.id)
    xicheng = roster.ensure_school("西城小学", west.id)
    people: dict[str, Member] = {}

    def add(name: str, role: Role, alliance: Alliance, school: int | None, uid: str | None) -> None:
        people[name] = roster.add_member(
            name, at=t0, role=role, alliance_id=alliance.id, school_id=school, userid=uid
        )

    add("周敏", Role.STAFF, district, None, "staff1")
    add("刘洋", Role.LEADER, east, yixiao.id, "lead1")
    add("王芳", Role.TEACHER, east, yixiao.id, "t1")
    add("李强", Role.TEACHER, east, yixiao.id, "t2")
    add("张敏", Role.TEACHER, east, erxiao.id, "t3")
    add("赵磊", Role.TEACHER, east, erxiao.id, None)
    add("陈静", Role.LEADER, west, xicheng.id, "lead2")
    add("孙丽", Role.TEACHER, west, xicheng.id, "t9")
    storage.chats.bind("group-east", Channel.CONSOLE.value, east.id, bound_by="admin", at=t0)
    storage.chats.bind("group-west", Channel.CONSOLE.value, west.id, bound_by="admin", at=t0)

    activities, subs = storage.activities, storage.submissions

    def activity(alliance: Alliance, kind: str, title: str, start: datetime, **kw: Any) -> Activity:
        return activities.create(
            alliance_id=alliance.id,
            kind=kind,
            title=title,
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            signin_opens_at=start - timedelta(minutes=30),
            created_at=t0,
            **kw,
        )

    a1 = activity(east, "同课异构", "秋天的雨", at(11, 24, 14, 30), school_id=yixiao.id, hours=2.0)
    a2 = activity(east, "集体备课", "单元整体设计", at(11, 26, 9), school_id=erxiao.id, hours=1.5)
    a3 = activity(west, "专题讲座", "西部专属研讨", at(11, 25, 14), school_id=xicheng.id)
    activity(east, "读书分享", "《给教师的建议》", at(12, 1, 14), place="东部一小会议室")
    a5 = activity(east, "听评课", "《搭船的鸟》", at(11, 18, 14))
    activity(east, "集体备课", "第八单元", at(12, 10, 14))

    p = people

    def sign(
        a: int, name: str, status: SigninStatus, when: datetime, by: str | None = None
    ) -> None:
        subs.sign_in(a, p[name].id, at=when, status=status, by_member_id=p[by].id if by else None)

    sign(a1.id, "刘洋", SigninStatus.ON_TIME, at(11, 24, 14, 20))
    sign(a1.id, "王芳", SigninStatus.ON_TIME, at(11, 24, 14, 10))
    sign(a1.id, "李强", SigninStatus.LATE, at(11, 24, 14, 45))
    subs.request_leave(a1.id, p["张敏"].id, "外出培训", at=at(11, 23, 20))
    subs.submit_reflection(a1.id, p["王芳"].id, R1, at=at(11, 24, 20))
    subs.submit_reflection(a1.id, p["李强"].id, R2, at=at(11, 25, 8))

    sign(a2.id, "王芳", SigninStatus.ON_TIME, at(11, 26, 8, 50))
    sign(a2.id, "张敏", SigninStatus.MAKEUP, at(11, 26, 15))
    sign(a2.id, "赵磊", SigninStatus.ON_TIME, at(11, 26, 8, 55), by="刘洋")
    subs.request_leave(a2.id, p["刘洋"].id, "区里开会", at=at(11, 25, 18))
    subs.submit_reflection(a2.id, p["王芳"].id, R3, at=at(11, 26, 20))
    subs.submit_reflection(a2.id, p["张敏"].id, R4, at=at(11, 26, 21))
    subs.submit_reflection(a2.id, p["赵磊"].id, R5, at=at(11, 27, 7))

    sign(a3.id, "孙丽", SigninStatus.ON_TIME, at(11, 25, 13, 50))
    subs.submit_reflection(a3.id, p["孙丽"].id, WEST_SECRET, at=at(11, 25, 19))

    for name in ("刘洋", "王芳", "李强", "张敏", "赵磊"):
        sign(a5.id, name, SigninStatus.ON_TIME, at(11, 18, 13, 55))
    subs.submit_reflection(a5.id, p["王芳"].id, R6, at=at(11, 18, 20))

    notices = storage.notices

    def notice(alliance: Alliance | None, body: str, ack: bool) -> int:
        return notices.create(
            alliance_id=alliance.id if alliance else None,
            body=body,
            needs_ack=ack,
            author_id=p["周敏"].id,
            created_at=at(11, 23, 10),
            publish_at=at(11, 23, 10),
            status=NoticeStatus.PUBLISHED,
        ).id

    n1 = notice(east, "请各校周五前上报参加区赛课的教师名单", True)
    notice(west, "西部联盟专用通知", True)
    notice(None, "全区教研例会改到周四", False)
    n4 = notice(None, "请确认已阅读《学期教研工作要点》", True)
    notices.ack(n1, p["王芳"].id, at(11, 23, 11))
    notices.ack(n1, p["李强"].id, at(11, 23, 12))
    notices.ack(n4, p["孙丽"].id, at(11, 23, 12))

    resources = storage.resources
    r1, _ = resources.share(
        alliance_id=east.id,
        title="《秋天的雨》教学设计",
        kind="教学设计",
        at=at(11, 24, 20),
        url="https://pan.example.com/s/qiutian",
        tags=["三年级", "朗读"],
        activity_id=a1.id,
        shared_by=p["王芳"].id,
    )
    resources.recommend(r1.id, by=p["刘洋"].id, at=at(11, 25, 9), note=None)
    slides = resources.add_file(
        sha256="ab" * 32,
        name="习作单元整体教学.pptx",
        size=2_400_000,
        path="ab/" + "ab" * 32 + ".pptx",
        executable=False,
        uploaded_by=p["张敏"].id,
        at=at(11, 26, 21),
    )
    resources.share(
        alliance_id=east.id,
        title="习作单元整体教学 PPT",
        kind="课件",
        at=at(11, 26, 21),
        file_id=slides.id,
        shared_by=p["张敏"].id,
    )
    r3, _ = resources.share(
        alliance_id=district.id,
        title="《给教师的建议》共读书目",
        kind="书目",
        at=at(11, 10),
        url="https://book.example.com/jianyi",
        shared_by=p["周敏"].id,
    )
    resources.recommend(r3.id, by=p["周敏"].id, at=at(11, 26, 10), note="寒假共读")
    resources.share(
        alliance_id=west.id,
        title="西部专属资源包",
        kind="资料",
        at=at(11, 25, 10),
        url="https://west.example.com/x",
        shared_by=p["孙丽"].id,
    )
    resources.share(
        alliance_id=east.id,
        title="《搭船的鸟》课堂实录",
        kind="课例视频",
        at=at(11, 18, 19),
        url="https://v.qq.com/x/dachuan",
        shared_by=p["李强"].id,
    )

    feedback = storage.feedback
    feedback.set_contact(erxiao.id, p["张敏"].id, by="staff1", at=t0)

    def ask(alliance: Alliance, question: str, made: datetime, due: datetime) -> int:
        return feedback.create(
            alliance_id=alliance.id, question=question, due_at=due, created_by=p["周敏"].id, at=made
        ).id

    f1 = ask(east, "各校本学期校本教研主题", at(11, 23, 10), at(11, 30, 17))
    f2 = ask(district, "课例研讨中遇到的问题", at(11, 23, 11), at(11, 26, 17))
    f3 = ask(west, "西部专属征集", at(11, 23, 12), at(11, 30, 17))
    f4 = ask(east, "上学期教研工作总结", at(11, 16), at(11, 20, 17))  # entered afterwards
    feedback.answer(f4, yixiao.id, member_id=p["刘洋"].id, body="已完成总结", at=at(11, 19))
    feedback.close(f4)
    feedback.answer(f1, yixiao.id, member_id=p["刘洋"].id, body="整本书阅读", at=at(11, 24, 10))
    feedback.answer(
        f1, yixiao.id, member_id=p["刘洋"].id, body="整本书阅读的课堂推进", at=at(11, 25, 16)
    )
    feedback.answer(f2, erxiao.id, member_id=p["张敏"].id, body="学生不敢说", at=at(11, 27, 9))
    feedback.answer(f2, xicheng.id, member_id=p["陈静"].id, body="西部的答复", at=at(11, 24, 9))
    feedback.answer(f3, xicheng.id, member_id=p["陈静"].id, body="西部专属答复", at=at(11, 24, 9))
    return district, east, west, people


# For a test that needs the district in a SQLite file (the reason goes beside each use).
SQLITE_ONLY = pytest.mark.parametrize("emptied_db_target", ["sqlite"], indirect=True)


@pytest.fixture
def district(emptied_db_target: Path | str) -> Iterator[District]:
    """The seeded district on SQLite and on PostgreSQL (tests/conftest.py): seeding takes
    30 ms, a new PostgreSQL database 0.4 s, hence the emptied one."""
    target = emptied_db_target
    storage = Storage.open(target)
    d, east, west, people = seed_district(storage)
    # What an operator finds: files beside the SQLite file, or in ./data for PostgreSQL.
    data_dir = target.parent if isinstance(target, Path) else Path("data").resolve()
    yield District(storage, target, data_dir, d, east, west, people)
    storage.close()
