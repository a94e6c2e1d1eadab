"""The leaders' read-only web dashboard, served by `jiaoyan-bot serve` under /reports/.

Every page lives under `/reports/<token>/`, where the token is a signed, expiring link
(`reports.links`) naming one alliance and one WeCom user. Each request re-checks the link
and that this user may still see this alliance's names (role and reach from
`bot.routing.permissions`); anything wrong gets a Chinese 403 page and no data. Pages only show the
token's alliance tree. They are plain HTML with inline CSS (no CDN: WeCom's built-in browser
may not reach one), responsive for phones, and never cached.

Wiring: `reports.dashboard.add_routes(web_app, storage, settings, clock)`.
"""

from __future__ import annotations

import mimetypes
import tempfile
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from bot.core.clock import Clock
from bot.core.settings import Settings
from bot.pipeline.files import FileRefused, FileStore, files_dir_for
from bot.routing.permissions import Action, effective_role, may, reaches, reads_archive
from bot.text.dates import Period, parse_period
from reports import text as fmt
from reports.archive_files import ARCHIVE_FILE
from reports.archive_files import download_name as archive_download_name
from reports.charts import FontNotFoundError, RateBar, TrendPoint
from reports.child_process import run_in_child
from reports.export import (
    EXPORT_FILE,
    ExportScope,
    download_name,
    export_workbook,
    exports_dir,
)
from reports.lesson_study import design_changes, study_rounds
from reports.links import (
    DASHBOARD_PREFIX,
    LinkClaims,
    LinkError,
    LinkProblem,
    dashboard_url,
    verify,
)
from reports.review_sheets import reviews_by_school
from reports.stats import (
    PeriodStats,
    period_stats,
    reflection_rate,
    signin_rate,
    weekly_trend,
)
from storage import Storage
from storage.attendance import NO_SCHOOL, SchoolCounts
from storage.models import Activity, Alliance, Evidence, EvidenceKind, Member

TREND_WEEKS = 8
SEARCH_LIMIT = 200
PERIOD_TABS = (("本周", "本周"), ("上周", "上周"), ("本月", "本月"), ("本学期", "本学期"))
DEFAULT_PERIOD = "本学期"
# Pictures shown in the browser; every other file is only ever downloaded.
_INLINE_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}
# The archive page embeds its font as a data: URL and prints itself; nothing else loads.
_ARCHIVE_PAGE_HEADERS = {
    **_SECURITY_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; font-src data:; style-src 'unsafe-inline'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
}
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def template_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True)
class Viewer:
    """Who opened a genuine link, and which alliance it is for."""

    claims: LinkClaims
    alliance: Alliance
    member: Member | None


class Dashboard:
    def __init__(self, storage: Storage, settings: Settings, clock: Clock) -> None:
        self._storage = storage
        self._settings = settings
        self._clock = clock
        self._templates = template_environment()

    # plumbing ---------------------------------------------------------------
    def _secret(self) -> str | None:
        secret = self._settings.dashboard_secret
        return secret.get_secret_value() if secret is not None else None

    def _page(self, name: str, status: int = 200, **context: Any) -> web.Response:
        html = self._templates.get_template(name).render(**context)
        return web.Response(
            text=html, status=status, content_type="text/html", headers=_SECURITY_HEADERS
        )

    def _refuse(self, heading: str, message: str) -> web.HTTPForbidden:
        page = self._page("error.html", 403, heading=heading, message=message)
        return web.HTTPForbidden(
            text=page.text, content_type="text/html", headers=_SECURITY_HEADERS
        )

    def _claims(self, request: web.Request) -> LinkClaims:
        """The claims of this request's genuine, unexpired link; a 403 page otherwise."""
        secret = self._secret()
        if not secret:
            raise self._refuse("网页看板未开启", "管理员还没有设置 JIAOYAN_DASHBOARD_SECRET。")
        try:
            claims = verify(secret, request.match_info["token"], self._clock.now())
        except LinkError as error:
            if error.problem is LinkProblem.EXPIRED:
                raise self._refuse(
                    "链接已过期", "为保护数据，看板链接只在一段时间内有效。"
                ) from None
            raise self._refuse("链接无效", "这个链接不完整或被改动过，无法打开。") from None
        return claims

    def _viewer(self, request: web.Request) -> Viewer:
        """The checked viewer of this request; raises a 403 page for anything else."""
        claims = self._claims(request)
        roster = self._storage.roster
        alliance = roster.alliance(claims.alliance_id)
        member = roster.member_by_userid(claims.userid)
        role = effective_role(member, claims.userid, frozenset(self._settings.admins))
        own_tree = (
            roster.descendants(member.alliance_id)
            if member is not None and member.alliance_id is not None
            else []
        )
        if (
            alliance is None
            or not may(role, Action.VIEW_NAMES)
            or not reaches(role, member, alliance, own_tree)
        ):
            raise self._refuse("无权查看", "你的账号目前没有查看这个联盟数据的权限。")
        return Viewer(claims=claims, alliance=alliance, member=member)

    def _zone(self, alliance: Alliance) -> tzinfo:
        return ZoneInfo(alliance.timezone) if alliance.timezone else self._settings.zone

    def _period(self, request: web.Request, zone: tzinfo) -> tuple[str, Period]:
        key = request.query.get("p", DEFAULT_PERIOD).strip()[:40] or DEFAULT_PERIOD
        now = self._clock.now().astimezone(zone)
        period = parse_period(key, now)
        if period is None:
            key = DEFAULT_PERIOD
            period = parse_period(key, now)
            assert period is not None
        return key, period

    def _common(self, viewer: Viewer, key: str, period: Period, page: str) -> dict[str, Any]:
        zone = self._zone(viewer.alliance)
        member = viewer.member
        who = f"{member.name}（{member.role.label}）" if member else viewer.claims.userid
        return {
            "alliance": viewer.alliance,
            "period": period,
            "period_key": key,
            "tabs": [{"key": k, "label": label} for k, label in PERIOD_TABS],
            "viewer": who,
            "page": page,
            "query": "",
            "expires": fmt.when(viewer.claims.expires_at, zone),
        }

    # pages ------------------------------------------------------------------
    async def root(self, request: web.Request) -> web.StreamResponse:
        self._viewer(request)
        raise web.HTTPFound(f"{DASHBOARD_PREFIX}/{request.match_info['token']}/")

    async def overview(self, request: web.Request) -> web.Response:
        viewer = self._viewer(request)
        zone = self._zone(viewer.alliance)
        key, period = self._period(request, zone)
        now = self._clock.now()
        queries = self._storage.reporting()
        current = period_stats(
            self._storage, viewer.alliance, period.start, period.end, now, queries
        )
        length = period.end - period.start
        previous = period_stats(
            self._storage, viewer.alliance, period.start - length, period.start, now, queries
        )
        total, before = current.total, previous.total
        summary = {
            "activities": len(current.rolls),
            "signed": total.signed,
            "counted": total.counted,
            "reflected": total.reflected,
            "late": total.late,
            "on_leave": total.on_leave,
            "signin": fmt.percent(signin_rate(total)),
            "reflection": fmt.percent(reflection_rate(total)),
            "signin_change": fmt.change(signin_rate(total), signin_rate(before)),
            "reflection_change": fmt.change(reflection_rate(total), reflection_rate(before)),
        }
        tree = self._storage.roster.descendants(viewer.alliance.id)
        reviews = reviews_by_school(self._storage, tree, period.start.date(), period.end.date())
        summary["observations"] = sum(s.counts.observations for s in reviews)
        summary["reviews"] = sum(s.counts.reviews for s in reviews)
        return self._page(
            "overview.html",
            **self._common(viewer, key, period, "./"),
            summary=summary,
            review_schools=reviews,
            schools=[_school_row(c) for c in current.schools],
            activities=self._activity_rows(current, zone),
            weeks=TREND_WEEKS,
            generated=fmt.when(now, zone),
        )

    def _activity_rows(self, current: PeriodStats, zone: tzinfo) -> list[dict[str, Any]]:
        schools = {s.id: s.name for s in self._storage.roster.schools()}
        rows = []
        for roll in reversed(current.rolls):
            activity = roll.activity
            total = SchoolCounts(school="合计")
            for counts in roll.by_school().values():
                total.add(counts)
            no_signin, no_reflection = roll.missing_signin(), roll.missing_reflection()
            rows.append(
                {
                    "code": activity.code,
                    "title": _activity_title(activity),
                    "when": fmt.when(activity.starts_at, zone),
                    "host": schools.get(activity.school_id or 0) or activity.place or "",
                    "signed": total.signed,
                    "reflected": total.reflected,
                    "counted": total.counted,
                    "signin": fmt.percent(signin_rate(total)),
                    "reflection": fmt.percent(reflection_rate(total)),
                    "missing_signin": _by_school(no_signin),
                    "missing_signin_count": len(no_signin),
                    "missing_reflection": _by_school(no_reflection),
                    "missing_reflection_count": len(no_reflection),
                }
            )
        return rows

    async def reflections(self, request: web.Request) -> web.Response:
        viewer = self._viewer(request)
        zone = self._zone(viewer.alliance)
        key, period = self._period(request, zone)
        query = " ".join(request.query.get("q", "").split())[:50]
        activities = {
            a.id: a
            for a in self._storage.activities.in_alliances(
                self._storage.roster.descendants(viewer.alliance.id),
                starts_from=period.start,
                starts_before=period.end,
                include_cancelled=True,
            )
        }
        total, hits = self._storage.reporting().search_reflections(
            list(activities), query, limit=SEARCH_LIMIT
        )
        rows = [
            {
                "name": hit.member_name,
                "school": hit.school_name or NO_SCHOOL,
                "activity": f"{activities[hit.reflection.activity_id].code} "
                + _activity_title(activities[hit.reflection.activity_id]),
                "when": fmt.when(hit.reflection.updated_at, zone),
                "version": hit.reflection.version,
                "body": highlight(hit.reflection.body, query),
                "files": [
                    (item.file.name, f"evidence/{item.id}")
                    for item in self._storage.evidence.of_record(
                        EvidenceKind.REFLECTION, hit.reflection.id
                    )
                ],
            }
            for hit in hits
        ]
        context = self._common(viewer, key, period, "reflections")
        context["query"] = query
        return self._page("reflections.html", **context, total=total, hits=rows)

    async def studies(self, request: web.Request) -> web.Response:
        """课例: every lesson study of the alliance's tree, its rounds and design changes."""
        viewer = self._viewer(request)
        zone = self._zone(viewer.alliance)
        key, period = self._period(request, zone)
        tree = self._storage.roster.descendants(viewer.alliance.id)
        studies = []
        for study in self._storage.lesson_studies.in_alliances(tree):
            rows = study_rounds(self._storage, study)
            studies.append(
                {
                    "name": study.name,
                    "rounds": [
                        {
                            "round": row.round,
                            "when": fmt.when(row.starts_at, zone),
                            "activity": f"{row.activity.code} {_activity_title(row.activity)}",
                            "teacher": row.teacher.name if row.teacher else "",
                            "signed": row.signed,
                            "reflected": row.reflected,
                            "reviews": len(row.reviews),
                        }
                        for row in rows
                    ],
                    "changes": design_changes(rows),
                }
            )
        context = self._common(viewer, key, period, "studies")
        return self._page("studies.html", **context, studies=studies)

    async def trend_png(self, request: web.Request) -> web.Response:
        viewer = self._viewer(request)
        zone = self._zone(viewer.alliance)
        points = weekly_trend(
            self._storage, viewer.alliance, self._clock.now(), zone, weeks=TREND_WEEKS
        )
        data = [TrendPoint(p.label, p.signin_rate, p.reflection_rate, p.activities) for p in points]
        title = f"{viewer.alliance.name} 近{TREND_WEEKS}周签到率与反思提交率"
        return await self._png("reports.charts:trend_chart", title, data)

    async def rates_png(self, request: web.Request) -> web.Response:
        viewer = self._viewer(request)
        zone = self._zone(viewer.alliance)
        _, period = self._period(request, zone)
        current = period_stats(
            self._storage, viewer.alliance, period.start, period.end, self._clock.now()
        )
        bars = [RateBar(c.school, signin_rate(c), reflection_rate(c)) for c in current.schools]
        title = f"{viewer.alliance.name} {period.label} 各校情况"
        return await self._png("reports.charts:rates_chart", title, bars)

    async def _png(self, chart: str, *args: Any) -> web.Response:
        """Drawn in a child process: matplotlib would otherwise stay in `serve` for good."""
        try:
            data = await run_in_child(chart, *args)
        except FontNotFoundError as error:
            return web.Response(
                text=str(error), status=503, content_type="text/plain", headers=_SECURITY_HEADERS
            )
        return web.Response(body=data, content_type="image/png", headers=_SECURITY_HEADERS)

    async def export(self, request: web.Request) -> web.Response:
        viewer = self._viewer(request)
        zone = self._zone(viewer.alliance)
        _, period = self._period(request, zone)
        base = dashboard_url(self._settings.public_url, request.match_info["token"])
        scope = ExportScope(
            alliance=viewer.alliance, start=period.start, end=period.end, zone=zone, links=base
        )
        now = self._clock.now()
        data = await self._build_export(scope, now)
        return web.Response(
            body=data,
            content_type=_XLSX,
            headers={**_SECURITY_HEADERS, **_attachment(download_name(scope, now))},
        )

    async def _build_export(self, scope: ExportScope, now: datetime) -> bytes:
        """Build the workbook in a child process on its own connection (a big alliance's
        rows would otherwise stay in this process's memory), or here for an in-memory DB."""
        path = self._storage.location
        with tempfile.TemporaryDirectory(prefix="jiaoyan-export-") as tmp:
            target = Path(tmp) / "export.xlsx"
            if path is None:  # an in-memory database exists only in this process
                export_workbook(self._storage, scope, target, now)
            else:
                await run_in_child(
                    "reports.export:export_workbook", scope, target, now, database=path
                )
            return target.read_bytes()

    async def file(self, request: web.Request) -> web.StreamResponse:
        """A workbook made by the chat command 导出, for the alliance of this link only."""
        viewer = self._viewer(request)
        name = request.match_info["name"]
        matched = EXPORT_FILE.match(name)
        folder = exports_dir(self._storage)
        if matched is None or int(matched.group(1)) != viewer.alliance.id or folder is None:
            raise self._refuse("文件不可用", "这个文件不属于本链接对应的联盟，或已被清理。")
        path = folder / name
        if not path.is_file():
            raise self._refuse("文件不可用", "文件已过期被清理，请重新发送「导出」。")
        zone = self._zone(viewer.alliance)
        scope = ExportScope(alliance=viewer.alliance, start=None, end=None, zone=zone)
        stamp = datetime.strptime(name.split("_", 1)[1][:15], "%Y%m%d-%H%M%S")
        return web.FileResponse(
            path,
            headers={
                **_SECURITY_HEADERS,
                **_attachment(download_name(scope, stamp.replace(tzinfo=zone))),
                "Content-Type": _XLSX,
            },
        )

    async def evidence(self, request: web.Request) -> web.StreamResponse:
        """A photo or file attached to a record of this link's alliance (附件)."""
        viewer = self._viewer(request)
        number = request.match_info["number"]
        item = self._storage.evidence.get(int(number)) if number.isdigit() else None
        if item is None or not self._evidence_visible(viewer.alliance, item):
            raise self._refuse("文件不可用", "这个附件不属于本链接对应的联盟，或已被删除。")
        store = FileStore(files_dir_for(self._settings.db))
        try:
            path = store.path_for_serving(item.file.path, executable=item.file.executable)
        except FileRefused:
            raise self._refuse("文件不可用", "这个附件已被清理或不能下载。") from None
        kind = mimetypes.guess_type(item.file.name)[0] or ""
        inline = kind in _INLINE_IMAGES
        disposition = "inline" if inline else "attachment"
        return web.FileResponse(
            path,
            headers={
                **_SECURITY_HEADERS,
                "Content-Type": kind if inline else "application/octet-stream",
                "Content-Disposition": f'{disposition}; filename="file"; '
                f"filename*=UTF-8''{quote(item.file.name)}",
            },
        )

    def _evidence_visible(self, alliance: Alliance, item: Evidence) -> bool:
        """Attached (not waiting) evidence of a record within this alliance's tree."""
        if item.record_id is None:
            return False
        storage = self._storage
        tree = storage.roster.descendants(alliance.id)
        owner: int | None = None
        if item.activity_id is not None:
            activity = storage.activities.get(item.activity_id)
            owner = activity.alliance_id if activity else None
        elif item.kind is EvidenceKind.NOTICE:
            notice = storage.notices.get(item.record_id)
            owner = notice.alliance_id if notice else None
        elif item.kind is EvidenceKind.FEEDBACK:
            answer = storage.evidence.feedback_request_of(item.record_id)
            request = storage.feedback.get(answer) if answer is not None else None
            owner = request.alliance_id if request else None
        return owner in tree

    async def archive(self, request: web.Request) -> web.StreamResponse:
        """A 成长档案 made in chat, only for whoever asked for it, while they may still read
        that member's archive (`permissions.reads_archive`)."""
        claims = self._claims(request)
        roster = self._storage.roster
        matched = ARCHIVE_FILE.match(request.match_info["name"])
        folder = exports_dir(self._storage)
        requester = roster.member_by_userid(claims.userid)
        subject = roster.member(int(matched.group(2))) if matched else None
        if (
            matched is None
            or folder is None
            or subject is None
            or requester is None
            or requester.id != int(matched.group(1))
        ):
            raise self._refuse("文件不可用", "这个文件不是为你生成的，或已被清理。")
        role = effective_role(requester, claims.userid, frozenset(self._settings.admins))
        alliance = roster.alliance(subject.alliance_id) if subject.alliance_id else None
        own_tree = roster.descendants(requester.alliance_id) if requester.alliance_id else []
        if not reads_archive(
            role, requester, subject.id, reaches(role, requester, alliance, own_tree)
        ):
            raise self._refuse("无权查看", "你的账号目前没有查看这位成员档案的权限。")
        path = folder / matched.group(0)
        if not path.is_file():
            raise self._refuse("文件不可用", "文件已过期被清理，请重新发送「我的档案」。")
        zone = self._zone(alliance) if alliance else self._settings.zone
        made = datetime.strptime(matched.group(3), "%Y%m%d-%H%M%S").replace(tzinfo=zone)
        if matched.group(4) == "html":  # the printable page, shown in the browser
            return web.FileResponse(
                path, headers={**_ARCHIVE_PAGE_HEADERS, "Content-Type": "text/html; charset=utf-8"}
            )
        name = archive_download_name(subject.name, made, ".xlsx")
        return web.FileResponse(
            path, headers={**_SECURITY_HEADERS, **_attachment(name), "Content-Type": _XLSX}
        )


def _attachment(filename: str) -> dict[str, str]:
    return {
        "Content-Disposition": f"attachment; filename=\"export.xlsx\"; filename*=UTF-8''{quote(filename)}"
    }


def _activity_title(activity: Activity) -> str:
    if activity.kind and activity.kind in activity.title:
        return f"「{activity.title}」"
    return f"{activity.kind}「{activity.title}」"


def _school_row(counts: SchoolCounts) -> dict[str, Any]:
    signin, reflection = signin_rate(counts), reflection_rate(counts)
    return {
        "name": counts.school,
        "signed": counts.signed,
        "reflected": counts.reflected,
        "counted": counts.counted,
        "late": counts.late,
        "on_leave": counts.on_leave,
        "signin": fmt.percent(signin),
        "reflection": fmt.percent(reflection),
        "signin_pct": None if signin is None else round(signin * 100),
        "reflection_pct": None if reflection is None else round(reflection * 100),
        "low": signin is not None and signin < 0.6,
    }


def _by_school(people: list[Member]) -> list[tuple[str, list[str]]]:
    grouped: dict[str, list[str]] = {}
    for person in people:
        grouped.setdefault(person.school_name or NO_SCHOOL, []).append(person.name)
    return sorted(grouped.items())


def highlight(text: str, query: str) -> Markup:
    """The text, HTML-escaped, with each occurrence of `query` wrapped in <mark>."""
    if not query:
        return Markup(escape(text))
    pieces = text.split(query)
    marked = Markup("<mark>") + escape(query) + Markup("</mark>")
    return marked.join(escape(piece) for piece in pieces)
