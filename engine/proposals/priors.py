"""Class size priors for model-free proposals: loaded from YAML, packed for :func:`kernels.fit_boxes`.

The default table ships as ``size_priors.yaml`` beside this module (car, truck, pedestrian, cyclist);
a dataset can bring its own file with the same layout (see that file's header).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from kernels.errors import InvalidInputError
from kernels.geometry import PRIOR_COLUMNS

__all__ = ["DEFAULT_PRIORS_FILE", "SidePrior", "SizePrior", "load_size_priors", "priors_array"]

DEFAULT_PRIORS_FILE = "size_priors.yaml"
_SIDES = ("length", "width", "height")


@dataclass(frozen=True, slots=True)
class SidePrior:
    """Distribution of one side of a class's boxes [m]: ``mean``, ``sigma`` (> 0), ``min <= mean <= max``."""

    mean: float
    sigma: float
    min: float
    max: float


@dataclass(frozen=True, slots=True)
class SizePrior:
    """Size prior of one object class.

    Attributes
    ----------
    name : str
        Class name (e.g. ``"car"``).
    length, width, height : SidePrior
        Per-side distributions [m].
    weight : float
        Relative prior frequency (> 0), multiplies the class likelihood.
    """

    name: str
    length: SidePrior
    width: SidePrior
    height: SidePrior
    weight: float


def _side(cls: str, side: str, raw: Any) -> SidePrior:
    try:
        p = SidePrior(*(float(raw[k]) for k in ("mean", "sigma", "min", "max")))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"size prior {cls}.{side} must map mean, sigma, min, max to numbers, got {raw!r}"
        ) from exc
    if not (p.sigma > 0 and 0 < p.min <= p.mean <= p.max):
        raise InvalidInputError(
            f"size prior {cls}.{side} needs sigma > 0 and 0 < min <= mean <= max, got {p}"
        )
    return p


def load_size_priors(path: str | Path | None = None) -> tuple[SizePrior, ...]:
    """Read class size priors from YAML (the packaged default when ``path`` is None).

    Parameters
    ----------
    path : str or Path, optional
        A YAML file with a ``classes`` mapping (see ``size_priors.yaml``).

    Returns
    -------
    tuple of SizePrior
        In file order.
    """
    if path is None:
        text = resources.files(__package__).joinpath(DEFAULT_PRIORS_FILE).read_text(encoding="utf-8")
        source = DEFAULT_PRIORS_FILE
    else:
        p = Path(path)
        if not p.is_file():
            raise InvalidInputError(f"size priors file {str(p)!r} does not exist")
        text, source = p.read_text(encoding="utf-8"), str(p)
    data = yaml.safe_load(text)
    classes = data.get("classes") if isinstance(data, dict) else None
    if not isinstance(classes, dict) or not classes:
        raise InvalidInputError(f"size priors {source!r} must hold a non-empty 'classes' mapping")
    out = []
    for name, raw in classes.items():
        if not isinstance(raw, dict):
            raise InvalidInputError(f"size prior {name!r} must be a mapping, got {raw!r}")
        weight = float(raw.get("weight", 1.0))
        if not weight > 0:
            raise InvalidInputError(f"size prior {name}.weight must be > 0, got {weight!r}")
        length, width, height = (_side(str(name), s, raw.get(s)) for s in _SIDES)
        out.append(SizePrior(str(name), length, width, height, weight))
    return tuple(out)


def priors_array(priors: tuple[SizePrior, ...]) -> npt.NDArray[np.float64]:
    """Pack priors into the kernel table (C, PRIOR_COLUMNS): means, sigmas, mins, maxes, weight."""
    rows = np.empty((len(priors), PRIOR_COLUMNS), np.float64)
    for i, p in enumerate(priors):
        sides = (p.length, p.width, p.height)
        rows[i, 0:3] = [s.mean for s in sides]
        rows[i, 3:6] = [s.sigma for s in sides]
        rows[i, 6:9] = [s.min for s in sides]
        rows[i, 9:12] = [s.max for s in sides]
        rows[i, 12] = p.weight
    return rows
