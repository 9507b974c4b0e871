"""Compiled kernels for the batch's two hot loops: ranking users and item-item similarity.

The ranking (score every candidate, keep each user's top ``n``, name the history item behind
each) and the similarity (co-occurrence, rescaled, top ``k`` per item) were chains of numpy
and scipy passes, each writing arrays as long as the block's products; in C each user or item
is one pass over a dense scratch row. The C sources beside this file hold no Python API: the
library is plain C loaded with ``ctypes`` (which releases the GIL during a call, so blocks run
on the ``recs.algorithms.threads`` workers), built by ``layers/build_kernels.py`` for the host
(``make``) and for the Lambda platform (``layers/build_layers.py``).

Both give exactly the numpy path's results (same float32 operations in the same order, same
ties); the property tests compare them. Where the library is absent (a machine without a C
compiler) or ``RECS_KERNELS=off``, the numpy path runs: slower, never different.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, cast

import numpy as np

HERE = Path(__file__).resolve().parent
SOURCES = tuple(sorted(HERE.glob("*.c")))


def library_file(machine: str) -> str:
    """The library's file name for a machine (``platform.machine()``: x86_64, aarch64)."""
    return f"_kernels.{machine}.so"


def enabled() -> bool:
    """Whether the compiled kernels may run: ``RECS_KERNELS=off`` forces the numpy path."""
    return os.environ.get("RECS_KERNELS", "").strip().lower() not in ("off", "0", "false", "no")


@cache
def _load(machine: str) -> ctypes.CDLL | None:
    path = HERE / library_file(machine)
    return ctypes.CDLL(str(path)) if path.is_file() else None


def function(name: str, argtypes: Sequence[Any]) -> Callable[..., int] | None:
    """The library's function ``name`` (returning int64: 0, a count, or -1 when out of
    memory), or None when the library is absent or turned off."""
    lib = _load(platform.machine()) if enabled() else None
    if lib is None:
        return None
    fn = getattr(lib, name)
    fn.argtypes = list(argtypes)
    fn.restype = ctypes.c_int64
    return cast(Callable[..., int], fn)


def available() -> bool:
    """Whether the compiled kernels run here (built, and not turned off)."""
    return enabled() and _load(platform.machine()) is not None


def pointer(array: np.ndarray | None) -> ctypes.c_void_p:
    """A C pointer to a contiguous array's first element, NULL for None (the caller keeps
    the array alive for the call)."""
    if array is None:
        return ctypes.c_void_p(None)
    if not array.flags.c_contiguous:
        raise ValueError("kernel arguments must be contiguous arrays")
    return ctypes.c_void_p(array.ctypes.data)


# Argument types the wrappers declare their functions with.
P = ctypes.c_void_p
I64 = ctypes.c_int64
F32 = ctypes.c_float
