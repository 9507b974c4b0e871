"""Freed memory goes back to the system between a batch step's phases (glibc and Arrow).

How much comes back depends on the allocator's state, so these tests pin what
``release_memory`` asks of each allocator, not how many bytes the system sees again.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

from recs.batch import reclaim


class _Pool:
    def __init__(self) -> None:
        self.released = 0

    def release_unused(self) -> None:
        self.released += 1


def test_it_releases_arrows_pool_and_trims_malloc(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = _Pool()
    trims: list[int] = []
    monkeypatch.setitem(sys.modules, "pyarrow", SimpleNamespace(default_memory_pool=lambda: pool))
    monkeypatch.setattr(reclaim, "_MALLOC_TRIM", lambda pad: trims.append(pad) or 1)
    reclaim.release_memory()
    assert pool.released == 1
    assert trims == [0]  # pad 0: keep nothing spare at the top of the heap


def test_without_glibc_only_arrows_pool_is_released(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = _Pool()
    monkeypatch.setitem(sys.modules, "pyarrow", SimpleNamespace(default_memory_pool=lambda: pool))
    monkeypatch.setattr(reclaim, "_MALLOC_TRIM", None)
    reclaim.release_memory()
    assert pool.released == 1


def test_a_step_without_pyarrow_does_not_load_it() -> None:
    """A step that never loaded pyarrow must not pay for importing it just to release."""
    script = textwrap.dedent("""
        import sys
        from recs.batch import reclaim
        reclaim.release_memory()
        print("pyarrow" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_on_glibc_malloc_trim_is_found_and_callable() -> None:
    assert reclaim._MALLOC_TRIM is not None
    assert reclaim._MALLOC_TRIM(0) in (0, 1)  # 1 when memory was given back, 0 when none was
