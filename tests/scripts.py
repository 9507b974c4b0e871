"""The repository's scripts (layers/build_layers.py, benchmarks/cost.py, ...) as modules, for
the tests that check what they compute without running them as programs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_script(path: str, name: str) -> ModuleType:
    """``ROOT / path`` imported once as ``name`` (kept in ``sys.modules``: dataclasses look
    their module up by name)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
