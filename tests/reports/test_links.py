"""Signed dashboard links: they expire, and any change makes them worthless."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.clock import FakeClock
from reports.links import LinkError, LinkProblem, dashboard_url, sign, verify

SECRET = "a-long-random-dashboard-secret-for-tests"
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_a_genuine_link_names_its_alliance_user_and_expiry() -> None:
    clock = FakeClock(T0)
    token = sign(SECRET, 7, "lead1", clock.now() + timedelta(hours=24))
    claims = verify(SECRET, token, clock.now())
    assert (claims.alliance_id, claims.userid) == (7, "lead1")
    assert claims.expires_at == T0 + timedelta(hours=24)


def test_it_expires_exactly_at_its_time() -> None:
    clock = FakeClock(T0)
    token = sign(SECRET, 7, "lead1", clock.now() + timedelta(hours=24))
    clock.advance(timedelta(hours=23, minutes=59, seconds=59))
    verify(SECRET, token, clock.now())
    clock.advance(timedelta(seconds=1))
    with pytest.raises(LinkError) as raised:
        verify(SECRET, token, clock.now())
    assert raised.value.problem is LinkProblem.EXPIRED


def test_every_single_character_change_is_rejected() -> None:
    token = sign(SECRET, 7, "lead1", T0 + timedelta(hours=1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index, char in enumerate(token):
        if char == ".":
            continue
        other = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
        tampered = token[:index] + other + token[index + 1 :]
        with pytest.raises(LinkError) as raised:
            verify(SECRET, tampered, T0)
        assert raised.value.problem is LinkProblem.INVALID, (index, tampered)


def test_a_forged_payload_with_a_longer_expiry_or_another_alliance_fails() -> None:
    import base64

    token = sign(SECRET, 7, "lead1", T0 + timedelta(hours=1))
    mac = token.split(".")[1]
    for payload in (f"v1|7|{int(T0.timestamp()) + 10**6}|lead1", "v1|8|9999999999|lead1"):
        forged = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode() + "." + mac
        with pytest.raises(LinkError):
            verify(SECRET, forged, T0)


@pytest.mark.parametrize("token", ["", ".", "abc", "a.b.c", "!!!.???", "djE.AAAA"])
def test_garbage_is_invalid_not_a_crash(token: str) -> None:
    with pytest.raises(LinkError) as raised:
        verify(SECRET, token, T0)
    assert raised.value.problem is LinkProblem.INVALID


def test_another_secret_cannot_verify() -> None:
    token = sign(SECRET, 7, "lead1", T0 + timedelta(hours=1))
    with pytest.raises(LinkError):
        verify("another-secret", token, T0)
    with pytest.raises(LinkError):
        verify("", token, T0)


def test_dashboard_url_is_built_from_the_public_base() -> None:
    assert dashboard_url("https://jy.example.cn/", "TOK") == "https://jy.example.cn/reports/TOK/"
    assert dashboard_url("https://jy.example.cn", "TOK", "files/a1.xlsx").endswith(
        "/reports/TOK/files/a1.xlsx"
    )
