"""反思: submitting, and correcting, a teaching reflection after an activity."""

from __future__ import annotations

from bot.routing.context import Context, Hint
from bot.routing.router import Args, Router
from handlers import evidence
from handlers.lookup import activity_written_about
from storage.models import EvidenceKind, Member

router = Router("reflections")

MAX_REFLECTION_CHARS = 10_000


def count_chars(text: str) -> int:
    """Length as teachers count it: every character except whitespace."""
    return len("".join(text.split()))  # str.split() drops exactly what str.isspace() calls space


@router.command(
    "反思",
    aliases=("交反思", "心得", "教学反思", "fs"),
    summary="提交或修改教学反思（可多行，再次提交会替换并保留旧版本）",
    usage="反思 [A编号] 正文",
    examples=("反思 A7 今天听了王老师的《秋天的雨》，最大的收获是……",),
)
def submit_reflection(ctx: Context, args: Args) -> str:
    ctx.require_member()
    activity, body = activity_written_about(ctx, args.raw)
    member = ctx.require_audience(activity)
    body = body.strip()
    length = count_chars(body)
    minimum = ctx.config.min_reflection_chars
    if length < minimum and evidence.has_file(ctx) and ctx.clock.now() >= activity.starts_at:
        return _keep_for_later(ctx, member, activity.id, activity.code, length, minimum)
    if length == 0:
        raise Hint(f"请在命令后写反思正文，例如：反思 {activity.code} 今天的课让我体会到……")
    if length < minimum:
        raise Hint(
            f"这篇反思只有 {length} 字，至少需要 {minimum} 字。可以写写本次活动的收获、"
            f"课堂上的问题和改进的想法，再发送「反思 {activity.code} 正文」。"
        )
    if length > MAX_REFLECTION_CHARS:
        raise Hint(f"反思太长了（{length} 字），请控制在 {MAX_REFLECTION_CHARS} 字以内。")
    if ctx.clock.now() < activity.starts_at:
        raise Hint(f"{activity.code} 还没开始，活动结束后再交反思吧。")
    reflection = ctx.storage.submissions.submit_reflection(
        activity.id, member.id, body, at=ctx.clock.now()
    )
    kept = ctx.storage.evidence.claim_waiting(activity.id, member.id, reflection.id)
    attached = evidence.attach(ctx, member, EvidenceKind.REFLECTION, reflection.id, activity.id)
    signed = ctx.storage.submissions.signin(activity.id, member.id) is not None
    note = "" if signed else f"提醒：你还没有签到 {activity.code}，签到后才计入学时。"
    if kept:
        attached = f"{attached}之前收好的 {kept} 个附件也已附上。"
    note = f"{note}{attached}"
    if reflection.version > 1:
        return (
            f"已更新 {member.name} 在 {activity.code} 的反思（{length} 字，第 {reflection.version} 版，"
            f"旧版本已保留）。{note}"
        )
    return f"已收到 {member.name} 对 {activity.code} 的反思（{length} 字），谢谢！{note}"


def _keep_for_later(
    ctx: Context, member: Member, activity_id: int, code: str, length: int, minimum: int
) -> str:
    """A photo with too little text: the photo waits for this person's next 反思 on it."""
    problem = evidence.attach(ctx, member, EvidenceKind.REFLECTION, None, activity_id)
    if problem:  # the file itself was not kept
        return f"这篇反思只有 {length} 字，至少需要 {minimum} 字。{problem}"
    return (
        f"这篇反思只有 {length} 字，至少需要 {minimum} 字，还不能算提交。附件已先收好，"
        f"再发送「反思 {code} 正文」时会一并附上。"
    )
