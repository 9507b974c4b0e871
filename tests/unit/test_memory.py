"""Freed memory goes back to the system between a batch step's phases (glibc and Arrow)."""

from __future__ import annotations

import platform

import numpy as np
import pytest

from recs.batch import memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_on_glibc_malloc_trim_is_found_and_gives_back_freed_memory() -> None:
    assert memory._MALLOC_TRIM is not None

    def resident_mb() -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096 / 2**20

    # Arrays below malloc's mmap threshold come from its heap; one kept after them pins the
    # heap's top, so freeing them gives nothing back until the heap is trimmed.
    arrays = [np.ones(8_192) for _ in range(3_000)]  # 64 KB each, 192 MB
    pin = np.ones(8_192)
    del arrays
    before = resident_mb()
    memory.release_memory()
    assert before - resident_mb() > 96
    del pin


def test_it_is_safe_whatever_is_loaded() -> None:
    memory.release_memory()
    memory.release_memory()
