"""通知 / 定时通知 / 收到 / 回执: broadcasting notices and tracking confirmations."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from bot.core.messages import Broadcast, Effect, Reply
from bot.routing.context import Context, Hint
from bot.routing.permissions import Action
from bot.routing.router import Args, Router
from bot.text.dates import extract_when
from handlers import evidence
from handlers import format as fmt
from handlers.lookup import NOTICE_CODE, notice_by_code, take_code
from handlers.notice_files import notice_audience, notice_files
from scheduling.zones import Place
from storage import Storage
from storage.attendance import NO_SCHOOL, PARTICIPANT_ROLES
from storage.models import Alliance, EvidenceKind, Member, Notice, NoticeStatus

router = Router("notices")

ALL_WORDS = ("全部", "全体", "所有联盟")
ACK_WORDS = ("需回执", "需要回执", "要回执", "回执")


def notice_recipients(
    storage: Storage, notice: Notice, within: list[int] | None = None
) -> list[Member]:
    """Who is expected to read (and, if asked, confirm) a notice; `within` keeps only the
    recipients of these alliances (a leader's part of a notice to 全部)."""
    roster = storage.roster
    if notice.alliance_id is None:
        ids = [a.id for a in roster.alliances()]
    else:
        ids = roster.descendants(notice.alliance_id)
    if within is not None:
        ids = [alliance_id for alliance_id in ids if alliance_id in within]
    return roster.members_in(ids, PARTICIPANT_ROLES)


def notice_broadcasts(storage: Storage, notice: Notice, dedup_key: str) -> list[Broadcast]:
    """The group messages of a published notice, its text then its files (also used when a
    scheduled one falls due)."""
    author = storage.roster.member(notice.author_id) if notice.author_id else None
    signature = f"\n——{author.name}" if author else ""
    ack = f"\n请回复「收到 {notice.code}」确认。" if notice.needs_ack else ""
    text = Broadcast(
        text=f"【通知 {notice.code}】{notice.body}{signature}{ack}",
        alliance_ids=notice_audience(storage, notice),
        dedup_key=dedup_key,
    )
    return [text, *notice_files(storage, notice, dedup_key)]


def _parse_target(ctx: Context, text: str) -> tuple[Alliance | None, bool, str]:
    """Read the optional [全部|联盟名] [需回执] words before the body."""
    target: Alliance | None = None
    explicit_all = False
    needs_ack = False
    rest = text.strip()
    for _ in range(2):
        head, _, tail = rest.partition(" ")
        if head in ALL_WORDS and not explicit_all and target is None:
            explicit_all, rest = True, tail.strip()
        elif head in ACK_WORDS and not needs_ack:
            needs_ack, rest = True, tail.strip()
        elif target is None and not explicit_all and tail:
            found = ctx.storage.roster.find_alliance(head)
            if found is None:
                break
            target, rest = found, tail.strip()
        else:
            break
    if not explicit_all and target is None:
        target = ctx.require_alliance()
    return target, needs_ack, rest


def _publish(ctx: Context, args_text: str, *, at_text: str | None = None) -> list[Effect]:
    target, needs_ack, body = _parse_target(ctx, args_text)
    ctx.require(Action.POST_NOTICE, target)
    if not body:
        raise Hint("通知内容不能为空。例如：通知 需回执 周五下午全体语文教师到一中听课")
    now = ctx.clock.now()
    publish_at = now
    status = NoticeStatus.PUBLISHED
    if at_text is not None:
        parsed = extract_when(at_text, ctx.now())
        if parsed is None:
            raise Hint("没看懂时间。例如：定时通知 明天上午8点 需回执 本周教研安排…")
        publish_at = parsed[0].start
        if publish_at <= now:
            raise Hint("定时时间已经过去了，请写一个将来的时间，或直接用「通知」。")
        status = NoticeStatus.SCHEDULED
    member = ctx.require_member()
    notice = ctx.storage.notices.create(
        alliance_id=target.id if target else None,
        body=body,
        needs_ack=needs_ack,
        author_id=member.id,
        created_at=now,
        publish_at=publish_at,
        status=status,
    )
    attached = evidence.attach(ctx, member, EvidenceKind.NOTICE, notice.id)
    where = target.name if target else "全部联盟"
    ids = None if target is None else ctx.storage.roster.descendants(target.id)
    groups = len(ctx.storage.chats.for_alliances(ids))
    ack = "，需回执" if needs_ack else ""
    if status is NoticeStatus.SCHEDULED:
        return [
            Reply(
                text=f"已预约通知 {notice.code}（{where}{ack}），"
                f"{_goes_out(ctx, target, publish_at)}发到 {groups} 个群。"
            )
        ]
    effects: list[Effect] = [*notice_broadcasts(ctx.storage, notice, f"notice:{notice.id}")]
    no_group = "（目前还没有群绑定到该联盟，请先在群里发送「绑定 联盟名」）" if groups == 0 else ""
    follow = f"发送「回执 {notice.code}」查看确认情况。" if needs_ack else ""
    effects.append(
        Reply(
            text=f"已发布通知 {notice.code} 到{where}（{groups} 个群{ack}）{no_group}。{follow}"
            f"{attached}",
            private=True,
        )
    )
    return effects


def _goes_out(ctx: Context, target: Alliance | None, publish_at: datetime) -> str:
    """When the scheduler will really send it: quiet hours (免打扰) push it to their end."""
    fire = Place.of(target, ctx.zone).quiet.defer(publish_at)
    if fire == publish_at:
        return f"将于 {fmt.when(publish_at, ctx.zone)} "
    asked = fmt.clock_time(publish_at, ctx.zone)
    return f"将于 {fmt.when(fire, ctx.zone)} 发出（{asked} 在免打扰时段内，已顺延），"


@router.command(
    "通知",
    aliases=("发通知", "公告", "tz"),
    action=Action.POST_NOTICE,
    summary="向本联盟或全部联盟发通知，可要求回执",
    usage="通知 [全部|联盟名] [需回执] 正文",
    examples=(
        "通知 需回执 周五下午2点在一中开展同课异构，请各校准时参加",
        "通知 全部 下周教研暂停一次",
    ),
)
def post_notice(ctx: Context, args: Args) -> list[Effect]:
    return _publish(ctx, args.raw)


@router.command(
    "定时通知",
    aliases=("预约通知",),
    action=Action.POST_NOTICE,
    summary="在指定时间发通知",
    usage="定时通知 时间 [全部|联盟名] [需回执] 正文",
    examples=("定时通知 明天上午8点 需回执 今天下午的集体备课改到三楼会议室",),
)
def schedule_notice(ctx: Context, args: Args) -> list[Effect]:
    parsed = extract_when(args.text, ctx.now())
    if parsed is None:
        raise Hint("没看懂时间。例如：定时通知 明天上午8点 需回执 本周教研安排…")
    when, _ = parsed
    raw_rest = args.raw.strip()
    # The body keeps the user's own formatting: cut the time words off the raw text.
    body = raw_rest[len(when.text) :] if raw_rest.startswith(when.text) else parsed[1]
    return _publish(ctx, body, at_text=when.text)


@router.command(
    "收到",
    aliases=("确认", "已阅", "收到了", "sd"),
    summary="确认收到通知（不写编号则确认最新一条）",
    usage="收到 [N编号]",
    examples=("收到", "收到 N3"),
)
def acknowledge(ctx: Context, args: Args) -> str:
    member = ctx.require_member()
    number, _ = take_code(args.text, NOTICE_CODE)
    if number is not None:
        notice = notice_by_code(ctx, number)
        if notice.status is not NoticeStatus.PUBLISHED:
            raise Hint(f"通知 {notice.code} 还没有发布。")
        ctx.require_notice_audience(notice)
    else:
        scope = ctx.storage.roster.ancestors(member.alliance_id) if member.alliance_id else []
        open_notices = ctx.storage.notices.open_for(scope, member.id)
        if not open_notices:
            return "目前没有需要你确认的通知，谢谢关注！"
        notice = open_notices[0]
    if not ctx.storage.notices.ack(notice.id, member.id, ctx.clock.now()):
        return f"你已经确认过通知 {notice.code} 了，不用再发。"
    return f"已确认收到通知 {notice.code}，谢谢！"


@router.command(
    "回执",
    aliases=("回执情况", "确认情况", "hz"),
    action=Action.VIEW_RECEIPTS,
    summary="查看通知的确认情况（按学校）",
    usage="回执 N编号",
    examples=("回执 N3",),
)
def receipts(ctx: Context, args: Args) -> list[Effect]:
    number, _ = take_code(args.text, NOTICE_CODE)
    if number is None:
        raise Hint("请写通知编号，例如：回执 N3")
    notice = notice_by_code(ctx, number)
    scope = ctx.receipt_scope(notice)
    if not notice.needs_ack:
        raise Hint(f"通知 {notice.code} 没有要求回执。")
    acked = ctx.storage.notices.acked_member_ids(notice.id)
    by_school: dict[str, list[Member]] = defaultdict(list)
    for person in notice_recipients(ctx.storage, notice, scope):
        by_school[person.school_name or NO_SCHOOL].append(person)
    total = sum(len(people) for people in by_school.values())
    done = sum(1 for people in by_school.values() for p in people if p.id in acked)
    # A leader's view of a notice to 全部 (or to an alliance above theirs) is their own part.
    part = "（本联盟部分）" if scope is not None and notice.alliance_id not in scope else ""
    lines = [f"通知 {notice.code} 回执{part}：已确认 {done}/{total}（{fmt.percent(done, total)}）"]
    names = [f"通知 {notice.code} 未确认名单："]
    for school, people in sorted(by_school.items(), key=lambda kv: kv[0]):
        missing = [p.name for p in people if p.id not in acked]
        lines.append(f"· {school}：{len(people) - len(missing)}/{len(people)}")
        if missing:
            names.append(f"· {school}：{'、'.join(missing)}")
    if done == total:
        return [Reply(text="\n".join([*lines, "全部已确认。"]))]
    if ctx.incoming.in_group:
        return [
            Reply(text="\n".join([*lines, "未确认名单已私信发给你。"])),
            Reply(text="\n".join(names), private=True),
        ]
    return [Reply(text="\n".join([*lines, *names[1:]]))]
