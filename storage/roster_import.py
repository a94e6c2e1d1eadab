"""Roster import: bring alliances, schools and members in line with a CSV/XLSX 名册.

All-or-nothing: the rows are checked against each other and against the database first, and
any problem means nothing is written. Members missing from the file are left alone (counted,
never deactivated), and a blank cell never erases what the database already knows.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from storage.db import transaction
from storage.models import ROLE_LABELS, Alliance, Member, Role, School, Tier
from storage.roster_file import (
    ACCOUNT,
    ALLIANCE,
    NAME,
    PARENT,
    ROLE,
    SCHOOL,
    TEAM,
    TIER,
    read_roster_file,
)
from storage.teams import TIER_HINT, parse_tier

if TYPE_CHECKING:
    from storage import Storage
    from storage.roster import RosterRepo
    from storage.teams import TeamsRepo

MAX_LISTED_CHANGES = 50
FIRST_DATA_ROW = 2  # the header is row 1, as Excel shows it


_ROLE_LOOKUP: dict[str, Role] = {
    **{label: role for role, label in ROLE_LABELS.items()},
    **{role.value: role for role in Role},
    "组长": Role.LEADER,
    "负责人": Role.LEADER,
    "协作体负责人": Role.LEADER,
    "老师": Role.TEACHER,
}
_ROLE_HINT = "管理员、教研员、联盟负责人（组长）或教师"

# WeCom: 1-64 bytes of letters, digits and "_-@.", starting with a letter or digit;
# uniqueness ignores case.
_ACCOUNT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-@.]{0,63}")
_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


class RosterProblem(BaseModel):
    row: int
    message: str


class RosterChange(BaseModel):
    row: int
    kind: Literal["add", "update"]
    name: str
    detail: str
    subject: Literal["member", "school", "alliance"] = "member"


class RosterReport(BaseModel):
    problems: list[RosterProblem] = Field(default_factory=list)
    changes: list[RosterChange] = Field(default_factory=list)
    unchanged: int = 0
    alliances_created: list[str] = Field(default_factory=list)
    schools_created: list[str] = Field(default_factory=list)
    not_in_file: int = 0  # active members the file does not mention; left untouched
    applied: bool = False
    teams_created: list[str] = Field(default_factory=list)
    # Not problems: the import goes ahead, but someone should know (e.g. namesakes at a school).
    warnings: list[str] = Field(default_factory=list)

    def render(self) -> str:
        """A Chinese summary for the CLI: headline, counts, problems, then some changes."""
        lines = [self._headline(), self._counts(), *self._created_lines()]
        if self.not_in_file:
            lines.append(f"名册中未出现的现有成员 {self.not_in_file} 人（保持不变，未停用）。")
        if self.problems:
            lines.append(f"发现 {len(self.problems)} 个问题，请修改名册后重新导入：")
            lines.extend(f"第 {p.row} 行：{p.message}" for p in self.problems)
        lines.extend(f"提醒：{warning}" for warning in self.warnings)
        lines.extend(self._change_lines())
        return "\n".join(lines)

    def _headline(self) -> str:
        if self.applied:
            return "名册导入完成。"
        if self.problems:
            return "名册有问题，未导入任何内容。"
        return "试运行：以下是将要进行的变更，尚未写入。"

    def _counts(self) -> str:
        members = [c for c in self.changes if c.subject == "member"]
        added = sum(1 for c in members if c.kind == "add")
        text = f"新增成员 {added} 人，更新 {len(members) - added} 人，无变化 {self.unchanged} 人"
        others = len(self.changes) - len(members)
        return text + (f"；调整联盟/学校 {others} 项。" if others else "。")

    def _created_lines(self) -> list[str]:
        lines = []
        if self.alliances_created:
            names = "、".join(self.alliances_created)
            lines.append(f"新建联盟 {len(self.alliances_created)} 个：{names}")
        if self.schools_created:
            names = "、".join(self.schools_created[:30])
            more = "等" if len(self.schools_created) > 30 else ""
            lines.append(f"新建学校 {len(self.schools_created)} 所：{names}{more}")
        if self.teams_created:
            names = "、".join(self.teams_created[:30])
            more = "等" if len(self.teams_created) > 30 else ""
            lines.append(f"新建团队 {len(self.teams_created)} 个：{names}{more}")
        return lines

    def _change_lines(self) -> list[str]:
        if not self.changes:
            return []
        lines = ["变更明细：" if self.applied else "将要进行的变更："]
        for change in self.changes[:MAX_LISTED_CHANGES]:
            verb = "新增" if change.kind == "add" else "更新"
            lines.append(f"第 {change.row} 行 {verb} {change.name}：{change.detail}")
        hidden = len(self.changes) - MAX_LISTED_CHANGES
        if hidden > 0:
            lines.append(f"……另有 {hidden} 项未列出")
        return lines


# parsing rows ----------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    number: int
    name: str
    school: str
    alliance: str
    parent: str
    account: str
    role_text: str
    role: Role | None  # None: the cell is empty (or unknown, which is a problem)
    teams: tuple[str, ...] = ()
    tier_text: str = ""
    tier: Tier | None = None


_TEAM_SEPARATORS = re.compile(r"[、,，;；/／]+")


def _clean(value: str | None) -> str:
    return " ".join((value or "").replace("\ufeff", "").split())


def _parse_row(number: int, raw: Mapping[str, str]) -> _Row:
    role_text = _clean(raw.get(ROLE))
    return _Row(
        number=number,
        name=_CJK_GAP.sub("", _clean(raw.get(NAME))),  # "张  三" aligned by spaces in Excel
        school=_clean(raw.get(SCHOOL)),
        alliance=_clean(raw.get(ALLIANCE)),
        parent=_clean(raw.get(PARENT)),
        account=unicodedata.normalize("NFKC", _clean(raw.get(ACCOUNT))).strip(),
        role_text=role_text,
        role=parse_role(role_text),
        teams=tuple(
            dict.fromkeys(
                name.strip()
                for name in _TEAM_SEPARATORS.split(_clean(raw.get(TEAM)))
                if name.strip()
            )
        ),
        tier_text=_clean(raw.get(TIER)),
        tier=parse_tier(_clean(raw.get(TIER))),
    )


def parse_role(text: str) -> Role | None:
    """A role as people write it (教师, 组长, leader, …); None when empty or unknown."""
    folded = re.sub(r"\s", "", unicodedata.normalize("NFKC", text)).lower()
    return _ROLE_LOOKUP.get(folded)


# the database as it is -------------------------------------------------------


@dataclass
class _Snapshot:
    """Everything the planner compares against, read once inside the transaction."""

    alliances: dict[str, Alliance]
    alliance_names: dict[int, str]
    schools: dict[str, School]
    members: list[Member]
    by_account: dict[str, Member]
    by_name_school: dict[tuple[str, str | None], list[Member]]
    tiers: dict[int, Tier] = field(default_factory=dict)
    teams_of: dict[int, list[str]] = field(default_factory=dict)
    team_names: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, roster: RosterRepo, teams: TeamsRepo | None = None) -> _Snapshot:
        alliances = roster.alliances()
        members = roster.all_members()
        by_name_school: dict[tuple[str, str | None], list[Member]] = {}
        for member in members:
            by_name_school.setdefault((member.name, member.school_name), []).append(member)
        return cls(
            alliances={a.name: a for a in alliances},
            alliance_names={a.id: a.name for a in alliances},
            schools={s.name: s for s in roster.schools()},
            members=members,
            by_account={m.userid.casefold(): m for m in members if m.userid},
            by_name_school=by_name_school,
            tiers=teams.tiers() if teams is not None else {},
            teams_of=teams.team_names_of() if teams is not None else {},
            team_names={t.name for t in teams.all()} if teams is not None else set(),
        )

    def alliance_name(self, alliance_id: int | None) -> str | None:
        return self.alliance_names.get(alliance_id) if alliance_id is not None else None

    def named(self, name: str, school: str | None) -> list[Member]:
        """Members with this name and school; active ones win over deactivated ones."""
        found = self.by_name_school.get((name, school), [])
        active = [m for m in found if m.active]
        return active or found


# planning --------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    name: str
    school: str | None
    alliance: str | None
    userid: str | None
    role: Role
    tier: Tier | None = None
    teams: tuple[str, ...] = ()  # teams to join; memberships the file omits are kept


@dataclass(frozen=True)
class _MemberPlan:
    row: int
    existing: Member | None
    target: _Target


@dataclass
class _Plan:
    problems: list[RosterProblem] = field(default_factory=list)
    changes: list[RosterChange] = field(default_factory=list)
    members: list[_MemberPlan] = field(default_factory=list)
    unchanged: int = 0
    alliances_created: list[str] = field(default_factory=list)
    schools_created: list[str] = field(default_factory=list)
    parents: dict[str, str] = field(default_factory=dict)
    school_alliances: dict[str, str] = field(default_factory=dict)
    not_in_file: int = 0
    teams_created: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def report(self, *, applied: bool) -> RosterReport:
        return RosterReport(
            problems=sorted(self.problems, key=lambda p: p.row),
            changes=self.changes,
            unchanged=self.unchanged,
            alliances_created=self.alliances_created,
            schools_created=self.schools_created,
            not_in_file=self.not_in_file,
            applied=applied,
            teams_created=self.teams_created,
            warnings=self.warnings,
        )


class _Planner:
    """Works out, without writing, what the file means for the database and what is wrong."""

    def __init__(self, snapshot: _Snapshot, rows: list[_Row]) -> None:
        self._snap = snapshot
        self._rows = rows
        self._plan = _Plan()
        self._school_rows: dict[str, tuple[str, int]] = {}  # school -> (alliance, first row)
        self._parent_rows: dict[str, tuple[str, int]] = {}  # alliance -> (parent, first row)
        self._claimed: dict[int, int] = {}  # member id -> row that matched it

    def run(self) -> _Plan:
        for row in self._rows:
            self._check_row(row)
        self._check_duplicates()
        self._collect_schools()
        self._collect_parents()
        self._check_cycles()
        self._plan_created()
        self._plan_moves()
        for row in self._rows:
            if row.name:
                self._plan_member(row)
        self._plan.not_in_file = sum(
            1 for m in self._snap.members if m.active and m.id not in self._claimed
        )
        self._warn_namesakes()
        return self._plan

    def _warn_namesakes(self) -> None:
        """Two active people of one name at one school after the import: 代签 and 我是 then
        need their account (or the bot lists both), so the report says so."""
        kept = [
            (m.name, m.school_name)
            for m in self._snap.members
            if m.active and m.school_name and m.id not in self._claimed
        ]
        planned = [(p.target.name, p.target.school) for p in self._plan.members if p.target.school]
        counts = Counter(kept + planned)
        for (name, school), count in sorted(counts.items(), key=lambda kv: kv[0]):
            if count > 1:
                self._plan.warnings.append(
                    f"{school} 有 {count} 位「{name}」，代签时请写企业微信账号区分。"
                )

    def _problem(self, row: int, message: str) -> None:
        self._plan.problems.append(RosterProblem(row=row, message=message))

    # checks on the file alone ----------------------------------------------
    def _check_row(self, row: _Row) -> None:
        if not row.name:
            self._problem(row.number, "姓名为空。")
        if row.role_text and row.role is None:
            self._problem(row.number, f"无法识别的角色「{row.role_text}」，请填{_ROLE_HINT}。")
        if row.account and not _ACCOUNT_PATTERN.fullmatch(row.account):
            self._problem(
                row.number,
                f"企业微信账号「{row.account}」格式不对：只能由字母、数字和 _-@. 组成，"
                "以字母或数字开头，最长 64 位。",
            )
        if row.parent and not row.alliance:
            self._problem(row.number, f"填写了上级联盟「{row.parent}」，但没有填写联盟。")
        if row.tier_text and row.tier is None:
            self._problem(row.number, f"无法识别的梯队「{row.tier_text}」，请填{TIER_HINT}。")
        for team in row.teams:
            if len(team) > 30:
                self._problem(row.number, f"团队名称「{team[:30]}…」太长，请控制在 30 字以内。")

    def _check_duplicates(self) -> None:
        accounts: dict[str, int] = {}
        people: dict[tuple[str, str], _Row] = {}
        for row in self._rows:
            if row.account:
                first = accounts.setdefault(row.account.casefold(), row.number)
                if first != row.number:
                    self._problem(row.number, f"企业微信账号「{row.account}」与第 {first} 行重复。")
            if not row.name:
                continue
            earlier = people.setdefault((row.name, row.school), row)
            if earlier is not row and not (earlier.account and row.account):
                self._problem(
                    row.number,
                    f"与第 {earlier.number} 行的姓名、学校相同：如是同一人请删去一行，"
                    "如是两位同名老师请都填写企业微信账号。",
                )

    def _collect_schools(self) -> None:
        for row in self._rows:
            if not (row.school and row.alliance):
                continue
            alliance, first = self._school_rows.setdefault(row.school, (row.alliance, row.number))
            if alliance != row.alliance:
                self._problem(
                    row.number,
                    f"学校「{row.school}」在第 {first} 行属于「{alliance}」，"
                    f"这里却是「{row.alliance}」；一所学校只能属于一个联盟。",
                )

    def _collect_parents(self) -> None:
        for row in self._rows:
            if not (row.parent and row.alliance):
                continue
            parent, first = self._parent_rows.setdefault(row.alliance, (row.parent, row.number))
            if parent != row.parent:
                self._problem(
                    row.number,
                    f"联盟「{row.alliance}」的上级在第 {first} 行是「{parent}」，"
                    f"这里却是「{row.parent}」。",
                )

    def _check_cycles(self) -> None:
        parents = {
            a.name: self._snap.alliance_name(a.parent_id) for a in self._snap.alliances.values()
        }
        parents.update({child: parent for child, (parent, _) in self._parent_rows.items()})
        for child, (parent, row) in self._parent_rows.items():
            chain = [child]
            current: str | None = parent
            while current is not None and current not in chain:
                chain.append(current)
                current = parents.get(current)
            if current == child:
                self._problem(row, f"上级联盟形成了循环：{' → '.join([*chain, child])}。")

    # alliances and schools -------------------------------------------------
    def _plan_created(self) -> None:
        plan, snap = self._plan, self._snap
        for row in self._rows:
            for name in (row.parent, row.alliance):
                if name and name not in snap.alliances and name not in plan.alliances_created:
                    plan.alliances_created.append(name)
            school = row.school
            if school and school not in snap.schools and school not in plan.schools_created:
                plan.schools_created.append(school)
            for team in row.teams:
                if team not in snap.team_names and team not in plan.teams_created:
                    plan.teams_created.append(team)

    def _plan_moves(self) -> None:
        """Existing alliances that get a new parent and schools that change alliance."""
        plan, snap = self._plan, self._snap
        plan.parents = {child: parent for child, (parent, _) in self._parent_rows.items()}
        plan.school_alliances = {school: a for school, (a, _) in self._school_rows.items()}
        for child, (parent, number) in self._parent_rows.items():
            existing = snap.alliances.get(child)
            old = snap.alliance_name(existing.parent_id) if existing else parent
            if old != parent:
                detail = f"上级联盟 {old or '无'} → {parent}"
                self._structure_change(number, child, "alliance", detail)
        for school, (alliance, number) in self._school_rows.items():
            found = snap.schools.get(school)
            old = snap.alliance_name(found.alliance_id) if found else alliance
            if old != alliance:
                detail = f"学校所属联盟 {old or '无'} → {alliance}"
                self._structure_change(number, school, "school", detail)

    def _structure_change(
        self, row: int, name: str, subject: Literal["school", "alliance"], detail: str
    ) -> None:
        self._plan.changes.append(
            RosterChange(row=row, kind="update", name=name, detail=detail, subject=subject)
        )

    # members ---------------------------------------------------------------
    def _plan_member(self, row: _Row) -> None:
        existing = self._match(row)
        if existing is not None:
            first = self._claimed.setdefault(existing.id, row.number)
            if first != row.number:
                self._problem(row.number, f"与第 {first} 行对应的是同一位成员「{existing.name}」。")
        target = self._target(row, existing)
        self._check_target(row.number, target)
        self._plan.members.append(_MemberPlan(row=row.number, existing=existing, target=target))
        self._record_member_change(row.number, existing, target)

    def _match(self, row: _Row) -> Member | None:
        """By account when the row has one; else (or for a new account) by name and school."""
        candidates = self._snap.named(row.name, row.school or None)
        if row.account:
            owner = self._snap.by_account.get(row.account.casefold())
            if owner is not None:
                self._check_same_person(row, owner)
                return owner
            candidates = [m for m in candidates if not m.userid]
        if len(candidates) > 1:
            self._problem(
                row.number,
                f"系统中有 {len(candidates)} 位「{row.name}（{row.school or '无学校'}）」，"
                "请填写企业微信账号以区分。",
            )
            return None
        return candidates[0] if candidates else None

    def _check_same_person(self, row: _Row, owner: Member) -> None:
        """A changed name or a changed school is an update; both changed means a wrong account."""
        if owner.name != row.name and row.school and owner.school_name != row.school:
            self._problem(
                row.number,
                f"企业微信账号「{row.account}」已属于 {owner.name}（{owner.school_name or '无学校'}），"
                f"与本行的 {row.name}（{row.school}）不是同一人，请核对账号。",
            )

    def _target(self, row: _Row, existing: Member | None) -> _Target:
        """The member as the file wants them; blank cells keep what the database has."""
        school = row.school or (existing.school_name if existing else None)
        return _Target(
            name=row.name,
            school=school,
            alliance=self._target_alliance(row, existing, school),
            userid=_target_account(row.account, existing),
            role=row.role or (existing.role if existing else Role.TEACHER),
            tier=row.tier or (self._snap.tiers.get(existing.id) if existing else None),
            teams=row.teams,
        )

    def _target_alliance(
        self, row: _Row, existing: Member | None, school: str | None
    ) -> str | None:
        if row.alliance:
            return row.alliance
        if school in self._school_rows:
            return self._school_rows[school][0]
        found = self._snap.schools.get(school) if school else None
        if found is not None and found.alliance_id is not None:
            return self._snap.alliance_name(found.alliance_id)
        return self._snap.alliance_name(existing.alliance_id) if existing else None

    def _check_target(self, row: int, target: _Target) -> None:
        if target.role == Role.TEACHER and not target.school:
            self._problem(row, "教师必须填写学校。")
        if target.role in (Role.TEACHER, Role.LEADER) and not target.alliance:
            self._problem(row, f"{target.role.label}必须属于一个联盟，请填写联盟。")

    def _record_member_change(self, row: int, existing: Member | None, target: _Target) -> None:
        if existing is None:
            detail = _describe_new(target)
            self._plan.changes.append(
                RosterChange(row=row, kind="add", name=target.name, detail=detail)
            )
            return
        diffs = _member_diffs(existing, target, self._snap)
        if not diffs:
            self._plan.unchanged += 1
            return
        self._plan.changes.append(
            RosterChange(row=row, kind="update", name=existing.name, detail="；".join(diffs))
        )


def _target_account(account: str, existing: Member | None) -> str | None:
    """A blank cell keeps the stored account, and so does the same account in other letter case
    (WeCom ignores case; the stored spelling is the one messages arrive with)."""
    kept = existing.userid if existing else None
    if kept and (not account or account.casefold() == kept.casefold()):
        return kept
    return account or None


def _describe_new(target: _Target) -> str:
    parts = [target.role.label]
    if target.school:
        parts.append(f"学校 {target.school}")
    if target.alliance:
        parts.append(f"联盟 {target.alliance}")
    if target.userid:
        parts.append(f"账号 {target.userid}")
    if target.tier:
        parts.append(f"梯队 {target.tier.label}")
    if target.teams:
        parts.append(f"团队 {'、'.join(target.teams)}")
    return "，".join(parts)


def _member_diffs(existing: Member, target: _Target, snap: _Snapshot) -> list[str]:
    pairs = [
        ("姓名", existing.name, target.name),
        ("学校", existing.school_name, target.school),
        ("联盟", snap.alliance_name(existing.alliance_id), target.alliance),
        ("企业微信账号", existing.userid, target.userid),
        ("角色", existing.role.label, target.role.label),
    ]
    diffs = [f"{label} {old or '无'} → {new or '无'}" for label, old, new in pairs if old != new]
    old_tier = snap.tiers.get(existing.id)
    if target.tier != old_tier:
        before = old_tier.label if old_tier else "无"
        diffs.append(f"梯队 {before} → {target.tier.label if target.tier else '无'}")
    joined = [t for t in target.teams if t not in snap.teams_of.get(existing.id, [])]
    if joined:
        diffs.append(f"加入团队 {'、'.join(joined)}")
    if not existing.active:
        diffs.append("重新启用")
    return diffs


# applying --------------------------------------------------------------------


class _Resolver:
    """Names to ids, creating alliances and schools on first use."""

    def __init__(self, roster: RosterRepo, at: datetime) -> None:
        self._roster = roster
        self._at = at
        self._alliances: dict[str, int] = {}
        self._schools: dict[str, int] = {}

    def alliance(self, name: str | None, parent: str | None = None) -> int | None:
        if name is None:
            return None
        parent_id = self.alliance(parent) if parent else None
        if name not in self._alliances or parent_id is not None:
            found = self._roster.ensure_alliance(name, at=self._at, parent_id=parent_id)
            self._alliances[name] = found.id
        return self._alliances[name]

    def school(self, name: str | None, alliance: str | None = None) -> int | None:
        if name is None:
            return None
        alliance_id = self.alliance(alliance)
        if name not in self._schools or alliance_id is not None:
            self._schools[name] = self._roster.ensure_school(name, alliance_id).id
        return self._schools[name]


def _apply(storage: Storage, plan: _Plan, at: datetime) -> None:
    resolve = _Resolver(storage.roster, at)
    for name in plan.alliances_created:
        resolve.alliance(name)
    for child, parent in plan.parents.items():
        resolve.alliance(child, parent)
    for school, alliance in plan.school_alliances.items():
        resolve.school(school, alliance)
    teams: dict[str, int] = {}
    for member in plan.members:
        member_id = _apply_member(storage.roster, member, resolve, at)
        _apply_profile(storage.teams, member_id, member.target, resolve, teams, at)
    added = sum(1 for c in plan.changes if c.kind == "add")
    storage.audit.record(
        at,
        None,
        "roster.import",
        f"added={added} changes={len(plan.changes)} rows={len(plan.members)}",
    )


def _apply_member(roster: RosterRepo, plan: _MemberPlan, resolve: _Resolver, at: datetime) -> int:
    """Create or update one member; returns their id."""
    target = plan.target
    school_id = resolve.school(target.school)
    alliance_id = resolve.alliance(target.alliance)
    existing = plan.existing
    if existing is None:
        return roster.add_member(
            target.name,
            at=at,
            role=target.role,
            school_id=school_id,
            alliance_id=alliance_id,
            userid=target.userid,
        ).id
    wanted: dict[str, object] = {
        "name": target.name,
        "school_id": school_id,
        "alliance_id": alliance_id,
        "userid": target.userid,
        "role": target.role,
        "active": True,
    }
    fields = {key: value for key, value in wanted.items() if getattr(existing, key) != value}
    if fields:
        roster.update_member(existing.id, **fields)
    return existing.id


def _apply_profile(
    teams: TeamsRepo,
    member_id: int,
    target: _Target,
    resolve: _Resolver,
    known: dict[str, int],
    at: datetime,
) -> None:
    """梯队 and team memberships; a team first named in the file is based at that row's school."""
    if target.tier is not None:
        teams.set_tier(member_id, target.tier)
    for name in target.teams:
        if name not in known:
            team = teams.named(name) or teams.create(
                name,
                at=at,
                alliance_id=resolve.alliance(target.alliance),
                school_id=resolve.school(target.school),
            )
            known[name] = team.id
        teams.add_members(known[name], [member_id], at=at)


# entry points ----------------------------------------------------------------


def import_roster(
    storage: Storage,
    rows: Sequence[Mapping[str, str]],
    *,
    at: datetime,
    dry_run: bool,
    first_row: int = FIRST_DATA_ROW,
) -> RosterReport:
    """Check and (unless dry_run or any problem) apply the rows in one transaction.

    `rows` are keyed by the canonical columns (姓名, 学校, 联盟, 企业微信账号, 角色, 上级联盟, 团队, 梯队);
    rows[i] is spreadsheet row `first_row + i`. Blank rows are skipped.
    """
    parsed = [
        _parse_row(first_row + index, raw)
        for index, raw in enumerate(rows)
        if any(_clean(value) for value in raw.values())
    ]
    with transaction(storage.db.conn, immediate=not dry_run) as tx:
        plan = _Planner(_Snapshot.load(storage.roster, storage.teams), parsed).run()
        if dry_run or plan.problems:
            tx.rollback()
            return plan.report(applied=False)
        _apply(storage, plan, at)
    return plan.report(applied=True)


def import_roster_file(
    storage: Storage, path: Path, *, at: datetime, dry_run: bool
) -> RosterReport:
    """Read and import a CSV/XLSX roster; RosterFileError if the file itself is unusable."""
    return import_roster(storage, read_roster_file(path), at=at, dry_run=dry_run)
