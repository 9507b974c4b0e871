"""Compile the batch's C kernels (``recs/algorithms/kernels/*.c``) into one shared library.

    python layers/build_kernels.py [--arch x86_64|arm64] [--out DIR]

Without ``--arch`` it builds for this machine into the package directory, where
``recs.algorithms.kernels`` loads it (``make`` does this); ``layers/build_layers.py`` builds
the Lambda architecture's library into the core layer. The sources use nothing but the C
standard library, so an x86_64 build needs ``gcc`` and an arm64 build on an x86_64 machine
Debian's cross compiler (``apt-get install gcc-aarch64-linux-gnu``); no Python headers.

Flags: ``-O3`` for the baseline of the architecture (no ``-march``: the library must run on
any Lambda host), ``-ffp-contract=off`` so no multiply-add is fused (the kernels must round
exactly as numpy and scipy do; aarch64 compilers fuse by default), and warnings as errors.
The library must load on Lambda's Amazon Linux 2023 (glibc 2.34): ``glibc_versions`` lists
the symbol versions it needs, which tests/unit/test_kernels_build.py holds to that.
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "layers" / "core"))

from recs.algorithms.kernels import HERE as KERNELS_DIR  # noqa: E402
from recs.algorithms.kernels import SOURCES, library_file  # noqa: E402

MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}
"""CDK/Lambda architecture name -> ``platform.machine()`` of its hosts."""

FLAGS = ("-O3", "-std=c11", "-fPIC", "-shared", "-ffp-contract=off", "-fno-math-errno",
         "-Wall", "-Wextra", "-Werror")

LAMBDA_GLIBC = (2, 34)
"""Amazon Linux 2023's glibc, the python3.12 runtime's: the library may need no newer symbol."""


class BuildError(Exception):
    """The kernels could not be compiled (no compiler for the architecture, or a C error)."""


def compiler(machine: str) -> str:
    """The C compiler for ``machine``: the host's ``cc`` for its own, else a cross compiler."""
    if machine == platform.machine():
        for name in ("cc", "gcc", "clang"):
            if shutil.which(name):
                return name
        raise BuildError("no C compiler (cc, gcc or clang) on PATH: apt-get install gcc")
    cross = f"{machine}-linux-gnu-gcc"
    if shutil.which(cross):
        return cross
    raise BuildError(f"building for {machine} on {platform.machine()} needs {cross}: "
                     f"apt-get install gcc-{machine}-linux-gnu")


def build(machine: str | None = None, out: Path | None = None) -> Path:
    """Compile every kernel source into ``out/_kernels.<machine>.so``; returns its path."""
    machine = machine or platform.machine()
    out = out or KERNELS_DIR
    out.mkdir(parents=True, exist_ok=True)
    target = out / library_file(machine)
    partial = target.with_suffix(".tmp")
    command = [compiler(machine), *FLAGS, "-o", str(partial), *map(str, SOURCES)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BuildError(f"{' '.join(command)} failed:\n{done.stderr}")
    partial.replace(target)
    return target


def glibc_versions(library: Path) -> set[tuple[int, ...]]:
    """The glibc symbol versions ``library`` needs (from ``readelf --dyn-syms``)."""
    dump = subprocess.run(["readelf", "--dyn-syms", "--wide", str(library)],
                          capture_output=True, text=True, check=True).stdout
    return {tuple(int(p) for p in v.split(".")) for v in re.findall(r"GLIBC_([0-9.]+)", dump)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(MACHINES), help="default: this machine")
    parser.add_argument("--out", type=Path, help="default: the kernels' package directory")
    args = parser.parse_args(argv)
    try:
        path = build(MACHINES[args.arch] if args.arch else None, args.out)
    except BuildError as exc:
        print(f"build_kernels: {exc}", file=sys.stderr)
        return 1
    shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
    print(f"kernels  built        {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
