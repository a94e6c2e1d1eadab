"""征集 / 反馈 / 联系人: a 教研员 (or a 联盟负责人, within their alliance) asks every school of
an alliance for information, each school's 业务领导 (its leader, or a designated contact)
answers, and whoever asked sees the answers side by side and which schools are still missing.
A school with neither leader nor contact is asked through its teachers, any of whom answers.

Deadline reminders to the missing schools are planned by the scheduler (`scheduling.items`,
from the database), not here; who is asked and who answers is defined once in
`storage.feedback` and shared with the scheduler, the digest and the export.
"""

from __future__ import annotations

import re
from datetime import datetime, time

from bot.core.messages import Broadcast, Direct, Effect, Reply
from bot.routing.context import Context, Hint
from bot.routing.permissions import Action, answers_for
from bot.routing.router import Args, Router
from bot.text.dates import extract_when
from handlers import evidence
from handlers import format as fmt
from handlers.lookup import member_named, take_code
from storage import Storage
from storage import feedback as feedback_rules
from storage.models import (
    EvidenceKind,
    FeedbackAnswer,
    FeedbackRequest,
    FeedbackStatus,
    Member,
    Role,
    School,
)

router = Router("feedback")

FEEDBACK_CODE = re.compile(r"^[Ff](\d+)(.*)$", re.DOTALL)
REQUEST_EXAMPLE = "征集 周五17:00 各校本学期校本教研主题"
ANSWER_EXAMPLE = "反馈 F1 我校本学期主题是“整本书阅读的课堂推进”"
_CLOSE_WORDS = ("结束", "关闭")


# who is asked and who answers ---------------------------------------------------------


def expected_schools(storage: Storage, request: FeedbackRequest) -> list[School]:
    """Every school of the request's alliance and the alliances below it."""
    return feedback_rules.expected_schools(storage.roster, request)


def responders_by_school(storage: Storage, schools: list[School]) -> dict[int, list[Member]]:
    """school id → who answers for it: its active leaders, then its designated contact."""
    return feedback_rules.responders_by_school(storage.roster, storage.feedback, schools)


def _short(text: str, limit: int = 24) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


# 征集 --------------------------------------------------------------------------------


@router.command(
    "征集",
    aliases=("发起征集", "信息征集", "zj"),
    action=Action.REQUEST_FEEDBACK,
    summary="向本联盟各校征集信息，各校业务领导用「反馈」回复（教研员、本联盟负责人）",
    usage="征集 [联盟名] 截止时间 问题 ｜ 征集 结束 F编号",
    examples=(REQUEST_EXAMPLE, "征集 11月30日 课例研讨中遇到的问题", "征集 结束 F1"),
)
def request_feedback(ctx: Context, args: Args) -> list[Effect]:
    text = args.raw.strip()
    head, _, tail = text.partition(" ")
    if head in _CLOSE_WORDS:
        return [Reply(text=_close(ctx, tail))]
    alliance = None
    if tail:
        alliance = ctx.storage.roster.find_alliance(head)
        if alliance is not None:
            text = tail.strip()
    alliance = alliance or ctx.require_alliance()
    ctx.require(Action.REQUEST_FEEDBACK, alliance)
    parsed = extract_when(text, ctx.now())
    if parsed is None:
        raise Hint(f"请先写截止时间再写问题，例如：{REQUEST_EXAMPLE}")
    when, question = parsed
    due = when.start
    if not when.has_time:
        due = datetime.combine(due.date(), time(23, 59), tzinfo=due.tzinfo)
    now = ctx.clock.now()
    if due <= now:
        raise Hint("截止时间已经过去了，请写一个将来的时间。")
    question = question.strip(" :：，,")
    if not question:
        raise Hint(f"请写要征集的问题，例如：{REQUEST_EXAMPLE}")
    schools = ctx.storage.roster.schools(ctx.storage.roster.descendants(alliance.id))
    if not schools:
        raise Hint(f"「{alliance.name}」还没有学校，请先导入名册。")
    request = ctx.storage.feedback.create(
        alliance_id=alliance.id,
        question=question,
        due_at=due,
        created_by=ctx.member.id if ctx.member else None,
        at=now,
    )
    ctx.storage.audit.record(now, ctx.incoming.userid, "feedback.request", request.code)
    responders = responders_by_school(ctx.storage, schools)
    # A school nobody answers for (no leader, no contact) is asked through its teachers.
    uncovered = [s for s in schools if not responders.get(s.id)]
    teachers = _teachers_of(ctx, uncovered)
    asked = [p for s in schools for p in responders.get(s.id, []) or teachers.get(s.id, [])]
    userids = list(dict.fromkeys(p.userid for p in asked if p.userid))
    announcement = (
        f"【征集 {request.code}】{question}\n"
        f"请各校业务领导于 {fmt.when(due, ctx.zone)} 前发送「反馈 {request.code} 正文」"
        "（可多次修改，以最后一次为准）。"
    )
    if uncovered:
        announcement += (
            f"\n{'、'.join(s.name for s in uncovered)}还没有联系人，这次发给本校老师："
            "请商量后由一位老师代表学校回复。"
        )
    tree = ctx.storage.roster.descendants(alliance.id)
    groups = ctx.storage.chats.for_alliances(tree)
    key = f"feedback:{request.id}"
    effects: list[Effect] = []
    if groups:
        effects.append(
            Broadcast(text=announcement, alliance_ids=tree, mention=userids, dedup_key=key)
        )
    elif userids:
        effects.append(Direct(userids=userids, text=announcement, dedup_key=key))
    nobody = [
        s.name
        for s in schools
        if not any(p.userid for p in responders.get(s.id, []) or teachers.get(s.id, []))
    ]
    lines = [f"已发起征集 {request.code}（{alliance.name}，{len(schools)} 所学校）。"]
    if uncovered:
        lines.append(
            f"{'、'.join(s.name for s in uncovered)}没有联系人，已发给该校老师，由一位老师代表回复。"
            "以后可用「联系人 学校 姓名」指定。"
        )
    if nobody:
        lines.append(
            f"以下学校没有可联系的人（未绑定企业微信）：{'、'.join(nobody)}。请用「联系人 学校 姓名」指定。"
        )
    lines.append(f"查看进度：反馈 {request.code}")
    effects.append(Reply(text="\n".join(lines), private=True))
    return effects


def _teachers_of(ctx: Context, schools: list[School]) -> dict[int, list[Member]]:
    """school id → its active teachers (those a 征集 goes to when the school has no contact)."""
    if not schools:
        return {}
    wanted = {s.id for s in schools}
    tree = sorted({s.alliance_id for s in schools if s.alliance_id is not None})
    found: dict[int, list[Member]] = {}
    for member in ctx.storage.roster.members_in(tree, [Role.TEACHER]):
        if member.school_id in wanted:
            found.setdefault(member.school_id, []).append(member)
    return found


def _close(ctx: Context, text: str) -> str:
    number, _ = take_code(text, FEEDBACK_CODE)
    if number is None:
        raise Hint("请写征集编号，例如：征集 结束 F1")
    request = _request(ctx, number)
    ctx.require(Action.REQUEST_FEEDBACK, ctx.storage.roster.alliance(request.alliance_id))
    if not ctx.runs_feedback(request):
        raise Hint(f"征集 {request.code} 不是你发起的，只有发起人或教研员可以结束它。")
    ctx.storage.feedback.close(request.id)
    ctx.storage.audit.record(ctx.clock.now(), ctx.incoming.userid, "feedback.close", request.code)
    return f"征集 {request.code} 已结束，不再提醒。查看结果：反馈 {request.code}"


def _request(ctx: Context, number: int) -> FeedbackRequest:
    request = ctx.storage.feedback.get(number)
    if request is None:
        raise Hint(f"没有找到征集 F{number}。")
    return request


# 反馈 --------------------------------------------------------------------------------


@router.command(
    "反馈",
    aliases=("回复征集", "fk"),
    summary="各校业务领导回复征集（可修改）；教研员查看各校反馈",
    usage="反馈 [F编号] 正文 ｜ 反馈 F编号 ｜ 反馈",
    examples=(ANSWER_EXAMPLE, "反馈 F1", "反馈"),
)
def feedback(ctx: Context, args: Args) -> str:
    number, body = take_code(args.raw, FEEDBACK_CODE)
    body = body.strip()
    if number is not None and not body:
        return _view(ctx, _request(ctx, number))
    if number is None and not body:
        return _pending(ctx)
    return _answer(ctx, number, body)


def _my_schools(ctx: Context) -> list[School]:
    member = ctx.require_member()
    own = ctx.storage.roster.school(member.school_id) if member.school_id else None
    uncovered = own is not None and not responders_by_school(ctx.storage, [own]).get(own.id)
    ids = answers_for(
        ctx.role, member, ctx.storage.feedback.schools_contacted_by(member.id), uncovered
    )
    schools = {s.id: s for s in ctx.storage.roster.schools()}
    return [schools[i] for i in ids if i in schools]


def _addressed_to(ctx: Context, school: School) -> list[FeedbackRequest]:
    """Open requests whose alliance covers this school."""
    if school.alliance_id is None:
        return []
    above = ctx.storage.roster.ancestors(school.alliance_id)
    return ctx.storage.feedback.open_requests(above)


def _answer(ctx: Context, number: int | None, body: str) -> str:
    member = ctx.require_member()
    mine = _my_schools(ctx)
    if not mine:
        raise Hint(
            "只有各校业务领导（本校的联盟负责人）或学校联系人可以反馈。"
            "需要指定联系人请找教研员：联系人 学校 姓名"
        )
    school = mine[0]
    if len(mine) > 1:
        first, _, rest = body.partition(" ")
        named = ctx.storage.roster.find_school(first) if rest else None
        if named is not None and named.id in {s.id for s in mine}:
            school, body = named, rest.strip()
    request = _request(ctx, number) if number is not None else _pick_request(ctx, school)
    if request.status is FeedbackStatus.CLOSED:
        raise Hint(f"征集 {request.code} 已结束，不能再反馈。")
    if school.id not in {s.id for s in expected_schools(ctx.storage, request)}:
        raise Hint(f"征集 {request.code} 不是发给{school.name}的。")
    if len(body) < 2:
        raise Hint(f"反馈内容太短了，例如：{ANSWER_EXAMPLE}")
    now = ctx.clock.now()
    answer, changed = ctx.storage.feedback.answer(
        request.id, school.id, member_id=member.id, body=body, at=now
    )
    attached = evidence.attach(ctx, member, EvidenceKind.FEEDBACK, answer.id)
    if not changed:
        return f"{school.name}对征集 {request.code} 的反馈与上次相同，无需更新。{attached}"
    ctx.storage.audit.record(now, ctx.incoming.userid, "feedback.answer", request.code)
    late = "（已过截止时间，仍已记录）" if now > request.due_at else ""
    if answer.version == 1:
        return (
            f"已收到{school.name}对征集 {request.code} 的反馈{late}，谢谢！需要修改可再发一次。"
            f"{attached}"
        )
    return (
        f"已更新{school.name}对征集 {request.code} 的反馈（第 {answer.version} 版，以此为准）"
        f"{late}。{attached}"
    )


def _pick_request(ctx: Context, school: School) -> FeedbackRequest:
    candidates = _addressed_to(ctx, school)
    if not candidates:
        raise Hint("目前没有需要反馈的征集。")
    if len(candidates) == 1:
        return candidates[0]
    answered = [r for r in candidates if ctx.storage.feedback.answer_of(r.id, school.id)]
    waiting = [r for r in candidates if r not in answered]
    if len(waiting) == 1:
        return waiting[0]
    codes = "、".join(r.code for r in (waiting or candidates))
    raise Hint(f"目前有多个征集（{codes}），请写明编号，例如：反馈 {candidates[0].code} 正文")


def _view(ctx: Context, request: FeedbackRequest) -> str:
    if ctx.runs_feedback(request):
        return _side_by_side(ctx, request)
    mine = [s for s in _my_schools(ctx) if s in expected_schools(ctx.storage, request)]
    if not mine:
        raise Hint("各校反馈只有教研员和发起征集的负责人可以查看。")
    lines = [_title(ctx, request)]
    for school in mine:
        answer = ctx.storage.feedback.answer_of(request.id, school.id)
        if answer is None:
            lines.append(f"{school.name}：还没有反馈。发送「反馈 {request.code} 正文」")
        else:
            lines.append(f"{school.name}（第 {answer.version} 版）：{answer.body}")
    return "\n".join(lines)


def _title(ctx: Context, request: FeedbackRequest) -> str:
    closed = "，已结束" if request.status is FeedbackStatus.CLOSED else ""
    return (
        f"征集 {request.code}：{request.question}"
        f"（截止 {fmt.when(request.due_at, ctx.zone)}{closed}）"
    )


def _side_by_side(ctx: Context, request: FeedbackRequest) -> str:
    schools = expected_schools(ctx.storage, request)
    answers = ctx.storage.feedback.answers(request.id)
    done = [s for s in schools if s.id in answers]
    missing = [s for s in schools if s.id not in answers]
    lines = [_title(ctx, request), f"已反馈 {len(done)}/{len(schools)} 校："]
    for school in done:
        lines.extend(_answer_block(ctx, school, answers[school.id], request))
    if missing:
        responders = responders_by_school(ctx.storage, missing)
        names = []
        for school in missing:
            people = "、".join(p.name for p in responders.get(school.id, []))
            names.append(f"{school.name}（{people}）" if people else f"{school.name}（无联系人）")
        lines.append(f"未反馈 {len(missing)} 校：{'；'.join(names)}")
    else:
        lines.append("各校均已反馈。")
    return "\n".join(lines)


def _answer_block(
    ctx: Context, school: School, answer: FeedbackAnswer, request: FeedbackRequest
) -> list[str]:
    who = ctx.storage.roster.member(answer.member_id) if answer.member_id else None
    version = f"，第 {answer.version} 版" if answer.version > 1 else ""
    late = "，逾期" if answer.first_at > request.due_at else ""
    by = f"{who.name}，" if who else ""
    return [
        f"【{school.name}】（{by}{fmt.when(answer.updated_at, ctx.zone)}{version}{late}）",
        answer.body,
    ]


def _pending(ctx: Context) -> str:
    if ctx.may(Action.VIEW_FEEDBACK):
        alliance = ctx.require_alliance()
        requests = ctx.storage.feedback.open_requests(ctx.storage.roster.descendants(alliance.id))
        if not requests:
            return f"「{alliance.name}」目前没有进行中的征集。发起：{REQUEST_EXAMPLE}"
        lines = [f"「{alliance.name}」进行中的征集：", *_progress_lines(ctx, requests)]
        lines.append("查看各校反馈：反馈 F编号")
        return "\n".join(lines)
    member = ctx.require_member()
    started = [
        r for r in ctx.storage.feedback.open_requests(ctx.own_tree()) if r.created_by == member.id
    ]
    mine = _my_schools(ctx)
    if not mine and not started:
        raise Hint("各校业务领导用「反馈 F编号 正文」回复征集；你目前不需要反馈。")
    lines = []
    if started:
        lines.extend(["你发起的征集：", *_progress_lines(ctx, started)])
        lines.append("查看各校反馈：反馈 F编号")
    pending_at = len(lines)
    for school in mine:
        for request in _addressed_to(ctx, school):
            state = "已反馈" if ctx.storage.feedback.answer_of(request.id, school.id) else "未反馈"
            lines.append(
                f"· {request.code}「{_short(request.question)}」截止 "
                f"{fmt.when(request.due_at, ctx.zone)}：{school.name}{state}"
            )
    if len(lines) == pending_at:
        return "\n".join(lines) if lines else "目前没有需要反馈的征集。"
    lines.insert(pending_at, "需要你回复的征集：")
    return "\n".join([*lines, f"回复：{ANSWER_EXAMPLE}"])


def _progress_lines(ctx: Context, requests: list[FeedbackRequest]) -> list[str]:
    lines = []
    for request in requests:
        schools = expected_schools(ctx.storage, request)
        answered = ctx.storage.feedback.answers(request.id)
        count = sum(1 for s in schools if s.id in answered)
        lines.append(
            f"· {request.code}「{_short(request.question)}」截止 "
            f"{fmt.when(request.due_at, ctx.zone)}，已反馈 {count}/{len(schools)} 校"
        )
    return lines


# 联系人 ------------------------------------------------------------------------------


@router.command(
    "联系人",
    aliases=("学校联系人", "lxr"),
    action=Action.SET_CONTACT,
    summary="指定学校回复征集的联系人，或查看各校业务领导和联系人",
    usage="联系人 [学校 姓名]",
    examples=("联系人 西城小学 孙丽", "联系人"),
)
def contacts(ctx: Context, args: Args) -> str:
    words = args.text.split(" ") if args.text else []
    if not words:
        return _contact_list(ctx)
    if len(words) < 2:
        raise Hint("请写学校和姓名，例如：联系人 西城小学 孙丽")
    school = ctx.storage.roster.find_school(words[0])
    if school is None:
        raise Hint(f"没有找到学校「{words[0]}」。")
    ctx.require_school(school.id, Action.SET_CONTACT)
    person = member_named(ctx, " ".join(words[1:]))
    ctx.storage.feedback.set_contact(
        school.id, person.id, by=ctx.incoming.userid, at=ctx.clock.now()
    )
    ctx.storage.audit.record(
        ctx.clock.now(), ctx.incoming.userid, "feedback.contact", f"{school.name} {person.name}"
    )
    reach = "" if person.userid else "（注意：此人还没有绑定企业微信，收不到提醒）"
    return f"已指定 {person.name} 为{school.name}的联系人，征集由其或本校业务领导回复。{reach}"


def _contact_list(ctx: Context) -> str:
    alliance = ctx.require_alliance()
    schools = ctx.storage.roster.schools(ctx.storage.roster.descendants(alliance.id))
    if not schools:
        return f"「{alliance.name}」还没有学校。"
    responders = responders_by_school(ctx.storage, schools)
    lines = [f"「{alliance.name}」各校回复征集的人："]
    for school in schools:
        people = "、".join(p.name for p in responders.get(school.id, [])) or "无（请指定联系人）"
        lines.append(f"· {school.name}：{people}")
    lines.append("指定：联系人 学校 姓名")
    return "\n".join(lines)
