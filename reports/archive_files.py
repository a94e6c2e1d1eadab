"""Where 成长档案 files made in chat are kept, how they are named, and who may download them.

Files sit beside the 导出 workbooks (`exports_dir`) as m<requester id>-<member id>_<local
time>[-n].xlsx (and .html): the download link serves a file only to the person who asked
for it, and only while they may still read that member's archive.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

ARCHIVE_FILE = re.compile(r"^m(\d+)-(\d+)_(\d{8}-\d{6})(?:-\d+)?\.(xlsx|html)$")
KEEP_ARCHIVES = timedelta(days=2)  # longer than a link lives
_FILE_SAFE = re.compile(r"[^\w\u4e00-\u9fff-]+")


def archive_stem(
    folder: Path, requester_id: int, member_id: int, now: datetime, zone: tzinfo
) -> str:
    """A name (without suffix) no file in `folder` has yet."""
    stamp = now.astimezone(zone).strftime("%Y%m%d-%H%M%S")
    stem = f"m{requester_id}-{member_id}_{stamp}"
    number = 2
    while any((folder / f"{stem}{suffix}").exists() for suffix in (".xlsx", ".html")):
        stem = f"m{requester_id}-{member_id}_{stamp}-{number}"
        number += 1
    return stem


def download_name(member_name: str, made: datetime, suffix: str) -> str:
    """王芳-成长档案-20261127.xlsx"""
    return f"{_FILE_SAFE.sub('_', member_name)}-成长档案-{made:%Y%m%d}{suffix}"


def prune_archives(folder: Path, now: datetime, zone: tzinfo) -> None:
    """Delete archives older than KEEP_ARCHIVES (by the time in their name: the bot's clock)."""
    if not folder.is_dir():
        return
    cutoff = (now - KEEP_ARCHIVES).astimezone(zone).replace(tzinfo=None)
    for old in folder.glob("m*_*"):
        matched = ARCHIVE_FILE.match(old.name)
        if matched and datetime.strptime(matched.group(3), "%Y%m%d-%H%M%S") < cutoff:
            old.unlink(missing_ok=True)
