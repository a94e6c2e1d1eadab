"""帮助: role-aware help, and details with examples for one command."""

from __future__ import annotations

from bot.routing.context import Context
from bot.routing.permissions import Action
from bot.routing.router import Args, Router


def help_router(root: Router) -> Router:
    """Help needs to see every command, so it is built around the root router."""
    router = Router("help")

    @router.command(
        "帮助",
        aliases=("help", "菜单", "?", "？", "bz"),
        summary="查看可用命令",
        usage="帮助 [命令]",
        examples=("帮助", "帮助 签到"),
        action=Action.PUBLIC,
    )
    def show_help(ctx: Context, args: Args) -> str:
        if args.text:
            command = root.find(args.text.split(" ")[0])
            if command is None:
                return f"没有「{args.text}」这个命令。发送「帮助」查看全部命令。"
            lines = [f"【{command.name}】{command.summary}", f"用法：{command.usage}"]
            if command.aliases:
                lines.append("也可以写：" + "、".join(a for a in command.aliases if a not in "?？"))
            lines.extend(f"例：{example}" for example in command.examples)
            return "\n".join(lines)
        usable = [c for c in root.commands if ctx.may(c.action)]
        if ctx.role is None:
            usable = [c for c in root.commands if c.action is Action.PUBLIC]
        who = ctx.member.name if ctx.member else "你好"
        header = f"{who}，我是教研助手。可以这样跟我说："
        # Names only: the overview must fit one WeCom message (2,048 bytes) on a phone as
        # commands grow; each command's usage and examples are one 「帮助 命令」 away.
        lines = [header, *(f"· {c.name} — {c.summary}" for c in usable)]
        if ctx.role is None:
            lines.append("先发送「我是 姓名 学校」绑定身份，之后就能签到、交反思了。")
        lines.append("发送「帮助 命令」看写法和例子，如：帮助 反思")
        return "\n".join(lines)

    @router.command(
        "签到码",
        aliases=("签到密码",),
        summary="签到码从哪里来、怎么用",
        usage="签到码",
        examples=("签到码是多少",),
        action=Action.PUBLIC,
    )
    def explain_signin_code(ctx: Context, args: Args) -> str:
        # "签到码是多少" is a question, not a sign-in with the code "码是多少".
        return (
            "签到码由活动负责人在现场公布（投屏或口头通知），我这里查不到。"
            "拿到后发送「签到 A编号 签到码」，例如：签到 A7 8527。"
            "不需要签到码的活动直接发送「签到」即可；不知道编号可发送「活动」查看。"
        )

    return router
