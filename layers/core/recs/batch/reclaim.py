"""Hand freed memory back to the operating system between a step's phases.

A step's peak resident memory is what its Lambda must be sized (and billed) for. numpy's
arrays come from glibc's malloc, which keeps freed memory in its arenas (one per thread,
and the ranking runs on worker threads), and Arrow's pool keeps freed buffers for reuse;
neither gives them back unprompted: without this, the train step would write the model
while still holding hundreds of megabytes it has freed. Where there is no glibc (macOS,
musl) only Arrow's pool is released: the results are the same, only the peak differs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable
from typing import Any


def _malloc_trim() -> Callable[[int], Any] | None:
    try:
        trim: Callable[[int], Any] = ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    return trim


_MALLOC_TRIM = _malloc_trim()


def release_memory() -> None:
    """Return what Arrow's pool and malloc hold but no longer use."""
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
