"""How the bot logs: plain lines or one JSON object per line, each tagged with the inbox id
of the message being processed.

The pipeline sets `INBOX_ID` while it handles a message (`processing_message`); every log
record made meanwhile, in any module and in tasks started from there, carries that id, so one
message's lines can be found among thousands. A ContextVar is task-local, not global state.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

INBOX_ID: ContextVar[int | None] = ContextVar("inbox_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(inbox)s: %(message)s"


@contextlib.contextmanager
def processing_message(inbox_id: int) -> Iterator[None]:
    """Tag the log records made inside the block with `inbox_id`."""
    token = INBOX_ID.set(inbox_id)
    try:
        yield
    finally:
        INBOX_ID.reset(token)


class InboxIdFilter(logging.Filter):
    """Copies the current inbox id onto each record (`record.inbox_id`, None outside a message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        inbox_id = INBOX_ID.get()
        record.inbox_id = inbox_id
        record.inbox = f" [inbox {inbox_id}]" if inbox_id is not None else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, inbox_id when known, and
    the traceback as `exc` when there is one. Messages are our own log texts, which never
    contain secrets (see the senders' and the access log's redaction)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        inbox_id = getattr(record, "inbox_id", None)
        if inbox_id is not None:
            entry["inbox_id"] = inbox_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def log_handler(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    """A stream handler (stderr by default) in `log_format` ("text" or "json")."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(InboxIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    return handler


def log_level(configured: str | None, *, verbose: bool, service: bool) -> int:
    """-v wins; then JIAOYAN_LOG_LEVEL; else INFO for a service (its log is its only voice
    under systemd or Docker) and WARNING for a command."""
    if verbose:
        return logging.DEBUG
    if configured:
        return logging.getLevelNamesMapping()[configured]
    return logging.INFO if service else logging.WARNING


def configure_logging(
    log_format: str,
    configured_level: str | None,
    *,
    verbose: bool = False,
    service: bool = False,
    stream: TextIO | None = None,
) -> None:
    """Set up the root logger at the start of a command. Like `logging.basicConfig`, it leaves
    a root logger alone that already has someone else's handlers (a host such as pytest)."""
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if getattr(handler, _OURS, False)]
    if len(ours) != len(root.handlers):
        return
    for handler in ours:
        root.removeHandler(handler)
    handler = log_handler(log_format, stream)
    setattr(handler, _OURS, True)
    root.addHandler(handler)
    root.setLevel(log_level(configured_level, verbose=verbose, service=service))


_OURS = "_jiaoyan_handler"
