"""The digest as scheduling and handlers receive it, independent of how it is built."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Digest(BaseModel):
    """A digest of one alliance for one period.

    `group_parts` go to the alliance's groups (each already within WeCom's markdown limit);
    `private_notes` map a leader's userid to a private text (names of the missing are never
    posted to a group); `chart_png` is an optional image for channels that can send one.
    """

    title: str
    group_parts: list[str]
    private_notes: dict[str, str] = Field(default_factory=dict)
    chart_png: bytes | None = None
