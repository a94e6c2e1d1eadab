"""Starting and watching the servers under test as separate processes on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.world import WECOM_ENV

READY_TIMEOUT = 30.0
# Servers run with a scratch directory as cwd (no stray .env); `bench` must stay importable.
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory now (VmRSS) in MiB, from /proc."""
    return _status_kb(pid, "VmRSS") / 1024


@dataclass(frozen=True)
class Memory:
    """Memory of a server and its child processes (e.g. one building a digest).

    RSS counts pages the processes share (the interpreter, libraries) once per process; PSS
    splits each shared page between them, so the PSS sum is what the service occupies."""

    rss_mb: float
    pss_mb: float
    processes: int

    def line(self) -> str:
        return f"{self.pss_mb:.1f} MB PSS ({self.rss_mb:.1f} MB RSS summed over {self.processes})"


def tree_memory(pid: int) -> Memory:
    pids = _with_descendants(pid)
    rss = sum(rss_mb(p) for p in pids)
    pss = sum(_rollup_kb(p, "Pss") for p in pids) / 1024
    return Memory(rss, pss, len(pids))


def _with_descendants(pid: int) -> list[int]:
    found = [pid]
    for current in found:
        children = Path(f"/proc/{current}/task/{current}/children")
        with contextlib.suppress(FileNotFoundError):
            found.extend(int(child) for child in children.read_text().split())
    return found


def _rollup_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def peak_rss_mb(pid: int) -> float:
    """Highest resident memory so far (VmHWM) in MiB."""
    return _status_kb(pid, "VmHWM") / 1024


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def wait_http(url: str, *, timeout: float = READY_TIMEOUT, proc: subprocess.Popen[Any]) -> None:
    """Poll `url` until it answers (any HTTP status), the process dies, or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def clean_env(values: Mapping[str, Any]) -> dict[str, str]:
    """This process's environment without any WECOM_*/JIAOYAN_* leak, plus `values`."""
    env = {k: v for k, v in os.environ.items() if k not in WECOM_ENV}
    env.update({k: str(v) for k, v in values.items()})
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


@dataclass
class Server:
    """A server process under test."""

    proc: subprocess.Popen[Any]
    base_url: str
    command: str
    log: Path
    memory_samples: list[Memory] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def sample_memory(self) -> Memory:
        value = tree_memory(self.pid)
        self.memory_samples.append(value)
        return value


@contextlib.contextmanager
def run_server(
    args: list[str],
    *,
    port: int,
    ready_path: str,
    work_dir: Path,
    env: Mapping[str, str] | None = None,
    shown: str | None = None,
) -> Iterator[Server]:
    """Start `args` (cwd `work_dir`, so no stray .env is read), wait until it answers."""
    log = work_dir / f"server-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args,
            cwd=work_dir,
            env=dict(env) if env is not None else clean_env({}),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_http(base_url + ready_path, proc=proc)
        yield Server(proc, base_url, shown or " ".join(args), log)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def serve_args(port: int) -> list[str]:
    """`jiaoyan-bot serve` exactly as the console script runs it."""
    return [
        sys.executable,
        "-m",
        "bot.cli.main",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def health(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url + "/healthz", timeout=5) as resp:
        return dict(json.loads(resp.read()))
