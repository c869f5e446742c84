"""Compile plain scalar math functions for one target (CPU njit or CUDA device) as a group.

A target decorator such as ``numba.njit(inline="always")`` compiles one function, but a scalar
function that calls another plain function (``project_kannala_brandt`` -> ``fast_atan2``) only
compiles when the callee it sees is itself compiled. :func:`retarget` rebuilds every function of
the group over one shared namespace in which each name is bound to its compiled version, so the
math is written once and compiled for each target (no numba import here).

With ``real=numpy.float32`` every float constant the functions see (literals in their bodies and
module-level float globals) is retyped to that type, so the same source also compiles to single
precision: numba types a ``numpy.float32`` constant as float32, and float32 arithmetic with float32
operands stays float32 (a Python ``1.0`` would promote the whole expression to float64).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["retarget"]


def _retype(value: Any, real: Callable[[float], Any]) -> Any:
    """``real(value)`` for a Python float (not bool/int), else ``value`` unchanged."""
    return real(value) if type(value) is float else value


def retarget(
    functions: Iterable[Callable[..., Any]],
    wrap: Callable[[Callable[..., Any]], Any],
    *,
    real: Callable[[float], Any] | None = None,
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
    real : callable, optional
        Scalar type for every float constant (e.g. ``numpy.float32``); None keeps Python floats
        (float64). Arguments keep their own types: pass float32 data to compute in float32.

    Returns
    -------
    dict of str to compiled function
    """
    funcs = list(functions)
    namespace: dict[str, Any] = {}
    for f in funcs:
        namespace.update({k: v for k, v in f.__globals__.items() if k not in namespace})
    if real is not None:
        namespace.update({k: _retype(v, real) for k, v in namespace.items()})
    out: dict[str, Any] = {}
    for f in funcs:
        code = f.__code__
        if real is not None:
            code = code.replace(co_consts=tuple(_retype(c, real) for c in code.co_consts))
        clone = types.FunctionType(code, namespace, f.__name__, f.__defaults__, f.__closure__)
        clone.__qualname__ = f.__qualname__
        clone.__module__ = f.__module__
        clone.__doc__ = f.__doc__
        clone.__annotations__ = dict(f.__annotations__)
        out[f.__name__] = wrap(clone)
    namespace.update(out)
    return out
