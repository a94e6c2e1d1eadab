"""Photos and files as evidence of a record: 反思, 评课, 反馈 and 通知.

A file arrives with the record (its caption is the command, e.g. 反思 A7 …) or, without a
caption, within FOLLOW_UP_MINUTES after the sender's latest record, which it then joins (the
附件 command that `bot.pipeline.files.FileIntake` makes of it). The download, size limit and
refusal of executables happen in the intake, as for 资源; here the stored file is linked.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import PurePath

from bot.core.clock import Clock
from bot.core.messages import Effect, Incoming, Reply
from bot.pipeline.files import (
    EXECUTABLE_SUFFIXES,
    FILE_ERROR,
    FILE_KIND,
    FILE_NAME,
    FILE_PATH,
    FILE_SHA256,
    FILE_SIZE,
    FOLLOW_UP_COMMAND,
    problem_text,
)
from bot.routing.context import Context, Hint
from bot.routing.router import Args, Router
from handlers.notice_files import notice_audience, notice_files
from storage import Storage
from storage.models import (
    Activity,
    EvidenceKind,
    Member,
    NoticeStatus,
    RecentRecord,
    StoredFile,
)

router = Router("evidence")

FOLLOW_UP_MINUTES = 10
_KIND_NAMES = {
    EvidenceKind.REFLECTION: "反思",
    EvidenceKind.REVIEW: "评课",
    EvidenceKind.FEEDBACK: "反馈",
    EvidenceKind.NOTICE: "通知",
}
HOW = (
    "发照片或文件时把说明写成「反思 A7 …」（或 评课、反馈、通知），就会附在那条记录上；"
    f"提交后 {FOLLOW_UP_MINUTES} 分钟内不写说明直接发，也会附在你刚提交的记录上。"
)


def follows_record(storage: Storage, clock: Clock, incoming: Incoming) -> bool:
    """Whether a caption-less file from this sender would join a record made just before."""
    member = storage.roster.member_by_userid(incoming.userid)
    if member is None:
        return False
    since = clock.now() - timedelta(minutes=FOLLOW_UP_MINUTES)
    return storage.evidence.latest_record(member.id, since) is not None


def has_file(ctx: Context) -> bool:
    """Whether this message brought a file (kept or refused)."""
    context = ctx.incoming.reply_context
    return FILE_SHA256 in context or FILE_ERROR in context


def _what(ctx: Context) -> str:
    if ctx.incoming.reply_context.get(FILE_KIND) == "image":
        return "这张照片"
    return f"文件「{ctx.incoming.reply_context.get(FILE_NAME, '文件')}」"


def stored_file(ctx: Context, member: Member) -> StoredFile | None:
    """The file of this message recorded in `files`, or None when none was kept."""
    context = ctx.incoming.reply_context
    if FILE_SHA256 not in context:
        return None
    name = context.get(FILE_NAME, "文件")
    if PurePath(name.lower()).suffix in EXECUTABLE_SUFFIXES:
        return None
    return ctx.storage.resources.add_file(
        sha256=context[FILE_SHA256],
        name=name,
        size=int(context.get(FILE_SIZE, "0")),
        path=context[FILE_PATH],
        executable=False,
        uploaded_by=member.id,
        at=ctx.clock.now(),
    )


def attach(
    ctx: Context,
    member: Member,
    kind: EvidenceKind,
    record_id: int | None,
    activity_id: int | None = None,
) -> str:
    """Link this message's file to a record; a line for the reply ('' without a file).
    record_id None keeps it for the reflection text that follows."""
    context = ctx.incoming.reply_context
    if FILE_ERROR in context:
        return f"附件没有保存：{problem_text(context[FILE_ERROR])}"
    stored = stored_file(ctx, member)
    if stored is None:
        return problem_text("executable") if FILE_SHA256 in context else ""
    ctx.storage.evidence.attach(
        file_id=stored.id,
        kind=kind,
        record_id=record_id,
        activity_id=activity_id,
        member_id=member.id,
        at=ctx.clock.now(),
        source=f"{ctx.incoming.channel.value}:{ctx.incoming.msgid}",
    )
    if record_id is None:
        return ""
    return f"已附上{_what(ctx)}。"


def _record_label(ctx: Context, record: RecentRecord) -> str:
    """What follows 你: " 12月3日 A7 的反思", "对征集 F1 的反馈", "的通知 N3 "."""
    name = _KIND_NAMES[record.kind]
    if record.activity_id is not None:
        activity = ctx.storage.activities.get(record.activity_id)
        if activity is not None:
            day = ctx.local(activity.starts_at)
            return f" {day.month}月{day.day}日 {activity.code} 的{name}"
    if record.kind is EvidenceKind.FEEDBACK and record.request_id is not None:
        return f"对征集 F{record.request_id} 的{name}"
    if record.kind is EvidenceKind.NOTICE:
        return f"的通知 N{record.record_id} "
    return f"的{name}"


def _activity(ctx: Context, record: RecentRecord) -> Activity | None:
    if record.activity_id is None:
        return None
    return ctx.storage.activities.get(record.activity_id)


@router.command(
    FOLLOW_UP_COMMAND,
    aliases=("附图", "证据"),
    summary="给反思、评课附照片",
    usage="附件",
    examples=("（照片说明写）反思 A7 板书设计很清楚……", "（交完反思 10 分钟内）直接发照片"),
)
def follow_up(ctx: Context, args: Args) -> str | list[Effect]:
    if not has_file(ctx):
        return HOW
    member = ctx.require_member()
    since = ctx.clock.now() - timedelta(minutes=FOLLOW_UP_MINUTES)
    record = ctx.storage.evidence.latest_record(member.id, since)
    if record is None:
        raise Hint(f"没有找到你 {FOLLOW_UP_MINUTES} 分钟内提交的记录，没有附上。{HOW}")
    activity = _activity(ctx, record)
    if activity is not None:
        ctx.require_audience(activity, member)
    line = attach(ctx, member, record.kind, record.record_id, record.activity_id)
    if not line.startswith("已附上"):
        return line
    done = f"已把{_what(ctx)}附在你{_record_label(ctx, record)}上"
    if record.kind is EvidenceKind.NOTICE and record.record_id is not None:
        return _to_notice_groups(ctx, record.record_id, done)
    return f"{done}。"


def _to_notice_groups(ctx: Context, notice_id: int, done: str) -> list[Effect]:
    """A file joining a published notice goes to its groups now; a scheduled one takes it
    along when it goes out."""
    storage = ctx.storage
    notice = storage.notices.get(notice_id)
    if notice is None or notice.status is NoticeStatus.CANCELLED:
        return [Reply(text=f"{done}。")]
    if notice.status is NoticeStatus.SCHEDULED:
        return [Reply(text=f"{done}，会随通知一起发出。")]
    newest = max(storage.evidence.of_record(EvidenceKind.NOTICE, notice.id), key=lambda e: e.id)
    groups = len(storage.chats.for_alliances(notice_audience(storage, notice)))
    return [
        *notice_files(storage, notice, f"notice:{notice.id}", only=newest),
        Reply(text=f"{done}，已发到 {groups} 个群。"),
    ]
