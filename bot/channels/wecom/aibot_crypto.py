"""AES encryption of WeCom callbacks (doc 101033): the smart bot's HTTP (JSON) callbacks, with
receive id "", and the self-built app's messages, with the corp id as receive id.

Scheme (doc 90968, "加解密方案说明"): AESKey = base64decode(EncodingAESKey + "="), AES-256-CBC
with IV = AESKey[:16], PKCS#7 padding to a multiple of 32 bytes, plaintext =
16 random bytes + 4-byte big-endian length + msg + receive_id, sent base64-encoded.

Written over `cryptography` rather than wechatpy's PrpCrypto because that one does not
validate padding or the length field, and a smart bot needs strict checks on every byte.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.channels.wecom.callback_security import compute_signature

_BLOCK = 32  # WeCom pads to 32 bytes, not AES's 16.
_RANDOM_LEN = 16
_LENGTH_LEN = 4


class AibotCryptoError(Exception):
    """The ciphertext cannot be decrypted into a well-formed WeCom plaintext."""


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """Turn the 43-character EncodingAESKey from the admin console into the 32-byte key."""
    if len(encoding_aes_key) != 43:
        raise ValueError("EncodingAESKey must be exactly 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError("EncodingAESKey is not valid base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey does not decode to 32 bytes")
    return key


class AibotCrypto:
    """Encrypt, decrypt and sign smart-bot callback payloads."""

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        receive_id: str = "",
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._token = token
        self._key = decode_aes_key(encoding_aes_key)
        self._receive_id = receive_id.encode("utf-8")
        self._random_bytes = random_bytes
        # Built once: each encryptor()/decryptor() is a fresh CBC context from the fixed IV.
        self._aes = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, plaintext: str) -> str:
        """Encrypt a message the way WeCom expects and return it base64-encoded."""
        msg = plaintext.encode("utf-8")
        raw = self._random_bytes(_RANDOM_LEN) + struct.pack(">I", len(msg)) + msg + self._receive_id
        pad = _BLOCK - len(raw) % _BLOCK
        raw += bytes([pad]) * pad
        encryptor = self._aes.encryptor()
        return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypted: str) -> str:
        """Decrypt and check padding, length and receive id; raise `AibotCryptoError` if bad."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AibotCryptoError("ciphertext is not valid base64") from exc
        if not data or len(data) % 16:
            raise AibotCryptoError("ciphertext length is not a multiple of the AES block")
        decryptor = self._aes.decryptor()
        raw = decryptor.update(data) + decryptor.finalize()
        pad = raw[-1]
        if not 1 <= pad <= _BLOCK or pad > len(raw) or raw[-pad:] != bytes([pad]) * pad:
            raise AibotCryptoError("bad padding (wrong key?)")
        body = raw[:-pad]
        if len(body) < _RANDOM_LEN + _LENGTH_LEN:
            raise AibotCryptoError("plaintext too short")
        (length,) = struct.unpack(">I", body[_RANDOM_LEN : _RANDOM_LEN + _LENGTH_LEN])
        start = _RANDOM_LEN + _LENGTH_LEN
        if start + length > len(body):
            raise AibotCryptoError("length field exceeds the plaintext")
        if body[start + length :] != self._receive_id:
            raise AibotCryptoError("receive id mismatch")
        try:
            return body[start : start + length].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AibotCryptoError("plaintext is not UTF-8") from exc

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        return compute_signature(self._token, timestamp, nonce, encrypted)

    def encrypt_reply(self, plaintext: str, timestamp: str, nonce: str) -> dict[str, str]:
        """A passive reply body: {encrypt, msgsignature, timestamp, nonce} (doc 101033)."""
        encrypted = self.encrypt(plaintext)
        return {
            "encrypt": encrypted,
            "msgsignature": self.signature(timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }
