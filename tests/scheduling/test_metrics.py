"""`/metrics` counts what the scheduler did: reminders sent and skipped, digest build time."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from .conftest import GROUP, HarnessFactory, local


def samples(metrics_text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics_text.decode())
        for sample in family.samples
    }


def value(metrics_text: bytes, name: str, **labels: str) -> float:
    return samples(metrics_text).get((name, tuple(sorted(labels.items()))), 0.0)


async def test_reminders_sent_and_skipped_are_counted(make_harness: HarnessFactory) -> None:
    h = make_harness()
    await h.say("lead1", "发起活动 周四 14:30-16:30 集体备课")
    await h.advance(local("周四", "13:40"))  # the day-before and the 1 h reminder went out
    metrics = h.app.metrics
    assert value(metrics.render(), "jiaoyan_reminders_total", status="sent") == 2
    assert value(metrics.render(), "jiaoyan_reminders_total", status="skipped") == 0

    await h.say("lead1", "修改活动 A1 周四 15:00")  # its new 1 h reminder: already reminded
    await h.advance(local("周四", "16:00"))

    assert value(metrics.render(), "jiaoyan_reminders_total", status="skipped") == 1
    assert value(metrics.render(), "jiaoyan_reminders_total", status="sent") == 2


async def test_a_digest_records_its_build_time(make_harness: HarnessFactory) -> None:
    h = make_harness(start=local("周三", "10:00"))
    await h.say("lead1", "发起活动 周三 14:00-16:00 集体备课 地点:东部一小")
    before = value(h.app.metrics.render(), "jiaoyan_digest_build_seconds_count")

    answer = await h.say("lead1", "周报 现在", chat=GROUP)

    assert any("教研周报" in s.message.text for s in answer)
    assert before == 0
    assert value(h.app.metrics.render(), "jiaoyan_digest_build_seconds_count") == 1
