"""The burst benchmark's load generator, in a process of its own.

`python -m bench.pacer BASE_URL REQUESTS.json SECONDS` sends every request of the file (a JSON
list of [path, body]) paced evenly over SECONDS and prints one JSON object: each request's
latency, the status counts and when sending began and ended (time.monotonic(), which is the
system-wide monotonic clock on Linux, so the caller can compare). Run apart from the fake
WeCom API, so the fake's work and garbage collection do not show up as server latency.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp


async def pace(base: str, requests: list[tuple[str, str]], seconds: float) -> dict[str, object]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as session:
        loop = asyncio.get_running_loop()
        began_at = loop.time() + 0.05
        count = len(requests)

        async def send(index: int, path: str, body: bytes) -> None:
            await asyncio.sleep(max(0.0, began_at + index * seconds / count - loop.time()))
            sent = time.perf_counter()
            async with session.post(base + path, data=body) as resp:
                await resp.read()
                statuses[resp.status] += 1
            latencies.append((time.perf_counter() - sent) * 1000)

        began = time.monotonic() + 0.05
        await asyncio.gather(
            *(send(i, path, body.encode("utf-8")) for i, (path, body) in enumerate(requests))
        )
        ended = time.monotonic()
    return {
        "latencies_ms": latencies,
        "statuses": {str(status): n for status, n in statuses.items()},
        "began": began,
        "ended": ended,
    }


def main(argv: list[str]) -> int:
    base, path, seconds = argv[0], Path(argv[1]), float(argv[2])
    requests = [(str(p), str(b)) for p, b in json.loads(path.read_text(encoding="utf-8"))]
    # The generator's own collector pauses (20-30 ms) would be counted as server latency.
    gc.collect()
    gc.freeze()
    gc.disable()
    print(json.dumps(asyncio.run(pace(base, requests, seconds))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
