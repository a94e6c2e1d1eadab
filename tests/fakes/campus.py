"""A small alliance seeded around any `now` (real or fake clock), for the reliability suite
and the benchmarks: many teachers, one activity open for sign-in, one already started (so
reflections are accepted), and a group bound for the smart bot's callback mode."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.core.messages import Channel
from storage import Storage
from storage.models import Activity, Role

GROUP_HTTP = "wrkBenchCallback"  # the group where the smart bot runs in callback mode
BOT_NAME = "@教研助手"
REFLECTION = (
    "今天听了王老师的《秋天的雨》，她用朗读带动想象，学生参与度很高。"
    "我的课堂提问太碎，下次要设计更开放的问题，让学生多说多想。"
)


@dataclass(frozen=True)
class Campus:
    """One alliance of `teachers` teachers with an activity open for sign-in (A-signin) and
    one already started (A-reflect), placed around `now`."""

    signin: Activity
    reflect: Activity
    teachers: int
    alliance_id: int

    def userid(self, index: int) -> str:
        return f"t{index % self.teachers + 1}"


def seed_campus(
    db: Path | str,
    now: datetime,
    teachers: int,
    *,
    schools: int = 10,
    bind_callback_group: bool = True,
) -> Campus:
    storage = Storage.open(db)
    try:
        roster = storage.roster
        conn = storage.db.conn
        district = roster.ensure_alliance("尚志市小学语文", at=now)
        east = roster.ensure_alliance("东部联盟", at=now, parent_id=district.id)
        school_ids = [roster.ensure_school(f"东部{i + 1}小", east.id).id for i in range(schools)]
        conn.execute("BEGIN")
        for index in range(teachers):
            roster.add_member(
                f"老师{index + 1}",
                at=now,
                school_id=school_ids[index % schools],
                alliance_id=east.id,
                userid=f"t{index + 1}",
            )
        roster.add_member("周敏", at=now, role=Role.STAFF, alliance_id=district.id, userid="staff1")
        roster.add_member("管理员", at=now, role=Role.ADMIN, userid="admin1")
        conn.execute("COMMIT")
        opens = now - timedelta(minutes=10)
        signin = storage.activities.create(
            alliance_id=east.id,
            kind="同课异构",
            title="《秋天的雨》",
            starts_at=opens + timedelta(minutes=30),
            ends_at=opens + timedelta(hours=3),
            signin_opens_at=opens,
            created_at=now,
            school_id=school_ids[0],
        )
        started = now - timedelta(hours=1)
        reflect = storage.activities.create(
            alliance_id=east.id,
            kind="集体备课",
            title="《富饶的西沙群岛》",
            starts_at=started,
            ends_at=started + timedelta(hours=2),
            signin_opens_at=started - timedelta(minutes=30),
            created_at=now,
            school_id=school_ids[1],
        )
        if bind_callback_group:
            storage.chats.bind(
                GROUP_HTTP, Channel.AIBOT_HTTP.value, east.id, bound_by="admin1", at=now
            )
        return Campus(signin=signin, reflect=reflect, teachers=teachers, alliance_id=east.id)
    finally:
        storage.close()
