"""Pick one camera model's scalar projector out of a compiled group of camera functions.

The per-element math is compiled per target with :func:`kernels._math.retarget.retarget`; this
module only maps a model id to its ``project_<model>`` function (nothing here imports numba).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernels._math import camera as _camera_math

__all__ = ["model_projector", "project_function_names"]


def project_function_names() -> dict[int, str]:
    """Map camera model ids to the names of their scalar ``project_<model>`` functions.

    ``project_brown_conrady`` belongs to the id constant ``BROWN_CONRADY`` of
    :mod:`kernels._math.camera`, and so on; the generic ``project_point`` switch is not listed.
    """
    out: dict[int, str] = {}
    for name in vars(_camera_math):
        if name.startswith("project_") and name != "project_point":
            model_id = getattr(_camera_math, name[len("project_") :].upper(), None)
            if isinstance(model_id, int):
                out[model_id] = name
    return out


def model_projector(compiled: dict[str, Any], model_id: int, wrap: Callable[[Any], Any]) -> Any:
    """The compiled ``(intr, x, y, z) -> (u, v, ok)`` projector of one model.

    Parameters
    ----------
    compiled : dict
        The camera functions compiled for one target (``retarget`` output).
    model_id : int
        A kernel model id of :mod:`kernels._math.camera`.
    wrap : callable
        The same target decorator, used when the model has no function of its own and the generic
        ``project_point`` switch is called with the id frozen in.
    """
    name = project_function_names().get(model_id)
    if name is not None and name in compiled:
        return compiled[name]
    generic = compiled["project_point"]

    def project(intr, x, y, z):  # type: ignore[no-untyped-def]
        return generic(model_id, intr, x, y, z)

    return wrap(project)
