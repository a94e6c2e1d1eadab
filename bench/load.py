"""The load generator: wrk (Debian's package) replaying a pool of pre-built signed requests.

Callback signatures cover a timestamp that must be fresh (5-minute window) and every
message needs its own msgid (the inbox drops redeliveries), so requests cannot be generated
by wrk itself: the pool is built in Python right before a run, one request per line
(`path?query<TAB>body`), and a Lua script walks it so that no request is sent twice as long
as the pool is larger than the run. `wrapped` reports how many were sent again anyway.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CONNECTIONS = 32
THREADS = 1  # on a 2-core machine one wrk thread leaves the other core to the server

_LUA = r"""
local pool = {}
local threads = {}
local ctype = "text/plain"

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  nthreads = tonumber(args[2])
  ctype = args[3]
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    pool[#pool + 1] = {line:sub(1, tab - 1), line:sub(tab + 1)}
  end
  idx = tid
  wrapped = 0
end

function request()
  if idx >= #pool then wrapped = wrapped + 1 end
  local item = pool[idx % #pool + 1]
  idx = idx + nthreads
  return wrk.format("POST", item[1], {["Content-Type"] = ctype}, item[2])
end

function done(summary, latency, requests)
  local wrapped_total = 0
  for _, thread in ipairs(threads) do
    wrapped_total = wrapped_total + (thread:get("wrapped") or 0)
  end
  io.write("WRK_JSON ")
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, "wrapped": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status,
    summary.errors.timeout, wrapped_total))
end
"""


@dataclass(frozen=True)
class LoadResult:
    """What one wrk run measured; latencies in milliseconds."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # connect/read/write errors, timeouts and non-2xx/3xx answers
    wrapped: int  # requests sent again because the pool ran out
    command: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"{self.rate:8.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms  "
            f"max {self.max_ms:7.1f} ms  errors {self.errors}  reused {self.wrapped}"
        )


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def write_pool(lines: list[tuple[str, str]], path: Path) -> Path:
    """One request per line: `path?query` TAB body (bodies are single-line JSON or XML)."""
    with path.open("w", encoding="utf-8") as out:
        for target, body in lines:
            if "\t" in body or "\n" in body:
                raise ValueError("request bodies must be single-line without tabs")
            out.write(f"{target}\t{body}\n")
    return path


def run_wrk(
    base_url: str,
    pool: Path,
    *,
    seconds: int,
    content_type: str,
    connections: int = CONNECTIONS,
    threads: int = THREADS,
    work_dir: Path,
) -> LoadResult:
    script = work_dir / "pool.lua"
    script.write_text(_LUA, encoding="utf-8")
    args = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        base_url,
        "--",
        str(pool),
        str(threads),
        content_type,
    ]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    line = next(
        (ln for ln in done.stdout.splitlines() if ln.startswith("WRK_JSON ")),
        None,
    )
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(
        data[k]
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    shown = " ".join(args[:10]).replace(str(work_dir), "$TMP")
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=errors,
        wrapped=data["wrapped"],
        command=shown,
    )
