"""Files attached to a notice reach the notice's groups: with its text when it is published
(or when a scheduled one falls due), or at once when the author sends one afterwards.

Each file goes as its own group message whose text names it, so where a channel cannot carry
the file (a callback's response_url) the members still learn that there is one to ask for.
"""

from __future__ import annotations

from pathlib import Path, PurePath

from bot.core.messages import Attachment, AttachmentKind, Broadcast
from bot.pipeline.files import files_dir_for
from storage import Storage
from storage.models import Evidence, EvidenceKind, Notice

# WeCom's image messages take JPG and PNG; any other picture goes as a file.
_PICTURES = frozenset({".jpg", ".jpeg", ".png"})


def notice_audience(storage: Storage, notice: Notice) -> list[int] | None:
    """The alliances whose groups a notice goes to (None: every group)."""
    return None if notice.alliance_id is None else storage.roster.descendants(notice.alliance_id)


def notice_files(
    storage: Storage, notice: Notice, dedup_key: str, only: Evidence | None = None
) -> list[Broadcast]:
    """One group message per file attached to `notice` (just `only` when given)."""
    attached = [only] if only else storage.evidence.for_records(EvidenceKind.NOTICE, [notice.id])
    location = storage.location
    root = files_dir_for(location) if location is not None else None
    return [
        Broadcast(
            text=f"【通知 {notice.code} 附件】{evidence.file.name}",
            alliance_ids=notice_audience(storage, notice),
            dedup_key=f"{dedup_key}:file:{evidence.id}",
            attachment=_attachment(root, evidence) if root is not None else None,
        )
        for evidence in attached
    ]


def _attachment(root: Path, evidence: Evidence) -> Attachment:
    picture = PurePath(evidence.file.name.lower()).suffix in _PICTURES
    return Attachment(
        kind=AttachmentKind.IMAGE if picture else AttachmentKind.FILE,
        path=str(root / evidence.file.path),
        name=evidence.file.name,
    )
