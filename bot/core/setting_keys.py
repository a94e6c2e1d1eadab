"""Keys in `.env` or the environment that look like ours but are not: usually a typo
(`WECOM_BOT_SECERT`), which would otherwise be ignored without a word."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from bot.core.settings import Settings

OUR_PREFIXES = ("WECOM_", "JIAOYAN_")
# Settings of earlier versions that no longer do anything (docs/deploy.md, "升级").
RETIRED_KEYS = frozenset({"JIAOYAN_WORKER_PROCESS", "JIAOYAN_INTAKE_PROCESSES"})
DEFAULT_ENV_FILE = Path(".env")


@dataclass(frozen=True)
class UnknownKey:
    name: str
    where: str  # the .env file's path, or "环境变量"
    suggestion: str | None  # the known key it most likely means
    retired: bool = False  # a setting of an earlier version, safe to delete


def known_keys() -> frozenset[str]:
    """Every setting's environment name (the fields' aliases)."""
    return frozenset(info.alias or name for name, info in Settings.model_fields.items())


def env_file_keys(path: Path) -> list[str]:
    """The keys a .env file sets; none when it does not exist."""
    if not path.is_file():
        return []
    return list(dotenv_values(path, encoding="utf-8"))


def unknown_keys(
    env_file: Path | None, environ: Mapping[str, str], *, known: Iterable[str] | None = None
) -> list[UnknownKey]:
    """Keys with our prefixes that no setting has, with the closest known key if one is near."""
    names = sorted(known if known is not None else known_keys())
    path = env_file or DEFAULT_ENV_FILE
    sources = [(str(path), env_file_keys(path)), ("环境变量", sorted(environ))]
    found: list[UnknownKey] = []
    seen: set[str] = set()
    for where, keys in sources:
        for key in keys:
            upper = key.upper()
            if not upper.startswith(OUR_PREFIXES) or upper in names or key in seen:
                continue
            seen.add(key)
            if upper in RETIRED_KEYS:
                found.append(UnknownKey(key, where, None, retired=True))
            else:
                found.append(UnknownKey(key, where, _closest(upper, names)))
    return found


def _closest(key: str, names: list[str]) -> str | None:
    """The known name `key` most likely misspells: compared after the shared prefix, so
    every JIAOYAN_ key is not "close" to every other one just by its prefix."""
    prefix = next(p for p in OUR_PREFIXES if key.startswith(p))
    tails = {name.removeprefix(prefix): name for name in names if name.startswith(prefix)}
    close = difflib.get_close_matches(key.removeprefix(prefix), list(tails), n=1, cutoff=0.6)
    return tails[close[0]] if close else None
