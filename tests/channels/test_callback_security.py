"""The shared callback checks and the smart-bot crypto, against WeCom's documented scheme."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.wecom.aibot_crypto import AibotCrypto, AibotCryptoError, decode_aes_key
from bot.channels.wecom.callback_security import (
    CallbackRejected,
    CallbackVerifier,
    SignedQuery,
    compute_signature,
    parse_xml_fields,
    scan_json_encrypt,
    scan_xml_encrypt,
)
from bot.core.clock import FakeClock
from tests.fakes.wecom_crypto import BILLION_LAUGHS, WeComSide, new_encoding_aes_key

# The worked example of WeCom's "加解密方案说明" (URL verification of an app).
DOC_TOKEN = "QDG6eK"
DOC_TIMESTAMP = "1409659589"
DOC_NONCE = "263014780"
DOC_ECHOSTR = (
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)
DOC_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"

NOW = 1_750_000_000


def clock_at(ts: int) -> FakeClock:
    return FakeClock(datetime.fromtimestamp(ts, UTC))


def test_signature_matches_wecom_documentation_example() -> None:
    assert compute_signature(DOC_TOKEN, DOC_TIMESTAMP, DOC_NONCE, DOC_ECHOSTR) == DOC_SIGNATURE


def test_verifier_accepts_fresh_signed_request_and_rejects_wrong_signature() -> None:
    verifier = CallbackVerifier(DOC_TOKEN, clock_at(int(DOC_TIMESTAMP)))
    verifier.check(SignedQuery(DOC_SIGNATURE, DOC_TIMESTAMP, DOC_NONCE), DOC_ECHOSTR)

    with pytest.raises(CallbackRejected) as bad:
        verifier.check(SignedQuery("0" * 40, DOC_TIMESTAMP, DOC_NONCE), DOC_ECHOSTR)
    assert bad.value.status == 403
    with pytest.raises(CallbackRejected) as weird:
        verifier.check(SignedQuery("签名", DOC_TIMESTAMP, DOC_NONCE), DOC_ECHOSTR)
    assert weird.value.status == 403


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86400])
def test_timestamps_outside_five_minutes_are_rejected(offset: int) -> None:
    verifier = CallbackVerifier("token", clock_at(NOW))
    with pytest.raises(CallbackRejected) as exc:
        verifier.check_timestamp(str(NOW + offset))
    assert exc.value.status == 403


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamps_inside_the_window_pass(offset: int) -> None:
    CallbackVerifier("token", clock_at(NOW)).check_timestamp(str(NOW + offset))


def test_window_follows_the_injected_clock() -> None:
    clock = clock_at(NOW)
    verifier = CallbackVerifier("token", clock)
    verifier.check_timestamp(str(NOW))
    clock.advance(timedelta(minutes=6))
    with pytest.raises(CallbackRejected):
        verifier.check_timestamp(str(NOW))


@pytest.mark.parametrize("value", ["", "abc", "-5", "1.5", "１２３", "9" * 40])
def test_non_numeric_timestamps_are_bad_requests(value: str) -> None:
    with pytest.raises(CallbackRejected) as exc:
        CallbackVerifier("token", clock_at(NOW)).check_timestamp(value)
    assert exc.value.status == 400


def test_safe_xml_returns_top_level_fields() -> None:
    fields = parse_xml_fields(b"<xml><Encrypt><![CDATA[abc]]></Encrypt><AgentID>1</AgentID></xml>")
    assert fields == {"Encrypt": "abc", "AgentID": "1"}


def test_billion_laughs_is_refused_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(CallbackRejected) as exc:
        parse_xml_fields(BILLION_LAUGHS)
    assert exc.value.status == 400
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    "payload",
    [
        '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><A>&xxe;</A></xml>',
        '<!DOCTYPE xml SYSTEM "http://127.0.0.1/evil.dtd"><xml/>',
        "<xml><A>unclosed</xml>",
        "not xml at all",
        "<other><A>1</A></other>",
        "",
    ],
)
def test_dangerous_or_malformed_xml_is_a_bad_request(payload: str) -> None:
    with pytest.raises(CallbackRejected) as exc:
        parse_xml_fields(payload)
    assert exc.value.status == 400


def test_scans_find_the_ciphertext_in_real_envelopes() -> None:
    xml = (
        b"<xml><ToUserName><![CDATA[wwcorp]]></ToUserName><AgentID><![CDATA[1000002]]>"
        b"</AgentID><Encrypt><![CDATA[ab+/cd==]]></Encrypt></xml>"
    )
    assert scan_xml_encrypt(xml) == "ab+/cd=="
    assert scan_xml_encrypt(b"<xml><Encrypt>\n ab+/cd== \n</Encrypt></xml>") == "ab+/cd=="
    assert scan_json_encrypt(b'{"encrypt": "ab+/cd=="}') == "ab+/cd=="
    assert scan_json_encrypt(b'{"encrypt":"ab+\\/cd=="}') == "ab+/cd=="  # JSON's escaped "/"


@pytest.mark.parametrize(
    "payload",
    [
        b'{"encrypt":"\\ud800"}',
        b'{"encrypt": 5}',
        b'{"encrypt": ""}',
        b"[" * 100_000 + b"]" * 100_000,
        b"{",
        b"",
    ],
)
def test_json_without_a_base64_encrypt_field_is_a_bad_request(payload: bytes) -> None:
    with pytest.raises(CallbackRejected) as exc:
        scan_json_encrypt(payload)
    assert exc.value.status == 400


@pytest.mark.parametrize(
    "payload",
    [
        b"<xml><Encrypt>",
        b"<xml><Encrypt>&amp;</Encrypt></xml>",
        b"<xml><Encrypt><![CDATA[]]></Encrypt></xml>",
        b"<xml>" + b"<a>" * 30_000 + b"</xml>",
    ],
)
def test_xml_without_a_base64_encrypt_element_is_a_bad_request(payload: bytes) -> None:
    with pytest.raises(CallbackRejected) as exc:
        scan_xml_encrypt(payload)
    assert exc.value.status == 400


def test_xml_with_an_unknown_encoding_is_a_bad_request() -> None:
    with pytest.raises(CallbackRejected) as exc:
        parse_xml_fields(b'<?xml version="1.0" encoding="x-junk"?><xml><A>1</A></xml>')
    assert exc.value.status == 400


def test_aibot_crypto_reads_what_wecom_encrypts_with_empty_receive_id() -> None:
    key = new_encoding_aes_key()
    wecom = WeComSide("token", key, receive_id="")
    crypto = AibotCrypto("token", key)
    message = json.dumps({"msgid": "m1", "text": {"content": "签到 第3期"}}, ensure_ascii=False)
    assert crypto.decrypt(wecom.encrypt(message)) == message


def test_aibot_crypto_replies_are_readable_by_wecom() -> None:
    key = new_encoding_aes_key()
    wecom = WeComSide("token", key, receive_id="")
    reply = AibotCrypto("token", key).encrypt_reply('{"msgtype":"text"}', "1750000000", "n1")
    assert set(reply) == {"encrypt", "msgsignature", "timestamp", "nonce"}
    assert reply["msgsignature"] == wecom.sign("1750000000", "n1", reply["encrypt"])
    assert wecom.decrypt(reply["encrypt"]) == ('{"msgtype":"text"}', "")


@pytest.mark.parametrize("length", [0, 1, 11, 12, 13, 31, 32, 33, 1000])
def test_aibot_crypto_round_trips_every_padding_length(length: int) -> None:
    crypto = AibotCrypto("token", new_encoding_aes_key())
    text = "字" * length
    assert crypto.decrypt(crypto.encrypt(text)) == text


def test_aibot_crypto_rejects_foreign_or_broken_ciphertext() -> None:
    key = new_encoding_aes_key()
    crypto = AibotCrypto("token", key)
    with pytest.raises(AibotCryptoError):
        crypto.decrypt(WeComSide("token", key, receive_id="wwcorp").encrypt("hi"))
    with pytest.raises(AibotCryptoError):
        crypto.decrypt(WeComSide("token", new_encoding_aes_key(), receive_id="").encrypt("hi"))
    for broken in ["not base64!!", "", "QUJD", "A" * 43 + "="]:
        with pytest.raises(AibotCryptoError):
            crypto.decrypt(broken)


@pytest.mark.parametrize("bad", ["short", "x" * 44, "!" * 43])
def test_bad_encoding_aes_key_is_refused_at_start(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_aes_key(bad)


def test_safe_xml_reads_text_like_elementtree_did() -> None:
    """Mixed CDATA and plain text join; a nested element keeps only the text before it; a
    repeated tag keeps the last value; the root tag is checked."""
    fields = parse_xml_fields(
        "<xml><Content>签到<![CDATA[ A1 & <b>]]>！</Content>"
        "<Nested>before<Inner>x</Inner>after</Nested><A>1</A><A>2</A><Empty/></xml>"
    )
    assert fields == {"Content": "签到 A1 & <b>！", "Nested": "before", "A": "2", "Empty": ""}
    with pytest.raises(CallbackRejected):
        parse_xml_fields("<xml><A>1</A></xml><xml/>")  # two documents
    assert parse_xml_fields("<root><A>1</A></root>", root_tag="root") == {"A": "1"}
