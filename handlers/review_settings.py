"""设置听课任务 / 设置量表 / 量表 / 删除量表: how an alliance runs its 听评课.

听课任务 is how many lessons each teacher observes per term (我的 shows progress; the
scheduler reminds those behind in the last weeks of term). 量表 is a rating form per
activity type: a 评课 of such an activity asks for 1–5 scores on its items.
"""

from __future__ import annotations

import re

from bot.routing.context import Context, Hint
from bot.routing.permissions import Action
from bot.routing.router import Args, Router

router = Router("review_settings")

QUOTA_EXAMPLE = "设置听课任务 每学期 2"
_OFF_WORDS = frozenset({"关", "关闭", "取消", "无", "0"})
_QUOTA = re.compile(r"^(?:每学期|每人每学期|每人)?\s*(\d+)\s*(?:节|次)?$")
MAX_PER_TERM = 100


@router.command(
    "设置听课任务",
    aliases=("听课任务",),
    action=Action.SET_OBSERVATION_QUOTA,
    summary="设置本联盟每位老师每学期的听课节数（不写数字则查看，写「关」取消）",
    usage="设置听课任务 [每学期 节数|关]",
    examples=(QUOTA_EXAMPLE, "设置听课任务 关", "听课任务"),
)
def set_quota(ctx: Context, args: Args) -> str:
    alliance = ctx.require_alliance()
    ctx.require(Action.SET_OBSERVATION_QUOTA, alliance)
    reviews = ctx.storage.reviews
    chain = ctx.storage.roster.ancestors(alliance.id)
    text = args.text.strip()
    if not text:
        quota = reviews.nearest_quota(chain)
        if quota is None:
            return f"「{alliance.name}」没有设置听课任务。设置：{QUOTA_EXAMPLE}"
        owner = ctx.storage.roster.alliance(quota.alliance_id)
        where = (
            ""
            if quota.alliance_id == alliance.id
            else f"（沿用{owner.name if owner else ''}的设置）"
        )
        return f"「{alliance.name}」听课任务：每位老师每学期 {quota.per_term} 节{where}。"
    if text in _OFF_WORDS:
        reviews.set_quota(alliance.id, None, by=_by(ctx), at=ctx.clock.now())
        return f"已取消「{alliance.name}」的听课任务。"
    matched = _QUOTA.match(text)
    if matched is None or not 1 <= int(matched.group(1)) <= MAX_PER_TERM:
        raise Hint(f"请写每学期的听课节数（1–{MAX_PER_TERM}），例如：{QUOTA_EXAMPLE}")
    per_term = int(matched.group(1))
    reviews.set_quota(alliance.id, per_term, by=_by(ctx), at=ctx.clock.now())
    ctx.storage.audit.record(
        ctx.clock.now(), ctx.incoming.userid, "reviews.quota", f"{alliance.name} {per_term}"
    )
    return (
        f"已设置「{alliance.name}」听课任务：每位老师每学期 {per_term} 节。"
        "老师发「我的」可看进度；学期最后三周，我会私下提醒还没完成的老师。"
    )


def _by(ctx: Context) -> int | None:
    return ctx.member.id if ctx.member else None
