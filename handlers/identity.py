"""我是 and 解绑: a WeCom account claims its roster entry; its alliance's leaders can undo it.

The rule: a roster person without an account is bound at once to the first account that
claims them, and the leaders of their alliance (or of the nearest alliance above it that has
one) are told privately, with the one command that undoes it. A person already bound to a
different account cannot be claimed: the claimant is told to ask their alliance leader.
"""

from __future__ import annotations

from bot.core.messages import Direct, Effect, Reply
from bot.routing.context import Context, Hint
from bot.routing.permissions import Action
from bot.routing.router import Args, Router
from handlers.lookup import member_named, person_label
from storage.models import Member, Role

router = Router("identity")


@router.command(
    "我是",
    aliases=("绑定身份", "wo shi"),
    summary="把企业微信账号绑定到名册中的自己",
    usage="我是 姓名 学校",
    examples=("我是 王芳 一小",),
    action=Action.PUBLIC,
)
def claim(ctx: Context, args: Args) -> str | list[Effect]:
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
        raise Hint(
            f"「{person_label(member)}」已绑定了另一个企业微信账号，不能再绑定。"
            f"如果这是你本人，请联系{_alliance_name(ctx, member)}负责人处理。"
        )
    current = roster.member_by_userid(userid)
    if current is not None:
        raise Hint(f"你的账号已绑定为 {current.name}。如需更改请联系管理员。")
    roster.update_member(member.id, userid=userid)
    ctx.storage.audit.record(ctx.clock.now(), userid, "member.claim", f"member {member.id}")
    effects: list[Effect] = [
        Reply(
            text=f"绑定成功：{member.name}（{member.school_name or '无学校'}，{member.role.label}）。"
            "发送「帮助」看看能做什么。"
        )
    ]
    told = [m.userid for m in _leaders_above(ctx, member) if m.userid and m.userid != userid]
    if told:
        effects.append(
            Direct(
                userids=told,
                text=f"【身份绑定】企业微信账号 {userid} 刚刚绑定为 {person_label(member)}。"
                f"如果不是本人，请发送「解绑 {person_label(member)}」撤销。",
                dedup_key=f"claim:{member.id}:{userid}",
            )
        )
    return effects


def _alliance_name(ctx: Context, member: Member) -> str:
    alliance = ctx.storage.roster.alliance(member.alliance_id) if member.alliance_id else None
    return alliance.name if alliance is not None else "所在联盟"


def _leaders_above(ctx: Context, member: Member) -> list[Member]:
    """The leaders of the member's alliance, or of the nearest alliance above that has any."""
    if member.alliance_id is None:
        return []
    roster = ctx.storage.roster
    for alliance_id in roster.ancestors(member.alliance_id):
        leaders = [m for m in roster.members_in([alliance_id], [Role.LEADER]) if m.id != member.id]
        if leaders:
            return leaders
    return []


@router.command(
    "解绑",
    aliases=("解除绑定", "撤销绑定"),
    action=Action.UNBIND_MEMBER,
    summary="撤销某人的身份绑定（被别人冒领时用）",
    usage="解绑 姓名(学校)",
    examples=("解绑 王芳(一小)",),
)
def unbind(ctx: Context, args: Args) -> str:
    if not args.text:
        raise Hint("请写要解绑的人，例如：解绑 王芳(一小)")
    member = member_named(ctx, args.text)
    alliance = ctx.storage.roster.alliance(member.alliance_id) if member.alliance_id else None
    ctx.require(Action.UNBIND_MEMBER, alliance)
    if not member.userid:
        return f"{person_label(member)} 还没有绑定企业微信账号，无需解绑。"
    ctx.storage.roster.update_member(member.id, userid=None)
    ctx.storage.audit.record(
        ctx.clock.now(), ctx.incoming.userid, "member.unbind", f"member {member.id}"
    )
    return (
        f"已解除 {person_label(member)} 与企业微信账号 {member.userid} 的绑定。"
        "本人可重新发送「我是 姓名 学校」绑定。"
    )
