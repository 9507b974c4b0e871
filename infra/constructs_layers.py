"""The Lambda layers, deployed from what ``layers/build_layers.py`` built.

The CDK app never builds layers itself (no Docker, no network during synthesis): it takes
``<layer_root>/<name>/`` and refuses, with the command to run, a layer that is missing or whose
stamp no longer matches its inputs (another architecture, other pinned versions, or a changed
``recs`` package: deploying a stale ``core`` layer would ship old code). The stamp's input hash
is the asset hash, so synthesis does not fingerprint ~300 MB of files on every run.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from aws_cdk import AssetHashType
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO_ROOT / "layers" / "build_layers.py"
DEFAULT_LAYER_ROOT = REPO_ROOT / "build" / "layers"

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURES = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}


class LayersNotBuiltError(RuntimeError):
    """A layer directory is missing or stale; the message says what to run."""


def build_script() -> ModuleType:
    """``layers/build_layers.py`` as a module (it is a script, not part of a package)."""
    name = "recs_build_layers"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BUILD_SCRIPT)
    if spec is None or spec.loader is None:
        raise LayersNotBuiltError(f"cannot load {BUILD_SCRIPT}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def _command(arch: str, layer_root: Path) -> str:
    cmd = "python layers/build_layers.py"
    if arch != "x86_64":
        cmd += f" --arch {arch}"
    if layer_root.resolve() != DEFAULT_LAYER_ROOT:
        cmd += f" --out {layer_root}"
    return cmd


def check_layer(name: str, layer_root: Path, arch: str, allow_stale: bool = False) -> str:
    """The asset hash of ``<layer_root>/<name>``; raises when it is missing or stale.

    ``allow_stale`` (tests only: they check the template, not the layer contents) accepts a
    stale layer and returns the hash its stamp recorded, i.e. the inputs it was built from.
    """
    script = build_script()
    if RUNTIME.name.removeprefix("python") != script.PYTHON_VERSION:
        raise LayersNotBuiltError(
            f"layers are built for Python {script.PYTHON_VERSION}, functions run {RUNTIME.name}"
        )
    directory = layer_root / name
    if not (directory / "python").is_dir():
        raise LayersNotBuiltError(
            f"Lambda layer '{name}' is not built (no {directory}/python). "
            f"Run `{_command(arch, layer_root)}` from the repository root first."
        )
    stamp = script.read_stamp(layer_root, name) or {}
    expected = script.layer_hash(name, arch)
    if stamp.get("hash") != expected:
        if allow_stale and stamp.get("hash"):
            return str(stamp["hash"])
        raise LayersNotBuiltError(
            f"Lambda layer '{name}' in {directory} is out of date (built for arch "
            f"{stamp.get('arch', '?')}, or its pinned versions or the recs package changed). "
            f"Run `{_command(arch, layer_root)}` from the repository root."
        )
    return str(expected)


def layer_versions(
    scope: Construct,
    names: Iterable[str],
    layer_root: Path,
    arch: str,
    allow_stale: bool = False,
) -> dict[str, lambda_.LayerVersion]:
    """One LayerVersion per name, from the built and current layer directories."""
    descriptions = {name: spec.description for name, spec in build_script().LAYERS.items()}
    layers = {}
    for name in sorted(set(names)):
        if name not in descriptions:
            raise LayersNotBuiltError(f"no layer '{name}' in {BUILD_SCRIPT.name}")
        digest = check_layer(name, layer_root, arch, allow_stale)
        layers[name] = lambda_.LayerVersion(
            scope,
            f"{name.capitalize()}Layer",
            code=lambda_.Code.from_asset(
                str(layer_root / name), asset_hash_type=AssetHashType.CUSTOM, asset_hash=digest
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURES[arch]],
            description=f"recs {name}: {descriptions[name]}",
        )
    return layers
