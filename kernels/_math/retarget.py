"""Compile plain scalar math functions for one target (CPU njit or CUDA device) as a group.

A target decorator such as ``numba.njit(inline="always")`` compiles one function, but a scalar
function that calls another plain function (``project_kannala_brandt`` -> ``fast_atan2``) only
compiles when the callee it sees is itself compiled. :func:`retarget` rebuilds every function of
the group over one shared namespace in which each name is bound to its compiled version, so the
math is written once and compiled for each target (no numba import here).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["retarget"]


def retarget(
    functions: Iterable[Callable[..., Any]], wrap: Callable[[Callable[..., Any]], Any]
) -> dict[str, Any]:
    """Return ``{name: wrap(f)}`` for ``functions``, with calls between them rebound.

    Parameters
    ----------
    functions : iterable of functions
        Plain scalar functions, each with its module globals (constants, ``math``); later
        functions may call earlier or later ones by their global name.
    wrap : callable
        Target decorator, e.g. ``numba.njit(inline="always")`` or
        ``numba.cuda.jit(device=True, inline=True)``. It must compile lazily (both do), because
        names are rebound after all functions are wrapped.

    Returns
    -------
    dict of str to compiled function
    """
    funcs = list(functions)
    namespace: dict[str, Any] = {}
    for f in funcs:
        namespace.update({k: v for k, v in f.__globals__.items() if k not in namespace})
    out: dict[str, Any] = {}
    for f in funcs:
        clone = types.FunctionType(f.__code__, namespace, f.__name__, f.__defaults__, f.__closure__)
        clone.__qualname__ = f.__qualname__
        clone.__module__ = f.__module__
        clone.__doc__ = f.__doc__
        clone.__annotations__ = dict(f.__annotations__)
        out[f.__name__] = wrap(clone)
    namespace.update(out)
    return out
