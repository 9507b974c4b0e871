"""uv.lock is the one source of versions: the dev environment is installed from it (``make``),
the Lambda layers are pinned from it (layers/build_layers.py), and it must match pyproject.toml.

The checks run uv offline: a lock that matches needs no registry, and one that does not is
refused either way.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from uv import find_uv_bin

from tests.infra.test_layers import build_script

REPO_ROOT = Path(__file__).resolve().parents[2]


def uv_lock_check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [find_uv_bin(), "lock", "--check", "--offline", "--python", sys.executable,
         "--project", str(project)],
        capture_output=True, text=True, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        timeout=120,
    )


def test_the_lock_matches_pyproject() -> None:
    result = uv_lock_check(REPO_ROOT)
    assert result.returncode == 0, (
        f"uv.lock does not match pyproject.toml: run `make lock` and commit uv.lock\n"
        f"{result.stderr}"
    )


EDITS = {
    "a dependency added": ('    "pyarrow>=15",\n', '    "pyarrow>=15",\n    "pyfiglet>=1",\n'),
    "a bound tightened": ('"scipy>=1.11"', '"scipy>=1.11,<1.12"'),
    "a dependency dropped": ('    "pyarrow>=15",\n', ""),
    "an extra added back": ('"aws-lambda-powertools>=3.20,<4"',
                            '"aws-lambda-powertools[tracer]>=3.20,<4"'),
    "a dev dependency added": ('    "pytest>=8",\n', '    "pytest>=8",\n    "pytest-xdist",\n'),
}


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_editing_the_dependencies_without_relocking_fails_the_check(
    tmp_path: Path, edit: str
) -> None:
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    assert uv_lock_check(tmp_path).returncode == 0  # the copy as it is passes
    old, new = EDITS[edit]
    pyproject = (tmp_path / "pyproject.toml").read_text()
    assert pyproject.count(old) == 1, f"{old!r} no longer in pyproject.toml"
    (tmp_path / "pyproject.toml").write_text(pyproject.replace(old, new))
    assert uv_lock_check(tmp_path).returncode != 0


def test_the_layers_carry_the_versions_the_tests_run_against() -> None:
    script = build_script()
    for name, spec in script.LAYERS.items():
        for pin in script.resolve_pins(spec.requirements, "x86_64", script.PYTHON_VERSION):
            distribution, version = pin.split("==")
            assert metadata.version(distribution) == version, (
                f"layer {name} pins {pin} from uv.lock, the environment has "
                f"{metadata.version(distribution)}: run `make` to install from the lock")
            assert script.locked_hashes(pin), f"uv.lock has no wheel hash for {pin}"


def test_the_core_layer_leaves_out_what_no_function_imports() -> None:
    script = build_script()
    pins = script.resolve_pins(script.LAYERS["core"].requirements, "x86_64",
                               script.PYTHON_VERSION)
    names = {pin.split("==")[0] for pin in pins}
    assert "aws-lambda-powertools" in names
    assert not names & {"aws-xray-sdk", "fastjsonschema", "wrapt", "boto3", "botocore"}


def test_a_requirement_missing_from_the_lock_is_an_error_naming_it() -> None:
    script = build_script()
    with pytest.raises(SystemExit, match=r"no-such-package \(needed by the layer\) is not in"):
        script.resolve_pins(["no-such-package"], "x86_64", script.PYTHON_VERSION)
