"""The compiled kernels build for this machine and for Lambda, and load on Lambda's glibc."""

from __future__ import annotations

import platform
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from tests.scripts import load_script


def build_kernels() -> ModuleType:
    return load_script("layers/build_kernels.py", "build_kernels")


needs_compiler = pytest.mark.skipif(
    not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")),
    reason="no C compiler on this machine: the numpy path runs instead (apt-get install gcc)")


@needs_compiler
def test_the_library_needs_no_glibc_newer_than_lambdas(tmp_path: Path) -> None:
    """Amazon Linux 2023 (python3.12's runtime) has glibc 2.34: a symbol from a newer glibc
    would fail to load there while every test here passed."""
    kernels = build_kernels()
    library = kernels.build(out=tmp_path)
    assert library.name == f"_kernels.{platform.machine()}.so"
    versions = kernels.glibc_versions(library)
    assert versions, "a library linked against glibc names its symbol versions"
    assert max(versions) <= kernels.LAMBDA_GLIBC


def test_a_missing_cross_compiler_is_named_with_its_package(
        monkeypatch: pytest.MonkeyPatch) -> None:
    kernels = build_kernels()
    other = "aarch64" if platform.machine() != "aarch64" else "x86_64"
    monkeypatch.setattr(kernels.shutil, "which", lambda name: None)
    with pytest.raises(kernels.BuildError, match=f"apt-get install gcc-{other}-linux-gnu"):
        kernels.build(other)


@needs_compiler
def test_a_c_error_fails_the_build_with_the_compilers_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kernels = build_kernels()
    broken = tmp_path / "broken.c"
    broken.write_text("int f(void) { return undefined_name; }\n")
    monkeypatch.setattr(kernels, "SOURCES", (broken,))
    with pytest.raises(kernels.BuildError, match="undefined_name"):
        kernels.build(out=tmp_path / "out")
    assert not list((tmp_path / "out").glob("_kernels.*"))
