"""Pluggable detectors: anything that turns one sweep into a :class:`ProposalSet`.

A learned detector plugs in as a TorchScript module. **Tensor contract** of the scripted module:

* input: one ``torch.float32`` tensor of shape ``(N, 4)``, columns ``[x, y, z, intensity]``, points in
  the **ego frame** (x forward, y left, z up) [m], intensity in [0, 1], on the module's device;
* output: a tuple ``(boxes, scores, labels)``: ``boxes`` float32 ``(M, 7)``
  ``[x, y, z, length, width, height, yaw]`` in the ego frame [m, rad] (centre of the box, yaw of its
  length axis counter-clockwise from ego +x), ``scores`` float32 ``(M,)`` in [0, 1], ``labels`` int64
  ``(M,)`` indexing the ``classes`` given to :class:`TorchScriptDetector` (-1: unknown).

Export with ``torch.jit.script(model).save(path)`` (or ``torch.jit.trace``). torch is imported
lazily, only when a TorchScript detector is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from engine.proposals.types import ProposalSet
from kernels.errors import InvalidInputError, InvalidTypeError
from kernels.validation import as_array

__all__ = ["Detector", "TorchScriptDetector"]


@runtime_checkable
class Detector(Protocol):
    """A proposal source for one sweep of ego-frame points."""

    def __call__(self, points: Any, *, intensity: Any = None, timestamp_us: int | None = None) -> ProposalSet:
        """Proposals for one sweep.

        Parameters
        ----------
        points : ndarray of shape (N, 3), float32, ego frame [m]
            The sweep.
        intensity : ndarray of shape (N,), float32, optional
            Return intensity in [0, 1].
        timestamp_us : int, optional
            The sweep's timestamp [µs] (imported detections are looked up by it).

        Returns
        -------
        ProposalSet
        """
        ...


class TorchScriptDetector:
    """A learned detector saved as TorchScript (see the module docstring for the tensor contract).

    Parameters
    ----------
    path : str or Path
        The ``.pt`` file written by ``torch.jit.save``.
    classes : sequence of str
        Names of the label indices the module outputs.
    device : str
        Torch device to run on (``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...).
    """

    def __init__(self, path: str | Path, classes: tuple[str, ...] | list[str], device: str = "cpu") -> None:
        import torch

        p = Path(path)
        if not p.is_file():
            raise InvalidInputError(f"TorchScript detector path {str(p)!r} does not exist")
        if not classes:
            raise InvalidInputError("classes must name at least one class")
        try:
            self._module = torch.jit.load(str(p), map_location=device)  # type: ignore[no-untyped-call]
        except Exception as exc:  # torch raises RuntimeError subclasses with long messages
            raise InvalidInputError(f"cannot load TorchScript module {str(p)!r}: {exc}") from exc
        self._module.eval()
        self.classes = tuple(str(c) for c in classes)
        self.device = device

    def __call__(self, points: Any, *, intensity: Any = None, timestamp_us: int | None = None) -> ProposalSet:
        """Run the module on one sweep and check its outputs against the contract."""
        import torch

        pts = as_array("points", points, np.float32, (None, 3))
        n = pts.shape[0]
        inten = (
            np.zeros(n, np.float32)
            if intensity is None
            else as_array("intensity", intensity, np.float32, (n,))
        )
        x = torch.from_numpy(np.concatenate([pts, inten[:, None]], axis=1)).to(self.device)
        with torch.inference_mode():
            out = self._module(x)
        if not isinstance(out, tuple | list) or len(out) != 3:
            raise InvalidTypeError(
                f"detector output must be a tuple (boxes, scores, labels), got {type(out).__name__}"
            )
        boxes, scores, labels = (t.detach().cpu() for t in out)
        if boxes.dtype != torch.float32 or scores.dtype != torch.float32 or labels.dtype != torch.int64:
            raise InvalidTypeError(
                "detector outputs must be float32, float32, int64; "
                f"got {boxes.dtype}, {scores.dtype}, {labels.dtype}"
            )
        lab = labels.numpy()
        if lab.size and (lab.min() < -1 or lab.max() >= len(self.classes)):
            raise InvalidInputError(
                f"detector labels must lie in [-1, {len(self.classes)}), got range [{lab.min()}, {lab.max()}]"
            )
        return ProposalSet(boxes.numpy(), scores.numpy(), lab.astype(np.int32), self.classes, timestamp_us)
