"""绑定 and 角色: connecting groups to alliances and setting who leads."""

from __future__ import annotations

import re

from bot.core.messages import Channel
from bot.core.settings import origin_of
from bot.routing.context import Context, Hint
from bot.routing.permissions import Action
from bot.routing.router import Args, Router
from handlers.lookup import alliance_named, member_named
from storage.models import ROLE_LABELS, Role

router = Router("admin")

CONFIRM_WORD = "确认"
_WEBHOOK = re.compile(r"https?://\S+/cgi-bin/webhook/send\?key=[\w-]+")
_ROLE_WORDS = {label: role for role, label in ROLE_LABELS.items()} | {
    "组长": Role.LEADER,
    "负责人": Role.LEADER,
    "admin": Role.ADMIN,
    "staff": Role.STAFF,
    "leader": Role.LEADER,
    "teacher": Role.TEACHER,
}


@router.command(
    "绑定",
    aliases=("绑定群", "bind"),
    action=Action.BIND_CHAT,
    summary="把本群绑定到一个联盟（可附群机器人 webhook 地址）",
    usage="绑定 联盟名 [webhook地址]（已绑定其他联盟的群：绑定 联盟名 确认）",
    examples=(
        "绑定 东部联盟",
        "绑定 东部联盟 https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
    ),
)
def bind(ctx: Context, args: Args) -> str:
    webhook = _WEBHOOK.search(args.raw)
    if webhook and origin_of(webhook.group(0)) != origin_of(ctx.config.wecom_api_base):
        # Notices carry members' names: they go to WeCom's own robots, nowhere else.
        raise Hint(
            f"群机器人地址必须是企业微信的地址（{ctx.config.wecom_api_base.rstrip('/')}/cgi-bin/"
            "webhook/send?key=…），没有绑定。请在群机器人设置里复制完整的 webhook 地址。"
        )
    name = _WEBHOOK.sub("", args.text).strip()
    confirmed = name.endswith(CONFIRM_WORD)
    name = name.removesuffix(CONFIRM_WORD).strip()
    if not name:
        raise Hint("请写联盟名，例如：绑定 东部联盟")
    alliance = alliance_named(ctx, name)
    incoming = ctx.incoming
    if incoming.in_group and incoming.chat_id:
        chat_id, channel = incoming.chat_id, incoming.channel.value
    elif webhook:
        # A push-only group reached by its robot webhook, bound from a private chat.
        chat_id, channel = f"webhook:{webhook.group(0)[-12:]}", Channel.WEBHOOK.value
    else:
        raise Hint("请在要绑定的群里@我发送「绑定 联盟名」，或附上该群机器人的 webhook 地址。")
    current = ctx.storage.chats.get(chat_id)
    if current is not None and current.alliance_id == alliance.id:
        if webhook is None or current.webhook_url == webhook.group(0):
            return f"本群已经绑定到「{alliance.name}」，无需重复绑定。"
    elif current is not None and not confirmed:
        # A group serves one alliance: moving it silently would send its notices elsewhere.
        bound = ctx.storage.roster.alliance(current.alliance_id)
        was = bound.name if bound is not None else "另一个联盟"
        raise Hint(
            f"本群目前绑定的是「{was}」，没有改动。如确定改绑到「{alliance.name}」，"
            f"请发送：绑定 {alliance.name} {CONFIRM_WORD}"
        )
    ctx.storage.chats.bind(
        chat_id,
        channel,
        alliance.id,
        bound_by=incoming.userid,
        at=ctx.clock.now(),
        webhook_url=webhook.group(0) if webhook else None,
    )
    ctx.storage.audit.record(ctx.clock.now(), incoming.userid, "chat.bind", f"{alliance.name}")
    extra = "，并记录了群机器人地址用于推送" if webhook else ""
    return f"已把本群绑定到「{alliance.name}」{extra}。之后的通知、活动提醒会发到这里。"


@router.command(
    "角色",
    aliases=("设置角色", "role"),
    action=Action.SET_ROLE,
    summary="设置成员角色",
    usage="角色 姓名 联盟负责人|教研员|教师|管理员",
    examples=("角色 王芳 联盟负责人", "角色 李强(二小) 教师"),
)
def set_role(ctx: Context, args: Args) -> str:
    words = args.text.split(" ")
    if len(words) != 2 or words[1] not in _ROLE_WORDS:
        raise Hint("请这样写：角色 姓名 联盟负责人（可选：管理员、教研员、联盟负责人、教师）")
    member = member_named(ctx, words[0])
    role = _ROLE_WORDS[words[1]]
    if member.role is role:
        return f"{member.name} 已经是{role.label}。"
    ctx.storage.roster.update_member(member.id, role=role)
    ctx.storage.audit.record(
        ctx.clock.now(), ctx.incoming.userid, "member.role", f"member {member.id} -> {role.value}"
    )
    return f"已把 {member.name}（{member.school_name or '无学校'}）设为{role.label}。"
