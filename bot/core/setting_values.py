"""Settings by their environment names (WECOM_CORP_ID, ...), as `check` and the channel
statuses name them to administrators."""

from __future__ import annotations

from typing import get_args

from pydantic import SecretStr

from bot.core.settings import Settings


def _field_names() -> dict[str, str]:
    """Env name (the field's alias) to field name, e.g. WECOM_CORP_ID -> wecom_corp_id."""
    return {info.alias or name: name for name, info in Settings.model_fields.items()}


def setting_value(settings: Settings, name: str) -> str:
    """The value of the setting called `name` (its env name), secrets unwrapped, "" if unset."""
    value = getattr(settings, _field_names()[name])
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return "" if value is None else str(value).strip()


def is_secret(name: str) -> bool:
    """Whether the setting holds a secret, which may only be shown masked."""
    annotation = Settings.model_fields[_field_names()[name]].annotation
    return annotation is SecretStr or SecretStr in get_args(annotation)
