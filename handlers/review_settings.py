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
from handlers.activities import DEFAULT_KIND, KINDS
from storage.models import RatingForm

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


# 量表 -----------------------------------------------------------------------------------------

FORM_EXAMPLE = "设置量表 同课异构 教学目标 教学过程 学生参与 教学效果"
MIN_ITEMS, MAX_ITEMS, MAX_ITEM_CHARS = 2, 10, 12


@router.command(
    "设置量表",
    aliases=("设置评课量表",),
    action=Action.SET_RATING_FORM,
    summary="为一种活动类型设置评课量表（每项 1–5 分）",
    usage="设置量表 活动类型 项目1 项目2 …",
    examples=(FORM_EXAMPLE,),
)
def set_form(ctx: Context, args: Args) -> str:
    alliance = ctx.require_alliance()
    ctx.require(Action.SET_RATING_FORM, alliance)
    words = [w for w in re.split(r"[\s,，、;；]+", args.text) if w]
    if len(words) < 1 + MIN_ITEMS:
        raise Hint(f"请写活动类型和至少 {MIN_ITEMS} 个评分项目，例如：{FORM_EXAMPLE}")
    kind, items = words[0], words[1:]
    if len(items) > MAX_ITEMS:
        raise Hint(f"评分项目最多 {MAX_ITEMS} 个，你写了 {len(items)} 个。")
    if len(set(items)) != len(items):
        raise Hint("评分项目有重复，请检查后再发。")
    long = [item for item in items if len(item) > MAX_ITEM_CHARS]
    if long:
        raise Hint(f"项目名请控制在 {MAX_ITEM_CHARS} 字以内：{'、'.join(long)}")
    ctx.storage.reviews.set_form(alliance.id, kind, items, by=_by(ctx), at=ctx.clock.now())
    ctx.storage.audit.record(ctx.clock.now(), ctx.incoming.userid, "reviews.form", kind)
    note = ""
    if kind not in (*KINDS, DEFAULT_KIND):
        note = f"\n注意：「{kind}」不是常用类型，发起活动时写「类型:{kind}」才会用到这份量表。"
    return (
        f"已设置「{alliance.name}」{kind}的评课量表：{'、'.join(items)}（每项 1–5 分）。"
        f"评这类活动时，老师发「评分 A编号 {' '.join('4' for _ in items)}」打分。{note}"
    )


@router.command(
    "量表",
    aliases=("评课量表",),
    summary="查看评课量表",
    usage="量表",
    examples=("量表",),
)
def show_forms(ctx: Context, args: Args) -> str:
    alliance = ctx.require_alliance()
    chain = ctx.storage.roster.ancestors(alliance.id)
    nearest: dict[str, RatingForm] = {}
    for form in sorted(
        ctx.storage.reviews.forms(chain), key=lambda f: chain.index(f.alliance_id), reverse=True
    ):
        nearest[form.activity_kind] = form  # nearer alliances overwrite farther ones
    if not nearest:
        return f"「{alliance.name}」还没有评课量表。教研员可以设置，例如：{FORM_EXAMPLE}"
    lines = [f"「{alliance.name}」的评课量表（每项 1–5 分）："]
    lines.extend(f"· {kind}：{'、'.join(f.items)}" for kind, f in sorted(nearest.items()))
    lines.append("评这类活动后发「评分 A编号 分数…」，按上面的顺序写。")
    return "\n".join(lines)


@router.command(
    "删除量表",
    aliases=("取消量表",),
    action=Action.SET_RATING_FORM,
    summary="删除一种活动类型的评课量表（已打的分保留）",
    usage="删除量表 活动类型",
    examples=("删除量表 同课异构",),
)
def delete_form(ctx: Context, args: Args) -> str:
    alliance = ctx.require_alliance()
    ctx.require(Action.SET_RATING_FORM, alliance)
    kind = args.text.strip()
    if not kind:
        raise Hint("请写活动类型，例如：删除量表 同课异构")
    if not ctx.storage.reviews.delete_form(alliance.id, kind):
        raise Hint(f"「{alliance.name}」没有「{kind}」的量表。发送「量表」查看。")
    ctx.storage.audit.record(ctx.clock.now(), ctx.incoming.userid, "reviews.form_deleted", kind)
    return f"已删除「{alliance.name}」{kind}的评课量表；已打的分仍保留在评课记录里。"
