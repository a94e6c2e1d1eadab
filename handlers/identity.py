"""我是: a WeCom account claims its roster entry."""

from __future__ import annotations

from bot.context import Context, Hint
from bot.permissions import Action
from bot.router import Args, Router

router = Router("identity")


@router.command(
    "我是",
    aliases=("绑定身份", "wo shi"),
    summary="把企业微信账号绑定到名册中的自己",
    usage="我是 姓名 学校",
    examples=("我是 王芳 一小",),
    action=Action.PUBLIC,
)
def claim(ctx: Context, args: Args) -> str:
    words = args.text.split(" ")
    if not args.text or len(words) > 2:
        raise Hint("请这样写：我是 姓名 学校，例如：我是 王芳 一小")
    name = words[0]
    roster = ctx.storage.roster
    school_id = None
    if len(words) == 2:
        school = roster.find_school(words[1])
        if school is None:
            raise Hint(f"没有找到学校「{words[1]}」，请写学校全称或简称中不重复的部分。")
        school_id = school.id
    candidates = roster.members_named(name, school_id)
    if not candidates:
        raise Hint(f"名册里没有找到「{args.text}」。请核对姓名和学校，或联系管理员导入名册。")
    if len(candidates) > 1:
        schools = "、".join(c.school_name or "未填学校" for c in candidates[:5])
        raise Hint(f"名册里有多位「{name}」（{schools}），请加上学校：我是 {name} 学校名")
    member = candidates[0]
    userid = ctx.incoming.userid
    if member.userid == userid:
        return f"你已经绑定为 {member.name}（{member.school_name or '无学校'}），无需重复绑定。"
    if member.userid:
        raise Hint(f"「{member.name}」已绑定了另一个企业微信账号。如有误请联系管理员。")
    current = roster.member_by_userid(userid)
    if current is not None:
        raise Hint(f"你的账号已绑定为 {current.name}。如需更改请联系管理员。")
    roster.update_member(member.id, userid=userid)
    ctx.storage.audit.record(ctx.clock.now(), userid, "member.claim", f"member {member.id}")
    return (
        f"绑定成功：{member.name}（{member.school_name or '无学校'}，{member.role.label}）。"
        "发送「帮助」看看能做什么。"
    )
