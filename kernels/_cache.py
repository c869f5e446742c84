"""On-disk caching of the CPU kernels (numba ``cache=True``) that also follows the math they inline.

Why not plain ``numba.njit(cache=True)``: numba keys a cached kernel on the content of the file that
defines it, but the CPU kernels inline scalar math compiled from other files (``kernels/_math``,
through :func:`kernels._math.retarget.retarget`), so an edit there would leave a stale kernel in the
cache. :func:`cached_njit` compiles the same way and adds a hash of every ``kernels/_math`` source
file (and ``kernels/_jit.py``) to the cache stamp: an edit anywhere in the scalar math recompiles
every cached kernel once. Kernels built by a factory (closures, one per camera model) need a
``key`` naming what they capture: numba's own key hashes captured compiled functions, which pickle
with a random id, so they would never be found again (and the cache would grow on every run).

Where the cache lives is numba's choice, in its usual order: ``NUMBA_CACHE_DIR`` when set, else the
``__pycache__`` folder beside the kernel module (a fresh clone), else the user's cache folder
(``~/.cache/numba``; read-only installs). When numba's cache machinery cannot be extended (another
numba release) or no cache folder is writable, the kernels compile in memory as before and a debug
message says why. The CUDA simulator never involves this module (it runs the CUDA kernels in Python).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numba

__all__ = ["cached_njit", "math_sources_digest"]

_LOG = logging.getLogger(__name__)
_HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def math_sources_digest() -> str:
    """SHA-256 over the names and contents of ``kernels/_math/*.py`` and ``kernels/_jit.py`` (hex)."""
    h = hashlib.sha256()
    for path in [*sorted((_HERE / "_math").glob("*.py")), _HERE / "_jit.py"]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _dependent_cache(py_func: Callable[..., Any], key: str | None) -> Any:
    """A numba ``FunctionCache`` stamped with :func:`math_sources_digest`, keyed by ``key`` for closures."""
    from numba.core.caching import FunctionCache, IndexDataCacheFile

    class _KeyedCache(FunctionCache):  # type: ignore[misc]
        def _index_key(self, sig: Any, codegen: Any) -> Any:
            # numba hashes a closure's cell contents, and a captured dispatcher pickles with a random
            # uuid: such a key never matches in the next process. ``key`` names what the cells hold.
            code = hashlib.sha256(self._py_func.__code__.co_code).hexdigest()
            cells = hashlib.sha256(str(key).encode()).hexdigest()
            return (sig, codegen.magic_tuple(), (code, cells))

    cache = (FunctionCache if key is None else _KeyedCache)(py_func)  # type: ignore[no-untyped-call]
    if not isinstance(getattr(cache, "_cache_file", None), IndexDataCacheFile):
        raise AttributeError("numba's FunctionCache has no IndexDataCacheFile to re-stamp")
    stamp = (cache._impl.locator.get_source_stamp(), math_sources_digest())
    cache._cache_file = IndexDataCacheFile(  # type: ignore[no-untyped-call]
        cache_path=cache._cache_path, filename_base=cache._impl.filename_base, source_stamp=stamp
    )
    return cache


def cached_njit(*, key: str | None = None, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(**options)`` with an on-disk cache that is invalidated by ``kernels/_math`` edits.

    Parameters
    ----------
    key : str, optional
        Required for a closure (a kernel built by a factory, e.g. one per camera model): a string
        that determines everything the closure captures, such as ``f"model={model_id}"``. numba's own
        key hashes the captured values, and captured compiled functions hash differently in every
        process, so without ``key`` a closure would never be found in the cache. Module-level
        kernels leave it None.
    **options
        Passed to :func:`numba.njit` (e.g. ``parallel=True``); ``cache`` must not be given.

    Returns
    -------
    callable
        A decorator for a kernel defined in a source file (cached functions need a stable file,
        qualname and line).

    Raises
    ------
    TypeError
        ``cache`` was passed, or a closure was decorated without ``key``.
    """
    if "cache" in options:
        raise TypeError("cached_njit() decides caching itself; do not pass cache=")

    def decorate(func: Callable[..., Any]) -> Any:
        if func.__closure__ and key is None:
            raise TypeError(f"cached_njit(key=...) is required for the closure {func.__qualname__!r}")
        dispatcher = numba.njit(**options)(func)
        try:
            dispatcher._cache = _dependent_cache(dispatcher.py_func, key)
        except (ImportError, AttributeError, TypeError, RuntimeError, OSError) as exc:
            _LOG.debug("numba kernel %s compiles without a disk cache: %s", func.__qualname__, exc)
        return dispatcher

    return decorate
