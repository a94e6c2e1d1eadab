"""Run one heavy report function in a short-lived child process and await its result.

Digests, dashboard charts and workbook exports (from the dashboard and from 导出) load a
lot (the word dictionary, matplotlib, tens of thousands of rows) that Python keeps once
loaded, tens of MB each (BENCHMARKS.md). A child process takes that memory with it when it
exits. The parent's event loop keeps running meanwhile
(`run_in_child_blocking` is for code already in a thread); each call costs the child's
start-up (about half a second).

The function is named `module:function`; arguments and result travel pickled over the
child's stdin and stdout (pipes only parent and child hold). An exception the function
raises is re-raised in the parent when it can be pickled (e.g. a missing CJK font).
"""

from __future__ import annotations

import asyncio
import importlib
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

TIMEOUT_SECONDS = 300.0  # a district-term digest takes about 2 s here; this only stops a hang


class ReportProcessError(RuntimeError):
    """The child failed without an exception to hand back (it died, hung, or raised one
    that cannot be pickled); its stderr tail is the message."""


async def run_in_child(
    target: str,
    *args: Any,
    database: Path | str | None = None,
    python: str = sys.executable,
    timeout: float = TIMEOUT_SECONDS,
) -> Any:
    """`module:function(*args)`, called in `python -m reports.child_process`; with
    `database`, `module:function(storage, *args)` on the child's own connection to it."""
    child = await asyncio.create_subprocess_exec(
        *_command(python),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        request = _request(target, args, database)
        out, err = await asyncio.wait_for(child.communicate(request), timeout)
    except TimeoutError as error:
        raise ReportProcessError(f"{target} timed out after {timeout:g} s") from error
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    return _result(target, child.returncode, out, err)


def run_in_child_blocking(
    target: str,
    *args: Any,
    database: Path | str | None = None,
    python: str = sys.executable,
    timeout: float = TIMEOUT_SECONDS,
) -> Any:
    """`run_in_child` for code already off the event loop (a background command's thread)."""
    try:
        done = subprocess.run(
            _command(python),
            input=_request(target, args, database),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:  # run() has killed the child
        raise ReportProcessError(f"{target} timed out after {timeout:g} s") from error
    return _result(target, done.returncode, done.stdout, done.stderr)


def _command(python: str) -> list[str]:
    return [python, "-m", "reports.child_process"]


def _request(target: str, args: tuple[Any, ...], database: Path | str | None) -> bytes:
    return pickle.dumps((target, args, None if database is None else str(database)))


def _result(target: str, returncode: int | None, out: bytes, err: bytes) -> Any:
    if returncode != 0 or not out:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise ReportProcessError(f"{target} exited with {returncode}: " + " | ".join(tail))
    failed, value = pickle.loads(out)  # from our own child, over a pipe nobody else holds
    if failed:
        raise value
    return value


def main() -> int:
    """Child side: call what stdin names, write (failed, result or exception) on stdout."""
    target, args, database = pickle.load(sys.stdin.buffer)  # from our parent's pipe
    channel = sys.stdout.buffer
    # Whatever the code prints goes to stderr: stdout carries the answer alone.
    sys.stdout = sys.stderr
    module_name, _, function_name = target.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    try:
        answer: tuple[bool, Any] = (False, _call(function, args, database))
    except Exception as error:
        answer = (True, error)
    try:
        payload = pickle.dumps(answer)
    except Exception:  # an exception that cannot travel: its traceback goes to stderr
        if answer[0]:
            raise answer[1] from None
        raise
    channel.write(payload)
    channel.flush()
    return 0


def _call(function: Any, args: tuple[Any, ...], database: str | None) -> Any:
    if database is None:
        return function(*args)
    from storage import Storage

    storage = Storage.open(database)
    try:
        return function(storage, *args)
    finally:
        storage.close()


if __name__ == "__main__":
    raise SystemExit(main())
