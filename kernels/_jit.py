"""Compile a module of plain scalar functions for one numba target.

The per-element math in :mod:`kernels._math` is written as plain Python functions that call each
other by name. Wrapping only the entry function is not enough: numba would meet the plain callees.
:func:`compile_module` copies every function of the module into a fresh namespace whose names point at
the *wrapped* copies, so a whole call tree compiles for the CPU (``numba.njit``) or CUDA
(``numba.cuda.jit(device=True)``) from the same source. Nothing here imports numba.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

__all__ = ["compile_module", "model_projector", "project_function_names"]


def compile_module(module: types.ModuleType, wrap: Callable[[Any], Any]) -> dict[str, Any]:
    """Wrap every function defined in ``module`` with ``wrap``, rebinding their mutual calls.

    Parameters
    ----------
    module : module
        A module of plain scalar functions (e.g. :mod:`kernels._math.camera`).
    wrap : callable
        The target decorator, e.g. ``numba.njit(inline="always")``.

    Returns
    -------
    dict
        The new namespace: module constants unchanged, functions replaced by their wrapped copies.
    """
    namespace: dict[str, Any] = dict(vars(module))
    namespace["__module_object__"] = module
    for name, obj in vars(module).items():
        if isinstance(obj, types.FunctionType) and obj.__module__ == module.__name__:
            clone = types.FunctionType(
                obj.__code__, namespace, obj.__name__, obj.__defaults__, obj.__closure__
            )
            clone.__doc__ = obj.__doc__
            clone.__qualname__ = obj.__qualname__
            clone.__module__ = obj.__module__
            namespace[name] = wrap(clone)
    return namespace


def project_function_names(module: types.ModuleType) -> dict[int, str]:
    """Map camera model ids to the names of their scalar ``project_<model>`` functions.

    ``project_brown_conrady`` belongs to the id constant ``BROWN_CONRADY`` of the same module, and so
    on; the generic ``project_point`` switch is not listed.
    """
    out: dict[int, str] = {}
    for name in vars(module):
        if name.startswith("project_") and name != "project_point":
            model_id = getattr(module, name[len("project_") :].upper(), None)
            if isinstance(model_id, int):
                out[model_id] = name
    return out


def model_projector(namespace: dict[str, Any], model_id: int, wrap: Callable[[Any], Any]) -> Any:
    """The wrapped ``(intr, x, y, z) -> (u, v, ok)`` projector of one model from a compiled namespace.

    Uses the model's own ``project_<model>`` function when the camera module has one, otherwise the
    generic ``project_point`` switch with the id frozen in (both compile the same scalar code).
    """
    names = project_function_names(namespace["__module_object__"])
    if model_id in names:
        return namespace[names[model_id]]
    generic = namespace["project_point"]

    def project(intr, x, y, z):  # type: ignore[no-untyped-def]
        return generic(model_id, intr, x, y, z)

    return wrap(project)
