"""Files people send to the bot: fetched, decrypted, size-checked and kept under the data dir.

Where the download happens, and why: channels must answer WeCom within milliseconds and
write the message to the durable inbox first, so they only note what arrived (reply_context
keys below); handlers never do HTTP. `FileIntake` sits between the two — it wraps the
pipeline's handle function, so it runs in the background task after the inbox write, fetches
and stores the file, and hands the router the same message with the result added (or a
problem code). A crash mid-download is recovered like any other message: the pipeline
processes it again (content-addressed storage and the resource's source key keep that
idempotent).

Smart-bot media are AES-256-CBC encrypted: the key is the message's base64 `aeskey` (long
connection) or the bot's EncodingAESKey (HTTP callback), the IV is the key's first 16 bytes,
and the padding is PKCS#7 to a 32-byte block (WeCom docs 101463 "多媒体资源解密", 100719;
checked against the official @wecom/aibot-node-sdk `decryptFile`).

Only URLs on WeCom's media hosts are fetched (`bot.core.media_hosts`, WECOM_MEDIA_HOSTS), and
never through a redirect: a file message is not a way to make the bot request other addresses.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

import aiohttp
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.core.media_hosts import MediaHosts
from bot.core.messages import Incoming
from bot.core.settings import origin_of
from bot.text.normalize import strip_addressing
from storage.db import data_dir_for

if TYPE_CHECKING:
    from bot.pipeline.inbox import Commit, Handle

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_FILE_LABEL = "20 MB"
_PKCS7_BLOCK = 32  # WeCom pads to 32 bytes, not AES's 16
_CHUNK = 64 * 1024

# reply_context keys. Set by channels:
FILE_URL = "file_url"  # where WeCom lets us download the (encrypted) file, briefly valid
FILE_AES_KEY = "aes_key"  # the message's own base64 key (long connection)
FILE_KEY_SOURCE = "file_key"  # "callback": decrypt with the HTTP callback's EncodingAESKey
FILE_KIND = "file_kind"  # "file" or "image"
LINK_URL = "link_url"  # a link message (自建应用): shared as a resource without a download
LINK_TITLE = "link_title"
# Set by FileIntake for the handler:
FILE_SHA256 = "file_sha256"
FILE_SIZE = "file_size"
FILE_PATH = "file_path"  # relative to the files directory
FILE_NAME = "file_name"
FILE_ERROR = "file_error"  # a FileProblem value

# Words that make a caption mean "share this as a resource" (the 资源 command and aliases).
RESOURCE_WORDS = ("资源", "分享资源", "资料")
# Captions of records a file is evidence of (or a 说课 design): fetched, and the command
# runs with the file.
EVIDENCE_WORDS = ("反思", "反馈", "评课", "通知", "说课")
# What a caption-less file sent just after a record becomes (handlers/evidence.py).
FOLLOW_UP_COMMAND = "附件"

# Never kept, never served: programs and scripts by name or by their first bytes.
EXECUTABLE_SUFFIXES = frozenset(
    {
        ".exe", ".com", ".bat", ".cmd", ".msi", ".msp", ".scr", ".pif", ".cpl", ".msc",
        ".dll", ".sys", ".ps1", ".psm1", ".vbs", ".vbe", ".js", ".jse", ".mjs", ".wsf",
        ".wsh", ".hta", ".lnk", ".reg", ".sh", ".bash", ".zsh", ".csh", ".ksh", ".command",
        ".py", ".pyc", ".pl", ".rb", ".php", ".jar", ".apk", ".app", ".appimage", ".deb",
        ".rpm", ".dmg", ".pkg", ".run", ".bin", ".elf", ".so", ".dylib", ".action",
    }
)  # fmt: skip
_EXECUTABLE_MAGIC = (
    b"MZ",  # Windows PE
    b"\x7fELF",  # Linux ELF
    b"#!",  # scripts
    b"\xcf\xfa\xed\xfe",  # Mach-O 64
    b"\xce\xfa\xed\xfe",  # Mach-O 32
    b"\xca\xfe\xba\xbe",  # Mach-O universal / Java class
)


class FileProblem(StrEnum):
    TOO_LARGE = "too_large"
    EXPIRED = "expired"
    DOWNLOAD_FAILED = "download_failed"
    DECRYPT_FAILED = "decrypt_failed"
    EXECUTABLE = "executable"
    UNSAFE_URL = "unsafe_url"


_PROBLEM_TEXT: dict[FileProblem, str] = {
    FileProblem.TOO_LARGE: (
        f"文件超过 {MAX_FILE_LABEL} 上限，没有保存。请上传到网盘后分享链接，"
        "例如：资源 《秋天的雨》课例视频 https://pan.example.com/s/abc #三年级"
    ),
    FileProblem.EXPIRED: "文件下载链接已过期，请重新发送一次文件。",
    FileProblem.DOWNLOAD_FAILED: "文件暂时没能下载下来，请稍后重新发送一次。",
    FileProblem.DECRYPT_FAILED: "文件没能解开（可能已损坏），请重新发送一次。",
    FileProblem.EXECUTABLE: (
        "出于安全考虑，不接收可执行文件或脚本（如 .exe、.bat、.sh、.js）。"
        "请发送课件、文档、视频等资料。"
    ),
    FileProblem.UNSAFE_URL: "这个文件没能接收：它的下载地址不是企业微信的。请在企业微信里直接重新发送一次。",
}


def problem_text(code: str) -> str:
    """The Chinese explanation of a FileProblem code (for the handler's reply)."""
    try:
        return _PROBLEM_TEXT[FileProblem(code)]
    except ValueError:
        return _PROBLEM_TEXT[FileProblem.DOWNLOAD_FAILED]


class FileProblemError(Exception):
    def __init__(self, problem: FileProblem, detail: str = "") -> None:
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)
        self.problem = problem


# decryption -----------------------------------------------------------------


def decrypt_media(data: bytes, aes_key: str) -> bytes:
    """Decrypt a WeCom media download (AES-256-CBC, IV = key[:16], PKCS#7 to 32 bytes)."""
    try:
        key = base64.b64decode(aes_key + "=" * (-len(aes_key) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FileProblemError(FileProblem.DECRYPT_FAILED, "aes key is not base64") from exc
    if len(key) != 32:
        raise FileProblemError(FileProblem.DECRYPT_FAILED, f"aes key has {len(key)} bytes")
    if not data or len(data) % 16:
        raise FileProblemError(FileProblem.DECRYPT_FAILED, "ciphertext is not whole blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= _PKCS7_BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
        raise FileProblemError(FileProblem.DECRYPT_FAILED, "bad padding")
    return plain[:-pad]


# storage on disk ------------------------------------------------------------


def files_dir_for(db: Path | str) -> Path:
    """Where received files live: `files/` beside the SQLite database (in `data/` for
    PostgreSQL)."""
    return data_dir_for(db) / "files"


def safe_name(name: str, default: str = "文件") -> str:
    """A display name without directories, control characters or absurd length."""
    folded = unicodedata.normalize("NFKC", name or "")
    base = PurePath(folded.replace("\\", "/")).name
    cleaned = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip(" .")
    if len(cleaned) > 120:
        stem, dot, suffix = cleaned.rpartition(".")
        cleaned = (stem[:100] + dot + suffix[:15]) if dot else cleaned[:120]
    return cleaned or default


def is_executable(name: str, head: bytes) -> bool:
    suffixes = {s.lower() for s in PurePath(name).suffixes}
    return bool(suffixes & EXECUTABLE_SUFFIXES) or head.startswith(_EXECUTABLE_MAGIC)


@dataclass(frozen=True)
class SavedFile:
    sha256: str
    size: int
    path: str  # relative to the store's root, e.g. "ab/ab12….pdf"
    name: str  # safe display name
    executable: bool


class FileRefused(Exception):
    """A stored file that must not be handed out (executable, or outside the store)."""


class FileStore:
    """Content-addressed files under one directory, never executable, never outside it."""

    def __init__(self, root: Path) -> None:
        self._root = Path(root)

    @property
    def root(self) -> Path:
        return self._root

    def save(self, data: bytes, name: str) -> SavedFile:
        if len(data) > MAX_FILE_BYTES:
            raise FileProblemError(FileProblem.TOO_LARGE, f"{len(data)} bytes")
        display = safe_name(name)
        executable = is_executable(display, data[:8])
        digest = hashlib.sha256(data).hexdigest()
        suffix = PurePath(display).suffix.lower()
        if executable or not re.fullmatch(r"\.[a-z0-9]{1,10}", suffix):
            suffix = ".bin" if not executable else ".blocked"
        relative = f"{digest[:2]}/{digest}{suffix}"
        target = self._root / relative
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.chmod(temp, 0o600)
                os.replace(temp, target)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        return SavedFile(digest, len(data), relative, display, executable)

    def path_for_serving(self, relative: str, *, executable: bool) -> Path:
        """The file to hand out (e.g. by a download link); refuses executables and escapes."""
        if executable or relative.endswith(".blocked") or is_executable(relative, b""):
            raise FileRefused("executable files are never served")
        root = self._root.resolve()
        path = (root / relative).resolve()
        if root not in path.parents or not path.is_file():
            raise FileRefused("not a stored file")
        with path.open("rb") as handle:
            if handle.read(8).startswith(_EXECUTABLE_MAGIC):
                raise FileRefused("executable content is never served")
        return path


# download -------------------------------------------------------------------


@dataclass(frozen=True)
class Downloaded:
    data: bytes
    filename: str | None


class MediaDownloader:
    """GETs a media URL with a hard size limit; never reads more than the limit allows.

    Only URLs on WeCom's media hosts (`MediaHosts`, from WECOM_MEDIA_HOSTS) are requested, and
    redirects are never followed: a 3xx could lead anywhere, off the list.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        hosts: MediaHosts,
        *,
        max_bytes: int = MAX_FILE_BYTES,
        timeout_seconds: float = 60.0,
    ) -> None:
        self._session = session
        self._hosts = hosts
        # Ciphertext is at most one padding block longer than the file inside.
        self._max_bytes = max_bytes + _PKCS7_BLOCK
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def fetch(self, url: str) -> Downloaded:
        if not self._hosts.allows(url):
            where = origin_of(url) or "a non-http(s) address"
            log.warning("file not downloaded: %s is not on WECOM_MEDIA_HOSTS", where)
            raise FileProblemError(FileProblem.UNSAFE_URL, "host not on the list")
        try:
            async with self._session.get(url, timeout=self._timeout, allow_redirects=False) as resp:
                if 300 <= resp.status < 400:
                    log.warning(
                        "file not downloaded: %s answered HTTP %d, a redirect is never followed",
                        origin_of(url),
                        resp.status,
                    )
                    raise FileProblemError(FileProblem.UNSAFE_URL, f"HTTP {resp.status}")
                if resp.status in (403, 404, 410):
                    raise FileProblemError(FileProblem.EXPIRED, f"HTTP {resp.status}")
                if resp.status >= 400:
                    raise FileProblemError(FileProblem.DOWNLOAD_FAILED, f"HTTP {resp.status}")
                if resp.content_length is not None and resp.content_length > self._max_bytes:
                    raise FileProblemError(FileProblem.TOO_LARGE, f"{resp.content_length} bytes")
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise FileProblemError(FileProblem.TOO_LARGE, f"over {size} bytes")
                    chunks.append(chunk)
                disposition = resp.content_disposition
                filename = disposition.filename if disposition is not None else None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise FileProblemError(FileProblem.DOWNLOAD_FAILED, type(exc).__name__) from exc
        return Downloaded(b"".join(chunks), filename)


# the intake stage -------------------------------------------------------------


class FileIntake:
    """Turns a file (or link) message into a 资源 command with the stored file attached.

    Wire it around the dispatcher: `Pipeline(..., handle=intake.wrap(dispatcher.process))`.
    A file with no caption, or with a caption starting with 资源, is shared as a resource
    (title = caption, else the file name). A file whose caption starts with 反思, 反馈, 评课,
    通知 or 说课 is fetched and that command runs with it (evidence of the record). A caption-less file
    or picture from someone who just made a record (`follows_record`, asked of storage by
    whoever wires this) becomes the 附件 command that joins it to that record. Any other
    caption, or a bare picture otherwise, passes through untouched.
    """

    def __init__(
        self,
        downloader: MediaDownloader,
        store: FileStore,
        *,
        callback_aes_key: str | None = None,
        follows_record: Callable[[Incoming], bool] | None = None,
    ) -> None:
        self._downloader = downloader
        self._store = store
        self._callback_key = callback_aes_key
        self._follows_record = follows_record

    def wrap(self, handle: Handle) -> Handle:
        async def handle_with_files(incoming: Incoming, commit: Commit) -> None:
            await handle(await self.prepare(incoming), commit)

        return handle_with_files

    async def prepare(self, incoming: Incoming) -> Incoming:
        plan = self._plan(incoming)
        if isinstance(plan, Incoming):
            return plan
        command, url = plan
        context = incoming.reply_context
        extra = await self._fetch(url, context)
        return incoming.model_copy(update={"text": command, "reply_context": {**context, **extra}})

    def _plan(self, incoming: Incoming) -> Incoming | tuple[str, str]:
        """The message as the router should see it, or (command, url) of a file to fetch."""
        context = incoming.reply_context
        url, link = context.get(FILE_URL), context.get(LINK_URL)
        if not url and not link:
            return incoming
        caption = strip_addressing(incoming.text).strip()
        if url and caption.startswith(EVIDENCE_WORDS):
            return caption, url
        if caption and not caption.startswith(RESOURCE_WORDS):
            return incoming
        if not caption and url and self._follows_record and self._follows_record(incoming):
            return FOLLOW_UP_COMMAND, url
        if not caption and url and context.get(FILE_KIND) == "image":
            return incoming  # a photo sent alone is not necessarily meant for the library
        command = caption or RESOURCE_WORDS[0]
        if link:
            title = context.get(LINK_TITLE, "").strip()
            text = f"{command} {title} {link}".strip() if not caption else f"{caption} {link}"
            return incoming.model_copy(update={"text": text})
        assert url is not None
        return command, url

    async def _fetch(self, url: str, context: dict[str, str]) -> dict[str, str]:
        try:
            downloaded = await self._downloader.fetch(url)
            data = downloaded.data
            key = context.get(FILE_AES_KEY)
            if not key and context.get(FILE_KEY_SOURCE) == "callback":
                key = self._callback_key
            if key:
                data = decrypt_media(data, key)
            fallback = "图片.jpg" if context.get(FILE_KIND) == "image" else "文件"
            name = safe_name(context.get(FILE_NAME) or downloaded.filename or "", fallback)
            if is_executable(name, data[:8]):
                raise FileProblemError(FileProblem.EXECUTABLE, name)
            saved = self._store.save(data, name)
        except FileProblemError as problem:
            log.info("received file not kept: %s", problem)
            return {FILE_ERROR: problem.problem.value}
        log.info("received file kept: %d bytes as %s", saved.size, saved.path)
        return {
            FILE_SHA256: saved.sha256,
            FILE_SIZE: str(saved.size),
            FILE_PATH: saved.path,
            FILE_NAME: saved.name,
        }
