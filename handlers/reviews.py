"""评课 / 听课 / 评分 / 我的评课 / 查看评课 / 查看听课: 听评课 records in the 三个一 form.

评课 comments on an activity (as its audience); 听课 records a lesson observed outside any
activity (推门听课). The group only ever learns how many there are: the text goes to the
teacher who taught, the one who wrote it, and leaders and staff of the alliance
(`Context.reads_review`).
"""

from __future__ import annotations

import re
from datetime import date

from bot.core.messages import Effect, Reply
from bot.routing.context import Context, Hint
from bot.routing.permissions import Action
from bot.routing.router import Args, Router
from bot.text.dates import find_day, parse_period
from handlers import evidence
from handlers import format as fmt
from handlers.lookup import (
    ACTIVITY_CODE,
    activity_by_code,
    activity_written_about,
    member_named,
    members_matching,
    one_of,
    person_label,
    take_code,
)
from handlers.review_parts import EXAMPLE_PARTS, SCORES, Parsed, require_parts, split_parts
from storage.models import (
    Activity,
    EvidenceKind,
    LessonReview,
    Member,
    RatingForm,
    ReviewKind,
)

router = Router("reviews")

REVIEW_EXAMPLE = f"评课 A7 {EXAMPLE_PARTS}"
OBSERVE_EXAMPLE = f"听课 12月3日 王芳 《圆的面积》 数学 {EXAMPLE_PARTS}"
SCORE_EXAMPLE = "评分 A7 4 5 3 4"
SUBJECTS = frozenset(
    [
        "语文",
        "数学",
        "英语",
        "科学",
        "物理",
        "化学",
        "生物",
        "历史",
        "地理",
        "政治",
        "道德与法治",
        "道法",
        "音乐",
        "美术",
        "体育",
        "信息科技",
        "信息技术",
        "劳动",
        "综合实践",
        "心理健康",
        "书法",
    ]
)
_TOPIC = re.compile(r"《(.+?)》")
_TEACHER_LABEL = re.compile(r"^(?:执教老师|执教教师|授课老师|授课教师|执教|授课|老师)\s*[:：]?\s*")
_SUBJECT_LABEL = re.compile(r"^学科\s*[:：]?\s*")
_SCORE_SPLIT = re.compile(r"[\s,，、;；/]+")
MAX_PART_CHARS = 2_000


# 评课 -----------------------------------------------------------------------------------------


@router.command(
    "评课",
    aliases=("议课", "交评课"),
    summary="按「三个一」评课（顺序不限，可分行）",
    usage="评课 [A编号] [执教老师] 优点 不足 建议",
    examples=(REVIEW_EXAMPLE, "评课 A7 王芳\n亮点 情境创设好\n问题 板书略乱\n希望 多让学生说"),
)
def review(ctx: Context, args: Args) -> str:
    ctx.require_member()
    activity, body = activity_written_about(ctx, args.raw)
    member = ctx.require_audience(activity)
    if ctx.clock.now() < activity.starts_at:
        raise Hint(f"{activity.code} 还没开始，听完课再评吧。")
    parsed = split_parts(body)
    parts = require_parts(parsed, REVIEW_EXAMPLE.replace("A7", activity.code))
    _check_length(parsed)
    teacher = _activity_teacher(ctx, parsed.head, activity, member)
    form = form_for(ctx, activity)
    scores = _scores(parsed.parts[SCORES], form, activity) if SCORES in parsed.parts else None
    stored, new = ctx.storage.reviews.review_activity(
        activity_id=activity.id,
        alliance_id=activity.alliance_id,
        observer_id=member.id,
        teacher_id=teacher.id if teacher else None,
        lesson_date=ctx.local(activity.starts_at).date(),
        parts=parts,
        at=ctx.clock.now(),
    )
    if scores is not None and form is not None:
        ctx.storage.reviews.set_scores(stored.id, form.items, scores)
    count = len(ctx.storage.reviews.of_activity(activity.id))
    whose = f"（{teacher.name}执教）" if teacher else " "
    done = "已更新" if not new else "已收到"
    lines = [
        f"{done}{member.name}对 {activity.code}{whose}的评课，谢谢！{activity.code} 共有 {count} 条评课。"
    ]
    attached = evidence.attach(ctx, member, EvidenceKind.REVIEW, stored.id, activity.id)
    if attached:
        lines.append(attached)
    if scores is not None and form is not None:
        lines.append(f"评分：{_score_text(form.items, scores)}")
    elif form is not None:
        lines.append(
            f"本类活动有量表（{'、'.join(form.items)}），请再发"
            f"「评分 {activity.code} {' '.join('4' for _ in form.items)}」，每项 1–5 分。"
        )
    return "\n".join(lines)


def _check_length(parsed: Parsed) -> None:
    for name, text in parsed.parts.items():
        if len(text) > MAX_PART_CHARS:
            raise Hint(f"「{name}」太长了（{len(text)} 字），请控制在 {MAX_PART_CHARS} 字以内。")


def _activity_teacher(ctx: Context, head: str, activity: Activity, member: Member) -> Member | None:
    """The teacher a 评课 names before its parts (评课 A7 王芳 优点…), if any."""
    name = _TEACHER_LABEL.sub("", head).strip()
    if not name:
        return None
    if " " in name:
        raise Hint(f"没看懂「{name}」。执教老师只写一位，例如：评课 {activity.code} 王芳 优点:…")
    tree = ctx.storage.roster.descendants(activity.alliance_id)
    people = [p for p in members_matching(ctx, name) if p.alliance_id in tree]
    if not people:
        raise Hint(
            f"名册里没有「{name}」。编号后只写执教老师的姓名（也可以不写），"
            f"其余写在优点、不足、建议里，例如：评课 {activity.code} 王芳 {EXAMPLE_PARTS}"
        )
    teacher = one_of(name, people)
    if teacher.id == member.id:
        raise Hint("评课是评别人的课。自己的课请写「反思」。")
    return teacher


# 量表 scores ---------------------------------------------------------------------------------


def form_for(ctx: Context, activity: Activity) -> RatingForm | None:
    """The 量表 of the activity's kind: its alliance's own, else the nearest one above."""
    chain = ctx.storage.roster.ancestors(activity.alliance_id)
    forms = {
        f.alliance_id: f
        for f in ctx.storage.reviews.forms(chain)
        if f.activity_kind == activity.kind
    }
    return next((forms[a] for a in chain if a in forms), None)


def _scores(text: str, form: RatingForm | None, activity: Activity) -> list[int]:
    """1–5 for each item of the form, in its order; a Hint says what is wrong."""
    if form is None:
        raise Hint(f"{activity.code} 的活动类型「{activity.kind}」没有量表，不用评分。")
    example = f"评分 {activity.code} {' '.join('4' for _ in form.items)}"
    words = [w for w in _SCORE_SPLIT.split(text.strip()) if w]
    if not words:
        raise Hint(f"请写分数，每项 1–5 分，依次是：{'、'.join(form.items)}。例如：{example}")
    try:
        scores = [int(w) for w in words]
    except ValueError:
        raise Hint(f"分数请写 1–5 的整数，例如：{example}") from None
    if len(scores) != len(form.items):
        raise Hint(
            f"量表有 {len(form.items)} 项（{'、'.join(form.items)}），你写了 {len(scores)} 个分数。"
            f"例如：{example}"
        )
    if any(not 1 <= s <= 5 for s in scores):
        raise Hint(f"每项 1–5 分，请重新写，例如：{example}")
    return scores


def _score_text(items: list[str], scores: list[int]) -> str:
    pairs = "、".join(f"{item} {score}" for item, score in zip(items, scores, strict=True))
    return f"{pairs}（平均 {sum(scores) / len(scores):.1f}）"


@router.command(
    "评分",
    aliases=("打分",),
    summary="按量表给评课打分",
    usage="评分 [A编号] 分数…",
    examples=(SCORE_EXAMPLE, "评分:4,5,3,4"),
)
def score(ctx: Context, args: Args) -> str:
    member = ctx.require_member()
    number, rest = take_code(args.text, ACTIVITY_CODE)
    if number is not None:
        ctx.require_audience(activity_by_code(ctx, number))
    latest = ctx.storage.reviews.latest_review_by(member.id, number)
    if latest is None or latest.activity_id is None:
        where = f" A{number} " if number is not None else ""
        raise Hint(f"你还没有评{where}的课，请先评课，例如：{REVIEW_EXAMPLE}")
    activity = activity_by_code(ctx, latest.activity_id)
    form = form_for(ctx, activity)
    scores = _scores(rest, form, activity)
    assert form is not None  # _scores refuses without one
    ctx.storage.reviews.set_scores(latest.id, form.items, scores)
    return f"已记录你对 {activity.code} 的评分：{_score_text(form.items, scores)}"


# 听课 -----------------------------------------------------------------------------------------


@router.command(
    "听课",
    aliases=("推门听课", "跟踪听课"),
    summary="记录推门听课、跟踪听课",
    usage="听课 [日期] 执教老师 《课题》 优点 不足 建议",
    examples=(
        OBSERVE_EXAMPLE,
        "听课 昨天 李强(东部一小) 《秋天的雨》 优点 朗读指导细 不足 提问偏多 建议 留白",
    ),
)
def observe(ctx: Context, args: Args) -> str:
    member = ctx.require_member()
    alliance = ctx.require_alliance()
    parsed = split_parts(args.raw)
    parts = require_parts(parsed, OBSERVE_EXAMPLE)
    _check_length(parsed)
    if SCORES in parsed.parts:
        raise Hint("量表评分用于活动评课；听课记录只写优点、不足、建议。")
    head = parsed.head
    topic_match = _TOPIC.search(head)
    if topic_match is None or not topic_match.group(1).strip():
        raise Hint(f"请把课题写在《》里，例如：{OBSERVE_EXAMPLE}")
    topic = topic_match.group(1).strip()
    head = (head[: topic_match.start()] + " " + head[topic_match.end() :]).strip()
    lesson_date, head = _lesson_date(ctx, head)
    teacher_words, subject = _teacher_and_subject(head)
    if not teacher_words:
        raise Hint(f"请写执教老师的姓名，例如：{OBSERVE_EXAMPLE}")
    if len(teacher_words) > 1:
        raise Hint(
            f"没看懂执教老师是「{'」还是「'.join(teacher_words)}」。请只写一位，例如：{OBSERVE_EXAMPLE}"
        )
    tree = ctx.storage.roster.descendants(alliance.id)
    teacher = member_named(ctx, teacher_words[0], tree)
    if teacher.id == member.id:
        raise Hint("听课是听别人的课。自己的课请写「反思」。")
    ctx.storage.reviews.observe(
        alliance_id=teacher.alliance_id or alliance.id,
        observer_id=member.id,
        teacher_id=teacher.id,
        lesson_date=lesson_date,
        topic=topic,
        subject=subject,
        parts=parts,
        at=ctx.clock.now(),
    )
    term = parse_period("本学期", ctx.now())
    assert term is not None
    done = [
        r
        for r in ctx.storage.reviews.by_observer(member.id)
        if r.kind is ReviewKind.OBSERVATION and term.start.date() <= r.lesson_date < term.end.date()
    ]
    what = f"{fmt.calendar_day(lesson_date)} {person_label(teacher)}《{topic}》" + (
        f"（{subject}）" if subject else ""
    )
    return f"已记录{member.name}的听课：{what}。本学期已听课 {len(done)} 节。"


def _lesson_date(ctx: Context, head: str) -> tuple[date, str]:
    """The lesson's day and the head without it: today when none is written, else the day
    as written if it is past (11月30日, 周三 = the last Wednesday), or its last occurrence
    when that falls in this term; a day still to come is refused."""
    today = ctx.now().date()
    found = find_day(head, ctx.now())
    if found is None:
        return today, head
    day, words = found
    if day > today:
        past = parse_period(words, ctx.now())
        term = parse_period("本学期", ctx.now())
        assert term is not None
        if past is None or past.start < term.start:
            raise Hint(f"听课日期 {words} 还没到。请写已经听过的课，例如：{OBSERVE_EXAMPLE}")
        day = past.start.date()
    return day, head.replace(words, " ", 1).strip()


def _teacher_and_subject(head: str) -> tuple[list[str], str | None]:
    subject = None
    teacher_words = []
    for word in head.split():
        word = _SUBJECT_LABEL.sub("", word)
        if word in SUBJECTS and subject is None:
            subject = word
            continue
        word = _TEACHER_LABEL.sub("", word)
        if word:
            teacher_words.append(word)
    return teacher_words, subject


# Reading records ------------------------------------------------------------------------------


def review_block(ctx: Context, review: LessonReview) -> str:
    """One record in full: what lesson, who wrote it, the three parts and any scores."""
    roster = ctx.storage.roster
    observer = roster.member(review.observer_id)
    teacher = roster.member(review.teacher_id) if review.teacher_id else None
    by = person_label(observer) if observer else "（已删除）"
    if review.activity_id is not None:
        activity = ctx.storage.activities.get(review.activity_id)
        lesson = fmt.activity_label(activity) if activity else f"A{review.activity_id}"
        lesson = f"{fmt.calendar_day(review.lesson_date)} {lesson}".rstrip()
    else:
        subject = f"（{review.subject}）" if review.subject else ""
        lesson = f"{fmt.calendar_day(review.lesson_date)}《{review.topic}》{subject}"
    taught = f" · 执教 {teacher.name}" if teacher else ""
    lines = [
        f"· {lesson}{taught} · {review.kind.label}人 {by}",
        f"  优点：{review.strengths}",
        f"  不足：{review.weaknesses}",
        f"  建议：{review.suggestions}",
    ]
    if review.scores:
        lines.append(f"  评分：{_score_text(review.score_items, review.scores)}")
    return "\n".join(lines)


def score_averages(reviews: list[LessonReview]) -> str | None:
    """Each item's average over the scored records (items as each record kept them)."""
    totals: dict[str, list[int]] = {}
    for review in reviews:
        for item, value in zip(review.score_items, review.scores, strict=False):
            totals.setdefault(item, []).append(value)
    if not totals:
        return None
    scored = sum(1 for r in reviews if r.scores)
    items = "、".join(f"{item} {sum(v) / len(v):.1f}" for item, v in totals.items())
    return f"量表平均（{scored} 份）：{items}"


@router.command(
    "我的评课",
    aliases=("我的听课", "评课记录"),
    summary="别人对我的课的评课和听课",
    usage="我的评课",
    examples=("我的评课",),
)
def my_reviews(ctx: Context, args: Args) -> Reply:
    member = ctx.require_member()
    about = ctx.storage.reviews.about_teacher(member.id)
    written = ctx.storage.reviews.by_observer(member.id)
    lines = [f"{member.name}（{member.school_name or '无学校'}）的听评课："]
    if about:
        lines.append(f"我的课收到 {len(about)} 条（最近 10 条）：")
        lines.extend(review_block(ctx, r) for r in about[-10:][::-1])
        averages = score_averages(about)
        if averages:
            lines.append(averages)
    else:
        lines.append("· 还没有人评过你的课。")
    observed = sum(1 for r in written if r.kind is ReviewKind.OBSERVATION)
    reviewed = len(written) - observed
    lines.append(f"我写的：听课 {observed} 节，评课 {reviewed} 条。")
    # Comments on one's own lessons are answered privately even when asked in a group.
    return Reply(text="\n".join(lines), private=True)


@router.command(
    "查看评课",
    aliases=("评课汇总",),
    summary="查看活动的评课（全文只给执教老师和负责人）",
    usage="查看评课 A编号",
    examples=("查看评课 A7",),
)
def activity_reviews(ctx: Context, args: Args) -> list[Effect]:
    number, _ = take_code(args.text, ACTIVITY_CODE)
    if number is None:
        raise Hint("请写活动编号，例如：查看评课 A7")
    activity = activity_by_code(ctx, number)
    reviews = ctx.storage.reviews.of_activity(activity.id)
    head = f"{activity.code}「{activity.title}」评课 {len(reviews)} 条"
    if not reviews:
        return [Reply(text=f"{head}。发送「评课 {activity.code} 优点:… 不足:… 建议:…」评课。")]
    readable = [r for r in reviews if ctx.reads_review(r)]
    if not readable:
        return [Reply(text=f"{head}。全文只给执教老师、评课人和本联盟负责人、教研员看。")]
    shown = "" if len(readable) == len(reviews) else f"，你可以看其中 {len(readable)} 条"
    body = [f"{head}{shown}：", *(review_block(ctx, r) for r in readable)]
    averages = score_averages(readable)
    if averages:
        body.append(averages)
    return _counts_public_text_private(ctx, head, "\n".join(body))


@router.command(
    "查看听课",
    aliases=("听课汇总",),
    action=Action.VIEW_REVIEWS,
    summary="查看本联盟的听课记录（默认本学期；群里只显示条数，全文私信）",
    usage="查看听课 [本学期|本月|11月|日期~日期]",
    examples=("查看听课", "查看听课 本月"),
)
def observations(ctx: Context, args: Args) -> list[Effect]:
    alliance = ctx.require_alliance()
    ctx.require(Action.VIEW_REVIEWS, alliance)
    period = parse_period(args.text or "本学期", ctx.now())
    if period is None:
        raise Hint("没看懂时间范围。例如：查看听课 本学期 / 查看听课 本月 / 查看听课 11月")
    found = [
        r
        for r in ctx.storage.reviews.in_alliances(
            ctx.storage.roster.descendants(alliance.id),
            first_day=period.start.date(),
            after_day=period.end.date(),
        )
        if r.kind is ReviewKind.OBSERVATION and ctx.reads_review(r)
    ]
    head = f"「{alliance.name}」{period.label}听课 {len(found)} 节"
    if not found:
        return [Reply(text=f"{head}。")]
    body = [f"{head}（最近 30 条）：", *(review_block(ctx, r) for r in found[-30:][::-1])]
    return _counts_public_text_private(ctx, head, "\n".join(body))


def _counts_public_text_private(ctx: Context, head: str, text: str) -> list[Effect]:
    """In a group the count is public and the text private; in private, the text."""
    if ctx.incoming.in_group:
        return [Reply(text=f"{head}（全文已私信发给你）。"), Reply(text=text, private=True)]
    return [Reply(text=text)]
