"""资源 / 推荐: the alliance's library of 课件, 教学设计, 课例视频, 论文 and 书目.

Everyone may share; only staff and leaders 推荐 (push a resource to the alliance's groups).
`资源` alone lists the latest, `资源 关键词` searches titles and tags by Chinese words,
`资源 A7` lists what belongs to an activity, `资源 R3` shows one resource.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath

from bot.core.messages import Broadcast, Effect, Reply
from bot.pipeline.files import (
    EXECUTABLE_SUFFIXES,
    FILE_ERROR,
    FILE_NAME,
    FILE_PATH,
    FILE_SHA256,
    FILE_SIZE,
    problem_text,
)
from bot.routing.context import Context, Hint
from bot.routing.permissions import Action
from bot.routing.router import Args, Router
from bot.text.search import search
from handlers import format as fmt
from handlers.lookup import ACTIVITY_CODE, activity_by_code, take_code
from storage.models import Activity, Resource

router = Router("resources")

RESOURCE_CODE = re.compile(r"^[Rr](\d+)(.*)$", re.DOTALL)
KINDS = ("课件", "教学设计", "课例视频", "论文", "书目")
OTHER_KIND = "资料"
LIST_LIMIT = 8
SHARE_EXAMPLE = "资源 《秋天的雨》教学设计 https://pan.example.com/s/abc #三年级 #朗读"

_URL = re.compile(r"(?:https?://|www\.)[^\s，。；、“”\"'<>）)】」]+", re.IGNORECASE)
_TAG = re.compile(r"[#＃]([^\s#＃,，、;；]+)")
_KIND_FIELD = re.compile(r"类型\s*[:：]\s*(\S+)")

# Title words → kind, most specific first (a 课例视频 title often also says 课例).
_TITLE_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("书目", ("书目", "书单", "荐书", "阅读推荐", "推荐阅读")),
    ("论文", ("论文", "课题报告", "研究报告", "结题报告")),
    ("课例视频", ("视频", "实录", "录像", "微课")),
    ("教学设计", ("教学设计", "教案", "学案", "设计")),
    ("课件", ("课件", "ppt")),
    ("课例视频", ("课例",)),
)
_SUFFIX_KINDS: dict[str, str] = {
    **dict.fromkeys((".ppt", ".pptx", ".key", ".pps", ".ppsx"), "课件"),
    **dict.fromkeys((".mp4", ".mov", ".avi", ".wmv", ".flv", ".mkv", ".m4v", ".mpg"), "课例视频"),
    **dict.fromkeys((".doc", ".docx", ".wps"), "教学设计"),
}
_VIDEO_HOSTS = ("v.qq.com", "bilibili.com", "b23.tv", "youku.com", "ixigua.com", "channels.weixin")
_KIND_ALIASES = {"ppt": "课件", "教案": "教学设计", "视频": "课例视频", "课例": "课例视频"}


def infer_kind(title: str, url: str | None = None, file_name: str | None = None) -> str:
    """课件/教学设计/课例视频/论文/书目 from the title's words, then the file type or site."""
    folded = title.lower()
    for kind, words in _TITLE_KINDS:
        if any(word in folded for word in words):
            return kind
    if file_name:
        suffix = PurePath(file_name.lower()).suffix
        if suffix in _SUFFIX_KINDS:
            return _SUFFIX_KINDS[suffix]
    if url and any(host in url.lower() for host in _VIDEO_HOSTS):
        return "课例视频"
    return OTHER_KIND


def _kind_named(text: str) -> str:
    folded = text.strip().lower()
    for kind in (*KINDS, OTHER_KIND):
        if folded == kind:
            return kind
    if folded in _KIND_ALIASES:
        return _KIND_ALIASES[folded]
    names = "、".join(KINDS)
    raise Hint(f"没有「{text}」这种资源类型，可写：{names}（或不写，自动判断）。")


@dataclass
class ShareParts:
    title: str = ""
    url: str | None = None
    tags: list[str] = field(default_factory=list)
    kind: str | None = None


def parse_share(text: str) -> ShareParts:
    """Split `标题 链接 #标签… 类型:…` (in any order) into its parts."""
    parts = ShareParts()
    kind = _KIND_FIELD.search(text)
    if kind:
        parts.kind = _kind_named(kind.group(1))
        text = text[: kind.start()] + " " + text[kind.end() :]
    url = _URL.search(text)
    if url:
        link = url.group(0).rstrip(".,;:!?")
        parts.url = link if link.lower().startswith("http") else f"https://{link}"
        text = text[: url.start()] + " " + text[url.end() :]
    parts.tags = list(dict.fromkeys(tag for tag in _TAG.findall(text)))
    text = _TAG.sub(" ", text)
    parts.title = " ".join(text.split()).strip(" :：-—")
    return parts


def scope_of(ctx: Context) -> list[int]:
    """Alliances whose resources are visible here: this one, those above and those below."""
    alliance = ctx.require_alliance()
    roster = ctx.storage.roster
    return sorted(set(roster.ancestors(alliance.id)) | set(roster.descendants(alliance.id)))


def resource_lines(ctx: Context, resource: Resource) -> list[str]:
    """Two lines: what it is and who shared it; then where to get it."""
    sharer = ctx.storage.roster.member(resource.shared_by) if resource.shared_by else None
    who = f"{sharer.name}·{sharer.school_name}" if sharer and sharer.school_name else ""
    who = who or (sharer.name if sharer else "")
    tags = "".join(f" #{tag}" for tag in resource.tags)
    star = " ⭐推荐" if resource.recommended_at else ""
    day = ctx.local(resource.shared_at)
    head = f"{resource.code} [{resource.kind}]{resource.title}{tags}（{who} {day.month}月{day.day}日）{star}"
    return [head, f"  {_where(ctx, resource)}"]


def _where(ctx: Context, resource: Resource) -> str:
    if resource.url:
        return resource.url
    stored = ctx.storage.resources.file(resource.file_id) if resource.file_id else None
    if stored is None:
        return "（文件）"
    return f"文件：{stored.name}（{_size(stored.size)}，已存档）"


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


@router.command(
    "资源",
    aliases=("分享资源", "资料", "zy"),
    summary="分享或查找课件、教案等资源",
    usage="资源 [A编号] 标题 链接 [#标签] [类型:] ｜ 资源 [关键词|A编号|R编号]",
    examples=(
        SHARE_EXAMPLE,
        "资源 A7 第二课时课件 https://pan.example.com/s/ppt",
        "资源 朗读",
        "资源",
    ),
)
def resources(ctx: Context, args: Args) -> list[Effect] | str:
    context = ctx.incoming.reply_context
    if FILE_ERROR in context:
        raise Hint(problem_text(context[FILE_ERROR]))
    number, rest = take_code(args.text, RESOURCE_CODE)
    if number is not None and not rest and FILE_SHA256 not in context:
        return _show(ctx, number)
    number, rest = take_code(args.raw, ACTIVITY_CODE)
    activity = activity_by_code(ctx, number) if number is not None else None
    parts = parse_share(rest)
    if parts.url is None and FILE_SHA256 not in context:
        if parts.kind is not None and not parts.title and not parts.tags:
            return _list(ctx, activity, kind=parts.kind)
        words = " ".join([parts.title, *parts.tags]).strip()
        return _search(ctx, words, activity) if words else _list(ctx, activity)
    return _share(ctx, parts, activity)


def _share(ctx: Context, parts: ShareParts, activity: Activity | None) -> list[Effect]:
    member = ctx.require_member()
    alliance_id = activity.alliance_id if activity else ctx.require_alliance().id
    context = ctx.incoming.reply_context
    now = ctx.clock.now()
    file_id = None
    file_name = None
    if FILE_SHA256 in context:
        file_name = context.get(FILE_NAME, "文件")
        if PurePath(file_name.lower()).suffix in EXECUTABLE_SUFFIXES:
            raise Hint(problem_text("executable"))
        stored = ctx.storage.resources.add_file(
            sha256=context[FILE_SHA256],
            name=file_name,
            size=int(context.get(FILE_SIZE, "0")),
            path=context[FILE_PATH],
            executable=False,
            uploaded_by=member.id,
            at=now,
        )
        file_id = stored.id
    title = parts.title or (PurePath(file_name).stem if file_name else "")
    if not title:
        raise Hint(f"请写资源标题，例如：{SHARE_EXAMPLE}")
    if len(title) > 100:
        raise Hint("标题太长了，请控制在 100 字以内，详细说明可以放在链接里。")
    resource, created = ctx.storage.resources.share(
        alliance_id=alliance_id,
        title=title,
        kind=parts.kind or infer_kind(title, parts.url, file_name),
        url=parts.url,
        file_id=file_id,
        tags=parts.tags,
        activity_id=activity.id if activity else None,
        shared_by=member.id,
        at=now,
        source=f"{ctx.incoming.channel.value}:{ctx.incoming.msgid}",
    )
    if created:
        ctx.storage.audit.record(now, ctx.incoming.userid, "resource.share", resource.code)
    where = f"，已归入活动 {activity.code}" if activity else ""
    if ctx.may(Action.RECOMMEND_RESOURCE):
        follow = f"发送「推荐 {resource.code} 推荐语」可推送到联盟群。"
    else:
        follow = "教研员或联盟负责人推荐后会推送到联盟群。"
    head = f"已收录资源 {resource.code}（{resource.kind}）{where}，谢谢分享！"
    return [Reply(text=f"{head}\n{follow}\n查找资源：资源 关键词")]


def _show(ctx: Context, number: int) -> str:
    resource = _resource(ctx, number)
    lines = resource_lines(ctx, resource)
    if resource.activity_id:
        activity = ctx.storage.activities.get(resource.activity_id)
        if activity is not None:
            lines.append(f"  所属活动：{fmt.activity_label(activity)}")
    if resource.recommend_note:
        lines.append(f"  推荐语：{resource.recommend_note}")
    return "\n".join(lines)


def _list(ctx: Context, activity: Activity | None, *, kind: str | None = None) -> str:
    if activity is not None:
        items = ctx.storage.resources.for_activity(activity.id)
        if not items:
            return f"活动 {activity.code} 还没有资源。分享：资源 {activity.code} 教学设计 链接"
        lines = [f"活动 {fmt.activity_label(activity)}的资源（{len(items)} 条）："]
    else:
        items = ctx.storage.resources.in_alliances(scope_of(ctx))
        if kind is not None:
            items = [r for r in items if r.kind == kind]
        if not items:
            what = kind or "资源"
            return f"还没有{what}。分享：{SHARE_EXAMPLE}"
        label = kind or "资源"
        lines = [f"最新{label}（共 {len(items)} 条，显示 {min(len(items), LIST_LIMIT)} 条）："]
    for resource in items[:LIST_LIMIT]:
        lines.extend(resource_lines(ctx, resource))
    lines.append("查找：资源 关键词；详情：资源 R编号")
    return "\n".join(lines)


def _search(ctx: Context, words: str, activity: Activity | None) -> str:
    pool = (
        ctx.storage.resources.for_activity(activity.id)
        if activity is not None
        else ctx.storage.resources.in_alliances(scope_of(ctx))
    )
    hits = search(
        words,
        pool,
        lambda r: [(r.title, 2.0), (" ".join(r.tags), 1.5), (r.kind, 1.0)],
    )
    if not hits:
        return f"没有找到与「{words}」相关的资源。换个关键词试试，或分享：{SHARE_EXAMPLE}"
    partial = "" if hits[0].complete else "（没有同时包含全部关键词的，以下为部分匹配）"
    lines = [f"找到 {len(hits)} 条与「{words}」相关的资源{partial}："]
    for hit in hits[:LIST_LIMIT]:
        lines.extend(resource_lines(ctx, hit.item))
    if len(hits) > LIST_LIMIT:
        lines.append(f"……另有 {len(hits) - LIST_LIMIT} 条，请加关键词缩小范围。")
    return "\n".join(lines)


def _resource(ctx: Context, number: int) -> Resource:
    resource = ctx.storage.resources.get(number)
    if resource is None:
        raise Hint(f"没有找到资源 R{number}。发送「资源」查看最新资源及编号。")
    return resource


@router.command(
    "推荐",
    aliases=("推荐资源", "推送资源", "tj"),
    action=Action.RECOMMEND_RESOURCE,
    summary="把一条资源推送到联盟各群",
    usage="推荐 R编号 [推荐语]",
    examples=("推荐 R3 这节朗读指导课值得反复看，请各校组织观摩",),
)
def recommend(ctx: Context, args: Args) -> list[Effect]:
    number, note = take_code(args.raw, RESOURCE_CODE)
    if number is None:
        raise Hint("请写资源编号，例如：推荐 R3 推荐语（发送「资源」查看编号）")
    resource = _resource(ctx, number)
    alliance = ctx.storage.roster.alliance(resource.alliance_id)
    ctx.require(Action.RECOMMEND_RESOURCE, alliance)
    if resource.recommended_at is not None:
        day = fmt.when(resource.recommended_at, ctx.zone)
        raise Hint(f"资源 {resource.code} 已在 {day} 推荐过，不再重复推送。")
    member = ctx.require_member()
    now = ctx.clock.now()
    resource = ctx.storage.resources.recommend(
        resource.id, by=member.id, at=now, note=note.strip() or None
    )
    ctx.storage.audit.record(now, ctx.incoming.userid, "resource.recommend", resource.code)
    ids = ctx.storage.roster.descendants(resource.alliance_id)
    lines = [f"【资源推荐 {resource.code}】[{resource.kind}]{resource.title}"]
    lines.append(_where(ctx, resource))
    if resource.tags:
        lines.append(" ".join(f"#{tag}" for tag in resource.tags))
    if resource.recommend_note:
        lines.append(f"推荐语：{resource.recommend_note}")
    lines.append(f"——{member.name}。更多资源请发送「资源」或「资源 关键词」。")
    groups = len(ctx.storage.chats.for_alliances(ids))
    return [
        Broadcast(text="\n".join(lines), alliance_ids=ids, dedup_key=f"resource:{resource.id}"),
        Reply(text=f"已推荐资源 {resource.code}，推送到 {groups} 个群。", private=True),
    ]
