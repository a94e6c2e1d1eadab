"""The small alliance most handler and scheduling tests talk to, with known people.

尚志市小学语文 → 东部联盟 (东部一小: leader 刘洋, 王芳 t1, 李强 t2; 东部二小: 张敏 t3, 赵磊 with
no WeCom account) and 中西部一组 (西城小学: leader 陈静, 孙丽 t9); staff 周敏, admin 管理员.
Both alliances have a bound console group.
"""

from __future__ import annotations

from datetime import datetime

from bot.core.messages import Channel
from storage import Storage
from storage.models import Role

GROUP = "group-east"
WEST_GROUP = "group-west"


def seed_small_alliance(storage: Storage, at: datetime) -> None:
    roster = storage.roster
    district = roster.ensure_alliance("尚志市小学语文", at=at)
    east = roster.ensure_alliance("东部联盟", at=at, parent_id=district.id)
    west = roster.ensure_alliance("中西部一组", at=at, parent_id=district.id)
    yixiao = roster.ensure_school("东部一小", east.id)
    erxiao = roster.ensure_school("东部二小", east.id)
    xixiao = roster.ensure_school("西城小学", west.id)
    roster.add_member("周敏", at=at, role=Role.STAFF, alliance_id=district.id, userid="staff1")
    roster.add_member(
        "刘洋", at=at, role=Role.LEADER, school_id=yixiao.id, alliance_id=east.id, userid="lead1"
    )
    roster.add_member(
        "陈静", at=at, role=Role.LEADER, school_id=xixiao.id, alliance_id=west.id, userid="lead2"
    )
    for name, school, uid in [
        ("王芳", yixiao, "t1"),
        ("李强", yixiao, "t2"),
        ("张敏", erxiao, "t3"),
        ("赵磊", erxiao, None),
    ]:
        roster.add_member(name, at=at, school_id=school.id, alliance_id=east.id, userid=uid)
    roster.add_member("孙丽", at=at, school_id=xixiao.id, alliance_id=west.id, userid="t9")
    roster.add_member("管理员", at=at, role=Role.ADMIN, userid="admin1")
    storage.chats.bind(GROUP, Channel.CONSOLE.value, east.id, bound_by="admin1", at=at)
    storage.chats.bind(WEST_GROUP, Channel.CONSOLE.value, west.id, bound_by="admin1", at=at)
