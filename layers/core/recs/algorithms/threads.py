"""Blocked work on a few threads, with the standard library alone.

numpy's sorts and ufuncs, scipy's sparse kernels and Arrow's compute functions release the
GIL, so independent blocks of them run side by side on a Lambda's vCPUs. Here rather than in
``recs.algorithms.base`` so that the weight step, whose layer has no scipy, can use it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def threads() -> int:
    """Worker threads for blocked work: ``RECS_THREADS``, else the CPUs we may use."""
    raw = os.environ.get("RECS_THREADS", "")
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def in_threads(work: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
    """``[work(t) for t in tasks]`` on up to ``threads()`` workers, in task order."""
    workers = min(threads(), len(tasks))
    if workers <= 1:
        return [work(task) for task in tasks]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(work, tasks))
