"""The bot's Prometheus metrics (`/metrics`), one registry per App.

Counters and histograms are updated where things happen (the pipeline counts callbacks, the
outbox worker times sends, the scheduler counts reminders); queue sizes are read from the
database at scrape time by `QueueCollector`, so they are right for every process sharing the
database and cost nothing between scrapes. Nothing is registered in prometheus_client's global
default registry: two Apps in one process (tests, the console beside a benchmark) never mix.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from inspect import isawaitable
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Sends are HTTP calls to WeCom or frames on the long connection: tens of ms to seconds.
SEND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A digest reads a week of activity and may draw a chart in a child process.
DIGEST_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

T = TypeVar("T")


@dataclass(frozen=True)
class QueueCounts:
    """What the queues hold right now (`storage.Storage.queue_counts`)."""

    inbox_backlog: int  # received, not yet processed
    outbox_pending: int
    outbox_failed: int  # given up on
    outbox_retrying: int  # pending after at least one failed attempt


class QueueCollector(Collector):
    """Gauges computed at scrape time from the database (a few COUNT queries)."""

    def __init__(self, read: Callable[[], QueueCounts]) -> None:
        self._read = read

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Without describe() the registry would call collect() (the database) on register.
        yield from self._families(None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._families(self._read())

    @staticmethod
    def _families(counts: QueueCounts | None) -> Iterator[GaugeMetricFamily]:
        inbox = GaugeMetricFamily(
            "jiaoyan_inbox_backlog", "Messages received and not yet processed."
        )
        outbox = GaugeMetricFamily(
            "jiaoyan_outbox_items", "Outbox items by status.", labels=["status"]
        )
        retrying = GaugeMetricFamily(
            "jiaoyan_outbox_retrying", "Pending outbox items that failed at least once."
        )
        if counts is not None:
            inbox.add_metric([], counts.inbox_backlog)
            outbox.add_metric(["pending"], counts.outbox_pending)
            outbox.add_metric(["failed"], counts.outbox_failed)
            retrying.add_metric([], counts.outbox_retrying)
        yield from (inbox, outbox, retrying)


class Metrics:
    """All metrics of one App, in their own registry."""

    def __init__(self, *, monotonic: Callable[[], float] = time.perf_counter) -> None:
        self.registry = CollectorRegistry()
        self.monotonic = monotonic
        self.callbacks = Counter(
            "jiaoyan_callbacks",
            "Incoming messages by channel and outcome (accepted, duplicate, rejected, error).",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.sends = Counter(
            "jiaoyan_sends",
            "Delivery attempts by channel and outcome (sent, retry, deferred, gave_up).",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.send_seconds = Histogram(
            "jiaoyan_send_seconds",
            "Time one send took, by channel (rate-limited attempts excluded).",
            ["channel"],
            buckets=SEND_BUCKETS,
            registry=self.registry,
        )
        self.wecom_errors = Counter(
            "jiaoyan_wecom_errors",
            "Sends WeCom refused, by errcode (docs/wecom-errors.md).",
            ["errcode"],
            registry=self.registry,
        )
        self.reminders = Counter(
            "jiaoyan_reminders",
            "Reminders, scheduled notices and digests by status (sent, skipped).",
            ["status"],
            registry=self.registry,
        )
        self.digest_seconds = Histogram(
            "jiaoyan_digest_build_seconds",
            "Time to build one digest (figures and chart).",
            buckets=DIGEST_BUCKETS,
            registry=self.registry,
        )

    def watch_queues(self, read: Callable[[], QueueCounts]) -> None:
        """Report the queues' sizes, read by `read()` at every scrape."""
        self.registry.register(QueueCollector(read))

    async def timed_digest(self, build: Callable[[], T | Awaitable[T]]) -> T:
        """Run a digest builder (plain or async) and record how long it took."""
        start = self.monotonic()
        try:
            result = build()
            if isawaitable(result):
                return await result
            return result
        finally:
            self.digest_seconds.observe(self.monotonic() - start)

    def render(self) -> bytes:
        """The Prometheus text exposition of everything."""
        return generate_latest(self.registry)
