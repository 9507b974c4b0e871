"""Each function imports only what its layers carry; the API never loads numpy, scipy, pyarrow.

Run in a fresh interpreter per function with an import hook that refuses the science
packages a function's layers do not include, exactly as Lambda would fail at cold start.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from recs.contracts import resources
from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
LAYER_PACKAGES = {"core": set(), "arrow": {"pyarrow", "numpy"},
                  "batch": {"pyarrow", "numpy", "scipy"}}
SCIENCE = {"numpy", "scipy", "pyarrow"}


def _trimmed_scipy_modules() -> set[str]:
    """The scipy subpackages layers/build_layers.py leaves out of the batch layer."""
    module = load_script("layers/build_layers.py", "build_layers")
    return {path.replace("/", ".") for path in module.SCIPY_UNUSED if path.startswith("scipy/")}

SCRIPT = textwrap.dedent("""
    import importlib.abc, importlib.util, os, sys
    blocked = set(sys.argv[2].split(",")) - {""}

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if any(name == b or name.startswith(b + ".") for b in blocked):
                raise ImportError(f"{name} is not in this function's layers")
            return None

    sys.meta_path.insert(0, Refuse())
    os.environ.update({
        "RECS_BUCKET": "b", "RECS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q",
        "RECS_DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/dlq",
        "RECS_RECOMMENDATIONS_TABLE": "r", "RECS_REGISTRY_TABLE": "g",
        "RECS_REALTIME_TABLE": "t", "RECS_EXPERIMENTS_TABLE": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    })
    spec = importlib.util.spec_from_file_location("fn", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"numpy", "scipy", "pyarrow"})
    print(",".join(sorted({m.split(".")[0] for m in loaded})))
""")


@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda s: s.name)
def test_a_function_imports_only_what_its_layers_carry(spec: resources.FunctionSpec) -> None:
    available = set().union(*(LAYER_PACKAGES[layer] for layer in spec.layers))
    blocked = SCIENCE - available
    if "batch" in spec.layers:
        blocked |= _trimmed_scipy_modules()
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT / "functions" / f"{spec.module}.py"),
         ",".join(sorted(blocked))],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    last_line = (result.stdout.strip().splitlines() or [""])[-1]
    loaded = set(filter(None, last_line.split(",")))
    assert loaded <= available


def test_the_api_function_has_no_science_layer() -> None:
    assert resources.API.layers == ("core",)


@pytest.mark.parametrize("module", ["api", "ingest", "admin"])
def test_the_http_functions_start_without_pydantic(module: str) -> None:
    """Parameters are checked by hand (recs.api.params): pydantic would cost ~90 ms of cold start.

    Only opening /swagger loads it, for Swagger UI's page."""
    blocked = ",".join(sorted(SCIENCE | {"pydantic"}))
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "functions" / f"{module}.py"),
                             blocked], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
