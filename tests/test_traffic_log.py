"""The traffic summary is written by itself once its window has passed."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.pipeline.traffic_log import TrafficLog


async def test_a_busy_window_ends_with_one_summary_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="test.traffic")
    traffic = TrafficLog(logging.getLogger("test.traffic"), window=0)
    traffic.count("accepted")
    traffic.count("accepted")
    traffic.count("failed")
    assert caplog.records == []  # nothing until the window is over
    for _ in range(3):
        await asyncio.sleep(0)  # a zero-second window ends at the next loop turns
    assert [r.getMessage() for r in caplog.records] == [
        "messages in the last 0 s: 2 accepted, 1 failed"
    ]
