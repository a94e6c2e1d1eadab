"""What a deployment installs: the locked dependencies match pyproject, with hashes, and the
Docker image installs exactly them (through a mirror when asked)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = (
    "uv pip compile pyproject.toml --extra postgres --universal --python-version 3.11 "
    "--generate-hashes -o requirements.lock"
)


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    """Package name -> the text of its entry (pin, markers, hashes) in requirements.lock."""
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    entries: dict[str, str] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text):
        found = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==", entry)
        if found:
            entries[normalized(found.group(1))] = (
                entries.get(normalized(found.group(1)), "") + entry
            )
    return entries


def test_every_dependency_is_locked_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # The image installs the [postgres] extra too: JIAOYAN_DB may be a postgresql:// URL.
    declared = [*project["dependencies"], *project["optional-dependencies"]["postgres"]]
    wanted = {normalized(re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0]) for d in declared}
    entries = locked()
    missing = sorted(wanted - entries.keys())
    assert missing == [], f"requirements.lock is stale; regenerate it: {REGENERATE}"
    assert all("--hash=sha256:" in entry for entry in entries.values())
    # What the lean install left out stays out.
    assert not {"jieba", "pylopdf-fonts-zh-cn"} & entries.keys()


def test_the_image_installs_the_lock_through_an_optional_mirror() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ARG PIP_INDEX_URL=", dockerfile, re.MULTILINE)
    assert "pip install --require-hashes --no-deps -r requirements.lock" in dockerfile
    assert "pip install --no-deps ." in dockerfile
