"""A plausible district for the demo: three 协作体, 29 schools, a few hundred teachers."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from bot.core.messages import Channel
from storage import Storage
from storage.models import Role

DISTRICT = "尚志市小学语文"
CLUSTERS: dict[str, list[str]] = {
    "东部联盟": [
        "尚志市实验小学",
        "一曼小学",
        "朝阳小学",
        "东风小学",
        "苇河镇中心小学",
        "亚布力镇中心小学",
        "帽儿山镇中心小学",
        "鱼池乡中心小学",
        "亮河镇中心小学",
        "石头河子小学",
    ],
    "中西部联盟(一组)": [
        "尚志市第二小学",
        "尚志市第三小学",
        "新兴小学",
        "长寿乡中心小学",
        "黑龙宫镇中心小学",
        "马延乡中心小学",
        "庆阳镇中心小学",
        "老街基乡中心小学",
        "珍珠山乡中心小学",
        "乌吉密乡中心小学",
    ],
    "中西部联盟(二组)": [
        "尚志市第四小学",
        "尚志市第五小学",
        "元宝镇中心小学",
        "河东乡中心小学",
        "长寿乡朝鲜族小学",
        "一面坡镇中心小学",
        "苇河林业局小学",
        "亚布力林业局小学",
        "尚志市朝鲜族小学",
    ],
}
GROUP_CHATS = {
    "东部联盟": "东部联盟群",
    "中西部联盟(一组)": "中西部一组群",
    "中西部联盟(二组)": "中西部二组群",
}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = [
    "芳",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
    "桂英",
    "婷",
    "雪",
    "慧",
    "颖",
    "琳",
    "晶",
    "红梅",
    "海燕",
    "春燕",
    "玉兰",
    "淑华",
    "丹",
    "宁",
    "欣",
    "佳",
    "悦",
    "晨",
    "博",
    "浩",
    "宇",
    "思远",
    "子涵",
    "雨桐",
    "晓东",
    "立新",
    "建华",
    "国庆",
    "文静",
    "雅琴",
    "玉梅",
]
TEACHERS_PER_SCHOOL = 8


@dataclass(frozen=True)
class DemoPeople:
    staff: str
    admin: str
    leaders: dict[str, str]  # cluster -> userid
    teachers: dict[str, list[str]]  # school -> userids
    names: dict[str, str]  # userid -> display name


def _names(rng: random.Random, count: int) -> list[str]:
    seen: set[str] = set()
    names: list[str] = []
    while len(names) < count:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def build_district(storage: Storage, at: datetime, *, seed: int = 2026) -> DemoPeople:
    """Create alliances, schools, members and bound groups; deterministic for a seed."""
    rng = random.Random(seed)
    roster = storage.roster
    district = roster.ensure_alliance(DISTRICT, at=at)
    school_count = sum(len(schools) for schools in CLUSTERS.values())
    pool = iter(_names(rng, school_count * TEACHERS_PER_SCHOOL + 10))
    names: dict[str, str] = {}

    def add(name: str, userid: str, role: Role, school_id: int | None, alliance_id: int) -> str:
        roster.add_member(
            name, at=at, role=role, school_id=school_id, alliance_id=alliance_id, userid=userid
        )
        names[userid] = name
        return userid

    staff = add("周敏", "zhoumin", Role.STAFF, None, district.id)
    admin = add("管理员", "admin", Role.ADMIN, None, district.id)
    leaders: dict[str, str] = {}
    teachers: dict[str, list[str]] = {}
    for c_index, (cluster, schools) in enumerate(CLUSTERS.items(), start=1):
        alliance = roster.ensure_alliance(cluster, at=at, parent_id=district.id)
        storage.chats.bind(
            GROUP_CHATS[cluster], Channel.CONSOLE.value, alliance.id, bound_by=admin, at=at
        )
        for s_index, school_name in enumerate(schools, start=1):
            school = roster.ensure_school(school_name, alliance.id)
            ids = []
            for t_index in range(1, TEACHERS_PER_SCHOOL + 1):
                userid = f"c{c_index}s{s_index:02d}t{t_index}"
                role = Role.LEADER if s_index == 1 and t_index == 1 else Role.TEACHER
                ids.append(add(next(pool), userid, role, school.id, alliance.id))
            if s_index == 1:
                leaders[cluster] = ids[0]
            teachers[school_name] = ids if s_index != 1 else ids[1:]
    return DemoPeople(staff=staff, admin=admin, leaders=leaders, teachers=teachers, names=names)
