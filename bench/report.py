"""Collecting figures as benchmarks produce them, printing them, and writing them out."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass
class Figure:
    section: str
    name: str
    value: str
    target: str = ""
    ok: bool | None = None
    command: str = ""


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        section: str,
        name: str,
        value: str,
        *,
        target: str = "",
        ok: bool | None = None,
        command: str = "",
    ) -> None:
        figure = Figure(section, name, value, target, ok, command)
        self.figures.append(figure)
        mark = "" if ok is None else ("  [ok]" if ok else "  [MISSED]")
        goal = f"  (target {target})" if target else ""
        print(f"  {name}: {value}{goal}{mark}", flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def markdown(self) -> str:
        lines = [f"Machine: {machine()}", ""]
        section = None
        # One table per section, in the order sections first appear (a bench may add to
        # two sections in turn, e.g. province: SQLite and PostgreSQL).
        order = {name: i for i, name in reversed(list(enumerate(f.section for f in self.figures)))}
        for f in sorted(self.figures, key=lambda f: order[f.section]):
            if f.section != section:
                section = f.section
                lines += [
                    "",
                    f"### {section}",
                    "",
                    "| figure | value | target | |",
                    "|---|---|---|---|",
                ]
            mark = "" if f.ok is None else ("met" if f.ok else "**missed**")
            lines.append(f"| {f.name} | {f.value} | {f.target} | {mark} |")
        commands = sorted({f.command for f in self.figures if f.command})
        if commands:
            lines += ["", "Load commands:", ""] + [f"    {c}" for c in commands]
        if self.notes:
            lines += ["", "Notes:", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "last-run.json").write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "figures": [asdict(f) for f in self.figures],
                    "notes": self.notes,
                },
                ensure_ascii=False,
                indent=1,
            ),
            encoding="utf-8",
        )
        path = directory / "last-run.md"
        path.write_text(self.markdown(), encoding="utf-8")
        return path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    return (
        f"{os.cpu_count()} CPU ({cpu_model()}), Python {sys.version.split()[0]}, "
        f"{platform.system()} {platform.release()}, {datetime.now():%Y-%m-%d %H:%M}"
    )
