"""The C library, for the two calls Python's standard library lacks (prctl, malloc_trim)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


@functools.cache
def glibc() -> ctypes.CDLL | None:
    """Linux's C library, or None elsewhere (the callers' features are Linux-only)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None


def return_freed_memory() -> None:
    """Hand memory freed by the C allocator back to the system: glibc otherwise keeps it
    for later allocations, so what a dropped structure held stays in the process. A no-op
    where there is no glibc (musl, macOS, Windows)."""
    libc = glibc()
    trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    if trim is not None:
        trim(0)


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to kill this process when `serve` dies (kill -9 of `serve` is then kill -9
    of all its processes); elsewhere the closed link to the parent stops it."""
    libc = glibc()
    if libc is not None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # it died before the request above was made
        os._exit(1)
