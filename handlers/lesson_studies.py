"""课例 (一课多研): one lesson taught over several rounds, and 说课 designs before a round.

`发起活动 … 课例:名称 执教:姓名` makes the activity the 课例's next round (activities.py calls
`study_teacher` before creating it and `add_round` after). `说课 A9 正文` (or a file whose
caption is 说课 A9) submits the teaching design: the only submission taken before the
activity starts. `课例 名称` lists the rounds with their counts, the points most raised under
不足/建议 in each round's 评课 (the digest's keyword extraction), and what changed between
consecutive designs.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.pipeline.files import FILE_ERROR, FILE_NAME, problem_text
from bot.routing.context import Context, Hint
from bot.routing.router import Args, Router
from handlers import evidence
from handlers.lookup import ACTIVITY_CODE, activity_by_code, member_named, take_code
from handlers.reflections import count_chars
from reports.lesson_study import design_changes, study_rounds
from reports.text import day
from storage.models import Activity, Alliance, LessonReview, Member

router = Router("lesson_studies")

DESIGN_KIND = "说课"
MAX_NAME_CHARS = 40
MAX_DESIGN_CHARS = 20_000
POINTS = 3  # keywords shown per part and round
DESIGN_EXAMPLE = "说课 A9 教学目标：……"
STUDY_EXAMPLE = "发起活动 12月10日 14:30 说课《分数的初步认识》 课例:分数的初步认识 执教:王芳"


# rounds --------------------------------------------------------------------------------


def study_teacher(
    ctx: Context, alliance: Alliance, study: str | None, teacher: str | None
) -> Member | None:
    """The 执教 of a new round, checked before the activity is created (namesakes ask)."""
    if teacher and not study:
        raise Hint(f"「执教:」要和「课例:」一起写，例如：{STUDY_EXAMPLE}")
    if not study:
        return None
    if len(study) > MAX_NAME_CHARS:
        raise Hint(f"课例名称请控制在 {MAX_NAME_CHARS} 字以内。")
    if not teacher:
        return None
    return member_named(ctx, teacher, ctx.storage.roster.descendants(alliance.id))


def add_round(ctx: Context, activity: Activity, study: str, teacher: Member | None) -> str:
    """Make the activity the 课例's next round; e.g. 课例「分数的初步认识」第2轮，执教 王芳."""
    made = ctx.storage.lesson_studies.add_round(
        alliance_id=activity.alliance_id,
        name=study,
        activity_id=activity.id,
        teacher_id=teacher.id if teacher else None,
        at=ctx.clock.now(),
    )
    who = f"，执教 {teacher.name}" if teacher else ""
    return f"课例「{study}」第{made.round}轮{who}"


# 说课 ------------------------------------------------------------------------------------


def takes_design(ctx: Context, activity: Activity) -> bool:
    return (
        activity.kind == DESIGN_KIND or ctx.storage.lesson_studies.round_of(activity.id) is not None
    )


@router.command(
    "说课",
    aliases=("交说课稿", "说课稿"),
    summary="课前交教学设计",
    usage="说课 A编号 正文",
    examples=(DESIGN_EXAMPLE, "（文件说明写）说课 A9"),
)
def submit_design(ctx: Context, args: Args) -> str:
    member = ctx.require_member()
    number, body = take_code(args.raw, ACTIVITY_CODE)
    if number is None:
        raise Hint(f"请写活动编号，例如：{DESIGN_EXAMPLE}")
    activity = activity_by_code(ctx, number)
    ctx.require_audience(activity)
    if not takes_design(ctx, activity):
        raise Hint(
            f"{activity.code} 不是说课或课例活动。教学设计可以用「资源 {activity.code} 标题 链接」分享。"
        )
    context = ctx.incoming.reply_context
    if FILE_ERROR in context:
        raise Hint(problem_text(context[FILE_ERROR]))
    body = body.strip()
    stored = evidence.stored_file(ctx, member)
    if not body and stored is None:
        raise Hint(f"请写教学设计正文，或发文件并把说明写成「说课 {activity.code}」。")
    length = count_chars(body)
    if length > MAX_DESIGN_CHARS:
        raise Hint(f"教学设计太长了（{length} 字），请发文件，说明写「说课 {activity.code}」。")
    _, version = ctx.storage.lesson_studies.submit_design(
        activity_id=activity.id,
        member_id=member.id,
        body=body,
        file_id=stored.id if stored else None,
        at=ctx.clock.now(),
        source=f"{ctx.incoming.channel.value}:{ctx.incoming.msgid}",
    )
    parts = [f"{length} 字"] if body else []
    if stored is not None:
        parts.append(f"文件「{context.get(FILE_NAME, stored.name)}」")
    return (
        f"已收到{member.name}对 {activity.code} 的说课稿（{'，'.join(parts)}，第 {version} 版）。"
    )


# 课例 view -------------------------------------------------------------------------------


@router.command(
    "课例",
    aliases=("一课多研",),
    summary="各轮情况和说课稿变化",
    usage="课例 名称",
    examples=("课例 分数的初步认识",),
    background=True,
)
def show_study(ctx: Context, args: Args) -> str:
    alliance = ctx.require_alliance()
    roster = ctx.storage.roster
    scope = sorted(set(roster.ancestors(alliance.id)) | set(roster.descendants(alliance.id)))
    name = args.text.strip()
    repo = ctx.storage.lesson_studies
    if not name:
        studies = repo.in_alliances(scope)
        if not studies:
            return f"还没有课例。发起：{STUDY_EXAMPLE}"
        names = "、".join(f"{s.name}（{len(repo.rounds(s.id))} 轮）" for s in studies[-10:])
        return f"课例：{names}。详情：课例 名称"
    study = repo.named(scope, name)
    if study is None:
        raise Hint(f"没有找到课例「{name}」。发送「课例」查看全部课例。")
    rows = study_rounds(ctx.storage, study)
    lines = [f"课例「{study.name}」共 {len(rows)} 轮："]
    for row in rows:
        who = f" 执教 {row.teacher.name}" if row.teacher else ""
        lines.append(
            f"第{row.round}轮 {day(row.starts_at, ctx.zone)} {row.activity.code}{who}："
            f"签到 {row.signed}，反思 {row.reflected}，评课 {len(row.reviews)}"
        )
        lines.extend(f"  {line}" for line in round_points(row.reviews))
    for heading, changed in design_changes(rows):
        lines.append(f"{heading}：")
        lines.extend(f"  {line}" for line in changed)
    return "\n".join(lines)


def round_points(reviews: Sequence[LessonReview]) -> list[str]:
    """The points most raised under 不足 and 建议 in a round's 评课 (keywords of those parts)."""
    if not reviews:
        return []
    from reports.keywords import default_extractor  # jieba: loaded only when asked

    keywords = default_extractor()
    lines = []
    for label, texts in (
        ("不足", [r.weaknesses for r in reviews]),
        ("建议", [r.suggestions for r in reviews]),
    ):
        top = keywords.top(texts, POINTS)
        if top:
            lines.append(f"{label}：{'、'.join(k.word for k in top)}")
    return lines
