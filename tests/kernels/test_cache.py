"""Disk cache of the CPU kernels (kernels/_cache.py): hits across imports, misses after a math edit."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from kernels import _cache

SOURCE = """
import numba
from kernels._cache import cached_njit


@cached_njit()
def plain(x):
    return x * 2 + 1


def make(k):
    helper = numba.njit(lambda v: v + k)

    @cached_njit(key=f"k={k}")
    def kernel(x):
        return helper(x) * 3

    return kernel
"""


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as a real import does: numba rebuilds cached code by module name
    spec.loader.exec_module(module)
    return module


def _hits(dispatcher: object) -> int:
    return sum(dispatcher.stats.cache_hits.values())  # type: ignore[attr-defined]


@pytest.fixture
def kernel_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    path = tmp_path / "cached_kernels_mod.py"
    path.write_text(SOURCE)
    yield path
    sys.modules.pop("cached_kernels_mod", None)


def test_a_fresh_import_loads_from_disk(kernel_file: Path) -> None:
    first = _load(kernel_file, "cached_kernels_mod")
    assert first.plain(3) == 7 and _hits(first.plain) == 0
    again = _load(kernel_file, "cached_kernels_mod")  # new dispatchers, as in a new process
    assert again.plain(3) == 7 and _hits(again.plain) == 1
    assert list((kernel_file.parent / "__pycache__").glob("cached_kernels_mod.plain-*.nbi"))


def test_a_closure_with_a_key_is_found_again(kernel_file: Path) -> None:
    assert _load(kernel_file, "cached_kernels_mod").make(2)(1) == 9
    again = _load(kernel_file, "cached_kernels_mod")
    k2 = again.make(2)
    assert k2(1) == 9 and _hits(k2) == 1
    k5 = again.make(5)  # another key: compiled, not confused with k=2
    assert k5(1) == 18 and _hits(k5) == 0


def test_an_edit_of_the_math_sources_recompiles(kernel_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _load(kernel_file, "cached_kernels_mod").plain(1) == 3
    monkeypatch.setattr(_cache, "math_sources_digest", lambda: "edited")
    again = _load(kernel_file, "cached_kernels_mod")
    assert again.plain(1) == 3 and _hits(again.plain) == 0


def test_math_digest_covers_the_math_package() -> None:
    digest = _cache.math_sources_digest()
    assert len(digest) == 64 and digest == _cache.math_sources_digest()


def test_misuse_is_refused() -> None:
    with pytest.raises(TypeError, match="do not pass cache="):
        _cache.cached_njit(cache=True)
    k = 1
    with pytest.raises(TypeError, match=r"key=\.\.\.\) is required for the closure"):
        _cache.cached_njit()(lambda x: x + k)


def test_numba_cache_dir_is_honoured(
    kernel_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NUMBA_CACHE_DIR (e.g. for a read-only install) takes the files instead of ``__pycache__``."""
    from numba.core import config

    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path / "numba-cache"))
    assert _load(kernel_file, "cached_kernels_mod").plain(2) == 5
    assert list((tmp_path / "numba-cache").rglob("cached_kernels_mod.plain-*.nbi"))
    assert not (kernel_file.parent / "__pycache__").exists() or not list(
        (kernel_file.parent / "__pycache__").glob("*.nbi")
    )
    again = _load(kernel_file, "cached_kernels_mod")
    assert again.plain(2) == 5 and _hits(again.plain) == 1
