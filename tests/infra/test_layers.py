"""Each function's code and layers fit Lambda's 250 MB unzipped limit (docs/architecture.md).

Measures what ``python layers/build_layers.py`` built (``make layers``); builds nothing itself,
so it never reaches the network. Skipped when the layers have not been built.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from recs.contracts import resources
from tests.scripts import load_script

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LAYER_ROOT = REPO_ROOT / "build" / "layers"
LIMIT = 250 * 1024 * 1024  # Lambda: function code + layers, unzipped
MIB = 1024 * 1024


def build_script() -> ModuleType:
    """layers/build_layers.py, for its dir_size (without importing aws_cdk here)."""
    return load_script("layers/build_layers.py", "recs_build_layers")


@pytest.fixture(scope="module")
def sizes() -> dict[str, int]:
    script = build_script()
    names = {layer for spec in resources.FUNCTIONS for layer in spec.layers}
    missing = sorted(n for n in names if not (DEFAULT_LAYER_ROOT / n / "python").is_dir())
    if missing:
        pytest.skip(f"layers {missing} not built in {DEFAULT_LAYER_ROOT}: run `make layers`")
    measured = {name: script.dir_size(DEFAULT_LAYER_ROOT / name) for name in names}
    measured["functions/"] = script.dir_size(REPO_ROOT / "functions")
    return measured


@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda s: s.name)
def test_function_code_and_layers_fit_in_250_mb_unzipped(
    sizes: dict[str, int], spec: resources.FunctionSpec
) -> None:
    parts = {name: sizes[name] for name in ("functions/", *spec.layers)}
    total = sum(parts.values())
    print(
        f"{spec.name}: {total / MIB:.1f} MiB = "
        + " + ".join(f"{name} {size / MIB:.1f}" for name, size in parts.items())
    )
    assert total <= LIMIT, f"{spec.name} needs {total / MIB:.1f} MiB unzipped (limit 250 MB)"


def test_api_path_carries_no_numpy_scipy_or_pyarrow() -> None:
    core = DEFAULT_LAYER_ROOT / "core" / "python"
    if not core.is_dir():
        pytest.skip(f"core layer not built in {DEFAULT_LAYER_ROOT}: run `make layers`")
    assert resources.API.layers == ("core",)
    bundled = {p.name for p in core.iterdir()}
    assert not bundled & {"numpy", "scipy", "pyarrow"}


def test_core_layer_carries_the_kernels_built_for_the_lambda_architecture() -> None:
    """The batch functions load the compiled kernels from the core layer: one library, for
    the architecture the stack deploys (the layer's stamp), not a copy of the host's."""
    core = DEFAULT_LAYER_ROOT / "core" / "python"
    if not core.is_dir():
        pytest.skip(f"core layer not built in {DEFAULT_LAYER_ROOT}: run `make layers`")
    stamp = build_script().read_stamp(DEFAULT_LAYER_ROOT, "core")
    assert stamp is not None
    machine = {"x86_64": "x86_64", "arm64": "aarch64"}[str(stamp["arch"])]
    libraries = sorted(p.name for p in (core / "recs/algorithms/kernels").glob("_kernels.*"))
    assert libraries == [f"_kernels.{machine}.so"]
