"""Build the Lambda layers the CDK app deploys: ``core``, ``arrow`` and ``batch``.

    python layers/build_layers.py [--out build/layers] [--arch x86_64|arm64] [--force]
                                  [--only core,arrow] [--verify]

Each layer lands in ``<out>/<layer>/python/...`` (the layout Lambda mounts under /opt):

- ``core``: the ``recs`` package (copied from ``layers/core/recs``) plus aws-lambda-powertools
  (no extras: the handlers use its Logger, event handler and batch utilities; X-Ray is off, see
  infra/stack.py) and pydantic, which only Swagger UI's page loads (request parameters are
  checked by ``recs.api.params``, off the cold start).
- ``arrow``: pyarrow + numpy (the lander and the weighting step).
- ``batch``: pyarrow + numpy + the sparse part of scipy (train, evaluate, export). Training
  tunes itself on the window's events (pyarrow) with sparse models (scipy); both whole would
  not fit Lambda's 250 MB, but the batch only ever imports ``scipy.sparse`` (a test checks),
  so every other scipy subpackage and scipy's bundled OpenBLAS/Fortran runtime are left out.

Third-party wheels come from PyPI for the Lambda platform, not the host: ``pip install
--platform manylinux_2_28_<arch> --platform manylinux2014_<arch> --only-binary=:all:
--python-version 3.12 --implementation cp --no-deps --require-hashes``. Versions and hashes
come from ``uv.lock``, the lock the dev environment is installed from (``make``): the dependency
closure of each layer's requirements is walked through the lock's entries, with environment
markers evaluated for the Lambda runtime, so the layers carry the exact versions the tests ran
against, and every wheel is checked against the lock's hashes. boto3/botocore/s3transfer are
left out: the Lambda runtime provides them.

Trimming (conservative, see ``TRIM_*`` below): ``__pycache__`` (the host would compile for its
own Python version, which the runtime cannot use), ``tests`` packages, Cython sources and C/C++
headers, static libraries, console scripts, and pyarrow's Flight RPC, the C++ test module and the
remote filesystems (S3, GCS, Azure, HDFS). Nothing that ``pyarrow.parquet``, ``pyarrow.compute``
or ``pyarrow.dataset`` links against is removed (checked with ``readelf -d`` on pyarrow 26: every
extension module needs libarrow, libarrow_compute, libarrow_acero, libarrow_dataset, libparquet,
libarrow_substrait and libarrow_python, which all stay; only ``_s3fs`` needs ``libarrow_s3`` and
only ``_flight`` needs the Flight libraries). Consequence for the code: S3 I/O goes through boto3;
``pyarrow.fs.S3FileSystem`` is not available in the layer (``pyarrow.fs`` itself still imports).

``--verify`` checks the trimming for real: it builds the third-party part of every layer again
for the *host* interpreter (same versions, same trimming) into a temporary directory and imports
and exercises it (Parquet round trip with zstd, a Hive-partitioned dataset, compute kernels, a
sparse product) in a subprocess that sees nothing but the standard library and that layer.

The build is incremental: ``<out>/.<layer>.stamp.json`` records a hash of the layer's inputs
(pins, platform, Python version, trimming rules and, for ``core``, every file of the ``recs``
package); a layer whose stamp matches is skipped. The CDK app reads the same stamps to refuse a
missing or stale layer and uses the hash as the asset hash.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

sys.path.insert(0, str(Path(__file__).resolve().parent))  # build_kernels, beside this script
import build_kernels as kernels

REPO_ROOT = Path(__file__).resolve().parent.parent
CORE_PACKAGE = REPO_ROOT / "layers" / "core" / "recs"
DEFAULT_OUT = REPO_ROOT / "build" / "layers"
LOCK_FILE = REPO_ROOT / "uv.lock"

PYTHON_VERSION = "3.12"
"""The Lambda runtime the layers are built for; infra/stack.py deploys python3.12 to match."""

ARCHES = {"x86_64": "x86_64", "arm64": "aarch64"}
"""CDK/Lambda architecture name -> manylinux platform suffix."""

LAMBDA_LIMIT_BYTES = 250 * 1024 * 1024
"""Lambda's limit on a function's code plus layers, unzipped."""


@dataclass(frozen=True)
class LayerSpec:
    name: str
    requirements: tuple[str, ...]
    include_recs: bool = False
    description: str = ""
    extra_trim_dirs: tuple[str, ...] = ()  # layer-specific removals (globs under python/)


# scipy subpackages the batch never imports (it uses scipy.sparse, which needs scipy._lib).
SCIPY_UNUSED = (
    *(f"scipy/{name}" for name in (
        "cluster", "constants", "datasets", "differentiate", "fft", "fftpack", "integrate",
        "interpolate", "io", "linalg", "misc", "ndimage", "odr", "optimize", "signal",
        "spatial", "special", "stats", "sparse/linalg",
    )),
    "scipy.libs",  # OpenBLAS and the Fortran runtime: only linalg-based modules link them
)


LAYERS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in (
        LayerSpec(
            "core",
            ("aws-lambda-powertools", "pydantic"),
            include_recs=True,
            description="recs package, aws-lambda-powertools, pydantic",
        ),
        LayerSpec("arrow", ("pyarrow", "numpy"), description="pyarrow + numpy"),
        LayerSpec(
            "batch",
            ("pyarrow", "numpy", "scipy"),
            description="pyarrow + numpy + scipy.sparse",
            extra_trim_dirs=SCIPY_UNUSED,
        ),
    )
}

RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
"""Distributions the Lambda Python runtime already has; not bundled, their deps not walked."""

# Trimming rules. Paths are relative to the layer's python/ directory (fnmatch patterns).
TRIM_DIR_NAMES = ("__pycache__", "tests")
TRIM_DIRS = (
    "bin",  # console scripts written by pip --target (f2py, numpy-config, ...)
    "numpy/_core/include",  # C headers, for building extensions only
    "numpy/_core/lib",  # libnpymath.a and pkg-config files, build-time only
    "pyarrow/include",  # C++ headers
    "pyarrow/includes",  # Cython declarations
    "pyarrow/src",  # C++ sources of the Python bindings
)
TRIM_FILE_GLOBS = ("*.pyc", "*.pyx", "*.pxd", "*.pxi", "*.h", "*.hpp", "*.a")
TRIM_FILES = (
    # Flight RPC: not used, and libarrow_flight alone is ~30 MB.
    "pyarrow/_flight.*.so",
    "pyarrow/flight.py",
    "pyarrow/libarrow_flight.so*",
    "pyarrow/libarrow_python_flight.so*",
    # Gandiva (absent from recent wheels; listed in case a build ships it).
    "pyarrow/gandiva*",
    "pyarrow/libgandiva.so*",
    # Remote filesystems: pyarrow.fs imports each one in try/except ImportError.
    "pyarrow/_s3fs.*.so",
    "pyarrow/libarrow_s3.so*",
    "pyarrow/_gcsfs.*.so",
    "pyarrow/_azurefs.*.so",
    "pyarrow/_hdfs.*.so",
    # pyarrow's own C++ test module and pytest configuration.
    "pyarrow/_pyarrow_cpp_tests.*.so",
    "pyarrow/conftest.py",
)


def _target_environment(arch: str, python_version: str) -> dict[str, str]:
    """PEP 508 marker environment of the Lambda runtime."""
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{python_version}.0",
        "os_name": "posix",
        "platform_machine": ARCHES[arch],
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{python_version}.0",
        "python_version": python_version,
        "sys_platform": "linux",
    }


@dataclass(frozen=True)
class LockedPackage:
    """One ``[[package]]`` of uv.lock: a version, its dependencies and its wheels' hashes."""

    name: str
    version: str
    dependencies: tuple[dict[str, Any], ...]
    optional: Mapping[str, tuple[dict[str, Any], ...]]
    resolution_markers: tuple[str, ...]
    wheel_hashes: tuple[str, ...]


@cache
def read_lock(path: Path = LOCK_FILE) -> dict[str, tuple[LockedPackage, ...]]:
    """uv.lock's packages by canonical name (more than one when the resolution forked)."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(f"{path} is missing: run `make lock`") from None
    packages: dict[str, list[LockedPackage]] = {}
    for entry in data.get("package", []):
        package = LockedPackage(
            name=canonicalize_name(entry["name"]),
            version=entry["version"],
            dependencies=tuple(entry.get("dependencies", ())),
            optional={extra: tuple(deps)
                      for extra, deps in entry.get("optional-dependencies", {}).items()},
            resolution_markers=tuple(entry.get("resolution-markers", ())),
            wheel_hashes=tuple(wheel["hash"] for wheel in entry.get("wheels", ())),
        )
        packages.setdefault(package.name, []).append(package)
    return {name: tuple(versions) for name, versions in packages.items()}


def _locked(
    lock: Mapping[str, tuple[LockedPackage, ...]], name: str, version: str | None,
    env: Mapping[str, str], needed_by: str,
) -> LockedPackage:
    """The entry of ``name`` the target environment gets: the version a dependency names, or
    the one whose resolution markers hold there."""
    candidates = lock.get(name, ())
    if version is not None:
        candidates = tuple(p for p in candidates if p.version == version)
    if len(candidates) > 1:
        candidates = tuple(p for p in candidates if not p.resolution_markers or any(
            Marker(m).evaluate({**env, "extra": ""}) for m in p.resolution_markers))
    if len(candidates) != 1:
        found = "not in" if not candidates else "ambiguous in"
        raise SystemExit(
            f"{name} (needed by {needed_by}) is {found} {LOCK_FILE.name}; add it to "
            "pyproject.toml's dependencies and run `make lock`"
        )
    return candidates[0]


def resolve_pins(requirements: Iterable[str], arch: str, python_version: str) -> list[str]:
    """``name==version`` for every distribution the requirements need on the target.

    Walks the dependency closure through uv.lock (extras followed, environment markers
    evaluated for the Lambda runtime), so the pins are exactly the dev environment's versions.
    A distribution the lock lacks is an error naming who needs it.
    """
    lock = read_lock()
    env = _target_environment(arch, python_version)
    pins: dict[str, str] = {}
    queue: list[tuple[str, str | None, frozenset[str], str]] = []
    for raw in requirements:
        req = Requirement(raw)
        queue.append((canonicalize_name(req.name), None, frozenset(req.extras), "the layer"))
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        name, version, extras, needed_by = queue.pop()
        if name in RUNTIME_PROVIDED or (name, extras) in seen:
            continue
        seen.add((name, extras))
        package = _locked(lock, name, version, env, needed_by)
        pins[name] = package.version
        dependencies = [*package.dependencies, *(
            dep for extra in sorted(extras) for dep in package.optional.get(extra, ()))]
        for dep in dependencies:
            marker = dep.get("marker")
            if marker is not None and not Marker(marker).evaluate({**env, "extra": ""}):
                continue
            queue.append((canonicalize_name(dep["name"]), dep.get("version"),
                          frozenset(dep.get("extra", ())), f"{name} {package.version}"))
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def locked_hashes(pin: str) -> tuple[str, ...]:
    """The lock's hashes of every wheel of a ``name==version`` pin."""
    name, version = pin.split("==")
    for package in read_lock().get(canonicalize_name(name), ()):
        if package.version == version:
            return package.wheel_hashes
    raise SystemExit(f"{pin} is not in {LOCK_FILE.name}")


def _file_digests(root: Path) -> dict[str, str]:
    digests = {}
    for path in sorted(root.rglob("*")):
        if (path.is_file() and "__pycache__" not in path.parts
                and path.suffix not in (".pyc", ".so", ".tmp")):  # no host-built kernels
            digests[path.relative_to(root).as_posix()] = hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
    return digests


def _platforms(arch: str) -> list[str]:
    suffix = ARCHES[arch]
    return [f"manylinux_2_28_{suffix}", f"manylinux2014_{suffix}"]


def layer_inputs(
    name: str, arch: str = "x86_64", python_version: str = PYTHON_VERSION
) -> dict[str, object]:
    """Everything a layer's content depends on; its hash decides whether to rebuild."""
    spec = LAYERS[name]
    inputs: dict[str, object] = {
        "layer": name,
        "arch": arch,
        "python_version": python_version,
        "platforms": _platforms(arch),
        "pins": resolve_pins(spec.requirements, arch, python_version),
        "trim": [TRIM_DIR_NAMES, TRIM_DIRS, TRIM_FILE_GLOBS, TRIM_FILES, spec.extra_trim_dirs],
    }
    if spec.include_recs:
        inputs["recs"] = _file_digests(CORE_PACKAGE)
    return inputs


def layer_hash(name: str, arch: str = "x86_64", python_version: str = PYTHON_VERSION) -> str:
    blob = json.dumps(layer_inputs(name, arch, python_version), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def stamp_path(out: Path, name: str) -> Path:
    return out / f".{name}.stamp.json"


def read_stamp(out: Path, name: str) -> dict[str, object] | None:
    path = stamp_path(out, name)
    if not path.is_file():
        return None
    try:
        stamp: dict[str, object] = json.loads(path.read_text())
    except ValueError:
        return None
    return stamp


def dir_size(path: Path) -> int:
    """Bytes of all regular files under ``path`` (what Lambda counts as unzipped size)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for file in files:
            full = os.path.join(root, file)
            if not os.path.islink(full):
                total += os.path.getsize(full)
    return total


def trim(python_dir: Path, extra_dirs: tuple[str, ...] = ()) -> int:
    """Delete what the functions never load; returns the bytes removed."""
    before = dir_size(python_dir)
    for pattern in (*TRIM_DIRS, *extra_dirs):
        for path in python_dir.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
    for root, dirs, files in os.walk(python_dir, topdown=True):
        rel_root = Path(root).relative_to(python_dir)
        for d in list(dirs):
            if d in TRIM_DIR_NAMES:
                shutil.rmtree(Path(root) / d)
                dirs.remove(d)
        for f in files:
            rel = (rel_root / f).as_posix()
            if any(fnmatch.fnmatch(f, g) for g in TRIM_FILE_GLOBS) or any(
                fnmatch.fnmatch(rel, g) for g in TRIM_FILES
            ):
                (Path(root) / f).unlink()
    return before - dir_size(python_dir)


def pip_install(pins: list[str], target: Path, platforms: list[str], python_version: str) -> None:
    """pip, for another platform, the pinned wheels only, each checked against uv.lock's hash."""
    if not pins:
        return
    requirements = target.parent / "requirements.txt"
    requirements.write_text("".join(
        f"{pin} " + " ".join(f"--hash={h}" for h in locked_hashes(pin)) + "\n" for pin in pins))
    cmd = [
        sys.executable, "-m", "pip", "install",
        "--target", str(target),
        *[arg for p in platforms for arg in ("--platform", p)],
        "--only-binary=:all:",
        "--python-version", python_version,
        "--implementation", "cp",
        "--no-deps",
        "--no-compile",
        "--disable-pip-version-check",
        "--quiet",
        "--require-hashes",
        "--requirement", str(requirements),
    ]  # fmt: skip
    try:
        subprocess.run(cmd, check=True)
    finally:
        requirements.unlink()


def build_layer(name: str, out: Path, arch: str, force: bool = False) -> Path:
    """Build one layer unless its stamp is current; returns the layer directory."""
    spec = LAYERS[name]
    inputs = layer_inputs(name, arch)
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    final = out / name
    stamp = read_stamp(out, name)
    if not force and stamp and stamp.get("hash") == digest and (final / "python").is_dir():
        print(f"{name:8s} up to date   {dir_size(final) / 2**20:7.1f} MiB unzipped")
        return final

    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    work = out / f".{name}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    python_dir = work / "python"
    python_dir.mkdir(parents=True)
    pins = list(inputs["pins"])  # type: ignore[call-overload]
    pip_install(pins, python_dir, _platforms(arch), PYTHON_VERSION)
    if spec.include_recs:
        shutil.copytree(
            CORE_PACKAGE, python_dir / "recs",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_kernels.*"),
        )
        # The batch's C kernels, compiled for the Lambda architecture (not the host's copy).
        kernels.build(kernels.MACHINES[arch], python_dir / "recs" / "algorithms" / "kernels")
    removed = trim(python_dir, spec.extra_trim_dirs)

    stamp_path(out, name).unlink(missing_ok=True)
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    size = dir_size(final)
    stamp_path(out, name).write_text(
        json.dumps({**inputs, "hash": digest, "size_bytes": size}, indent=2, sort_keys=True)
    )
    print(
        f"{name:8s} built        {size / 2**20:7.1f} MiB unzipped "
        f"({removed / 2**20:.1f} MiB trimmed, {time.monotonic() - started:.0f} s)"
    )
    return final


def report_functions(out: Path) -> None:
    """Each function's layers plus the functions/ code, against Lambda's 250 MB limit."""
    try:
        from recs.contracts.resources import FUNCTIONS
    except ImportError:  # the recs package is not installed in this interpreter
        return
    code = dir_size(REPO_ROOT / "functions")
    sizes = {name: dir_size(out / name) for name in LAYERS if (out / name).is_dir()}
    for fn in FUNCTIONS:
        if not all(layer in sizes for layer in fn.layers):
            continue
        total = code + sum(sizes[layer] for layer in fn.layers)
        flag = "OK" if total <= LAMBDA_LIMIT_BYTES else "OVER 250 MB"
        print(f"  fn {fn.name:8s} {'+'.join(fn.layers):14s} {total / 2**20:7.1f} MiB  {flag}")


_VERIFY_SCRIPTS = {
    "core": """
import pydantic, pydantic_core
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

class M(pydantic.BaseModel):
    x: int
assert M.model_validate({"x": "3"}).x == 3
from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html
app = APIGatewayRestResolver()
print("core ok", pydantic.VERSION)
""",
    "arrow": """
import io, os, tempfile
import numpy as np
import pyarrow as pa, pyarrow.compute as pc, pyarrow.dataset as ds, pyarrow.parquet as pq
import pyarrow.fs
t = pa.table({"item": ["a", "b", "a"], "w": np.array([1.0, 2.0, 3.0]),
              "dt": ["2024-01-01", "2024-01-01", "2024-01-02"]})
buf = io.BytesIO()
pq.write_table(t, buf, compression="zstd")
assert pq.read_table(io.BytesIO(buf.getvalue())).equals(t)
with tempfile.TemporaryDirectory() as d:
    pq.write_to_dataset(t, d, partition_cols=["dt"])
    got = ds.dataset(d, format="parquet", partitioning="hive").to_table()
    assert got.num_rows == 3
assert pc.sum(t["w"]).as_py() == 6.0
assert "S3FileSystem" in pyarrow.fs._not_imported
print("arrow ok", pa.__version__, np.__version__)
""",
    "batch": """
import io
import numpy as np, scipy
import pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
import scipy.sparse as sp
rng = np.random.default_rng(0)
x = sp.csr_matrix((rng.random(100), (rng.integers(0, 50, 100), rng.integers(0, 20, 100))),
                  shape=(50, 20))
s = (x.T @ x).tocsr()
assert s.shape == (20, 20) and s.multiply(s).sum() > 0
assert sp.vstack([s, s], format="csr").shape == (40, 20)
assert np.asarray(s.argmax(axis=1)).shape == (20, 1)
t = pa.table({"item": ["a", "b"], "w": [1.0, 2.0]})
buf = io.BytesIO()
pq.write_table(t, buf, compression="zstd")
assert pq.read_table(io.BytesIO(buf.getvalue())).equals(t)
assert pc.sum(t["w"]).as_py() == 3.0
try:
    import scipy.linalg
except ImportError:
    pass
else:
    raise AssertionError("scipy.linalg should be trimmed from the batch layer")
print("batch ok", scipy.__version__, pa.__version__, np.__version__)
""",
}


def verify(names: Iterable[str]) -> None:
    """Rebuild the third-party part for the host interpreter and exercise it in isolation."""
    host_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    arch = {"x86_64": "x86_64", "aarch64": "arm64"}[os.uname().machine]
    with tempfile.TemporaryDirectory(prefix="recs-layer-verify-") as tmp:
        for name in names:
            spec = LAYERS[name]
            python_dir = Path(tmp) / name / "python"
            python_dir.mkdir(parents=True)
            pins = resolve_pins(spec.requirements, arch, host_version)
            pip_install(pins, python_dir, _platforms(arch), host_version)
            trim(python_dir, spec.extra_trim_dirs)
            # -S: no site-packages; -E: ignore PYTHON* variables. Only stdlib + the layer.
            code = f"import sys; sys.path.insert(0, {str(python_dir)!r})\n" + _VERIFY_SCRIPTS[name]
            result = subprocess.run(
                [sys.executable, "-S", "-E", "-c", code], capture_output=True, text=True
            )
            if result.returncode != 0:
                raise SystemExit(f"verify {name}: FAILED\n{result.stderr}")
            print(f"verify {name}: {result.stdout.strip()} (host Python {host_version})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--arch", choices=sorted(ARCHES), default="x86_64")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument(
        "--only", default=",".join(LAYERS), help=f"comma-separated subset of {list(LAYERS)}"
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="also rebuild for the host Python in a temp dir and import-test the trimmed layers",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(LAYERS))
    if unknown:
        parser.error(f"unknown layers {unknown}; choose from {list(LAYERS)}")
    out = args.out if args.out.is_absolute() else Path.cwd() / args.out
    for name in names:
        build_layer(name, out, args.arch, force=args.force)
    report_functions(out)
    if args.verify:
        verify(names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
