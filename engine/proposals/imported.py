"""Detections produced elsewhere, replayed as a :class:`~engine.proposals.detectors.Detector`.

JSON schema (``fusionlabel.detections`` version 1)::

    {
      "format": "fusionlabel.detections",
      "version": 1,
      "classes": ["car", "pedestrian", ...],          # optional; default: labels in order of appearance
      "frames": [
        {
          "timestamp_us": 1557539960500117,            # int, the sweep's timestamp [µs]
          "frame": "ego",                              # "ego" (default) or "world"
          "detections": [
            {"box": [x, y, z, length, width, height, yaw],   # centre [m], sizes [m], yaw [rad]
             "label": "car",                                 # class name
             "score": 0.93}                                  # [0, 1], default 1.0
          ]
        }
      ]
    }

Boxes follow docs/CONVENTIONS.md §6 (centre, length along the heading, yaw counter-clockwise about +z
of the named frame). ``"world"`` frames need the log's trajectory to become ego boxes: pass
``trajectory`` (``world_from_ego`` poses); the centre is mapped with the pose at ``timestamp_us`` and
the yaw is the angle of the rotated heading vector.

KITTI tracking results (:meth:`ImportedDetections.from_kitti_tracking`): one object per line,
``frame track_id type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y [score]``, where
``x y z`` is the **bottom-face centre** in the rectified camera frame (x right, y down, z forward) and
``rotation_y`` the yaw about camera +y (0 = facing camera +x). Conversion (docs/CONVENTIONS.md §8):
centre ``= location - (0, h/2, 0)``, mapped by ``ego_from_camera``; heading ``(cos ry, 0, -sin ry)``
rotated by the same transform, ``yaw = atan2(d_y, d_x)``; ``length, width, height = l, w, h``.
``DontCare`` rows are skipped; frame ``k`` gets ``timestamps_us[k]``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.proposals.types import ProposalSet
from kernels.errors import InvalidInputError, LogFormatError

__all__ = ["ImportedDetections"]

FORMAT = "fusionlabel.detections"


def _ego_boxes(
    boxes: npt.NDArray[np.float64], ego_from_frame: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Move ``[x, y, z, l, w, h, yaw]`` rows by a 4x4 rigid transform (yaw from the rotated heading)."""
    r, t = ego_from_frame[:3, :3], ego_from_frame[:3, 3]
    out = boxes.copy()
    out[:, :3] = boxes[:, :3] @ r.T + t
    heading = np.stack([np.cos(boxes[:, 6]), np.sin(boxes[:, 6]), np.zeros(len(boxes))], axis=1) @ r.T
    out[:, 6] = np.arctan2(heading[:, 1], heading[:, 0])
    return out


class ImportedDetections:
    """Per-sweep detections looked up by timestamp (a :class:`Detector` that ignores the points).

    Parameters
    ----------
    frames : mapping of int to ProposalSet
        Ego-frame proposals by sweep timestamp [µs].
    classes : tuple of str
        Class names shared by every frame.
    """

    def __init__(self, frames: Mapping[int, ProposalSet], classes: tuple[str, ...]) -> None:
        self._frames = dict(frames)
        self.classes = tuple(classes)

    @property
    def timestamps_us(self) -> list[int]:
        """Sweep timestamps that have detections, ascending [µs]."""
        return sorted(self._frames)

    def __call__(
        self, points: Any = None, *, intensity: Any = None, timestamp_us: int | None = None
    ) -> ProposalSet:
        """The detections of the sweep at ``timestamp_us`` (none when the file has no such frame)."""
        if timestamp_us is None:
            raise InvalidInputError("timestamp_us is required to look up imported detections")
        found = self._frames.get(int(timestamp_us))
        return found if found is not None else ProposalSet.empty(self.classes, int(timestamp_us))

    @classmethod
    def from_json(cls, path: str | Path, *, trajectory: Any = None) -> ImportedDetections:
        """Read the JSON schema of the module docstring.

        Parameters
        ----------
        path : str or Path
            The JSON file.
        trajectory : calibration.Trajectory, optional
            ``world_from_ego``; required when a frame says ``"frame": "world"``.

        Returns
        -------
        ImportedDetections
        """
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise LogFormatError(f"cannot read detections {str(p)!r}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != 1:
            raise LogFormatError(f"{str(p)!r} is not a {FORMAT!r} version 1 file")
        frames_raw = data.get("frames")
        if not isinstance(frames_raw, list):
            raise LogFormatError(f"{str(p)!r}: 'frames' must be a list")
        classes = list(data.get("classes", []))
        parsed: list[tuple[int, str, list[list[float]], list[str], list[float]]] = []
        for i, fr in enumerate(frames_raw):
            where = f"{p.name} frames[{i}]"
            try:
                t = fr["timestamp_us"]
                dets = fr.get("detections", [])
                boxes = [[float(v) for v in d["box"]] for d in dets]
                labels = [str(d["label"]) for d in dets]
                scores = [float(d.get("score", 1.0)) for d in dets]
            except (KeyError, TypeError, ValueError) as exc:
                raise LogFormatError(f"{where}: malformed entry ({exc!r})") from exc
            if isinstance(t, bool) or not isinstance(t, int):
                raise LogFormatError(f"{where}.timestamp_us must be an integer [µs], got {t!r}")
            if any(len(b) != 7 for b in boxes):
                raise LogFormatError(
                    f"{where}: every box needs 7 numbers [x, y, z, length, width, height, yaw]"
                )
            frame = fr.get("frame", "ego")
            if frame not in ("ego", "world"):
                raise LogFormatError(f"{where}: unknown frame {frame!r}; expected 'ego' or 'world'")
            classes.extend(lab for lab in labels if lab not in classes)
            parsed.append((t, frame, boxes, labels, scores))
        names = tuple(classes)
        out: dict[int, ProposalSet] = {}
        for t, frame, boxes, labels, scores in parsed:
            arr = np.asarray(boxes, np.float64).reshape(-1, 7)
            if frame == "world":
                if trajectory is None:
                    raise InvalidInputError(f"frame at {t} µs is in the world frame: pass trajectory=")
                arr = _ego_boxes(arr, trajectory.pose_at(t).inverse().matrix)
            ids = np.array([names.index(lab) for lab in labels], np.int32)
            out[t] = ProposalSet(arr.astype(np.float32), np.asarray(scores, np.float32), ids, names, t)
        return cls(out, names)

    @classmethod
    def from_kitti_tracking(
        cls,
        path: str | Path,
        *,
        ego_from_camera: Any,
        timestamps_us: Sequence[int],
        classes: Sequence[str] = (
            "Car",
            "Van",
            "Truck",
            "Pedestrian",
            "Person_sitting",
            "Cyclist",
            "Tram",
            "Misc",
        ),
    ) -> ImportedDetections:
        """Read a KITTI tracking result file (see the module docstring for the conversion).

        Parameters
        ----------
        path : str or Path
            One sequence's result file (``0000.txt``).
        ego_from_camera : array_like of shape (4, 4), float64
            Rectified camera -> ego transform (for KITTI: inverse of ``R0_rect @ Tr_velo_to_cam`` when
            the ego is the velodyne frame).
        timestamps_us : sequence of int
            Timestamp of every frame index [µs] (KITTI: ``frame * 100_000`` on a synthetic epoch).
        classes : sequence of str
            Class names; other types raise.

        Returns
        -------
        ImportedDetections
        """
        m = np.asarray(ego_from_camera, np.float64)
        if m.shape != (4, 4) or not np.all(np.isfinite(m)):
            raise InvalidInputError(f"ego_from_camera must be a finite 4x4 matrix, got shape {m.shape}")
        names = tuple(classes)
        stamps = [int(t) for t in timestamps_us]
        rows: dict[int, list[tuple[list[float], int, float]]] = {}
        p = Path(path)
        for ln, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            f = line.split()
            if not f:
                continue
            if len(f) not in (17, 18):
                raise LogFormatError(f"{p.name}:{ln}: expected 17 or 18 fields, got {len(f)}")
            kind = f[2]
            if kind == "DontCare":
                continue
            if kind not in names:
                raise LogFormatError(f"{p.name}:{ln}: unknown type {kind!r}; expected one of {list(names)}")
            frame = int(f[0])
            if not 0 <= frame < len(stamps):
                raise LogFormatError(f"{p.name}:{ln}: frame {frame} has no timestamp ({len(stamps)} given)")
            h, w, length, x, y, z, ry = (float(v) for v in f[10:17])
            score = float(f[17]) if len(f) == 18 else 1.0
            centre = m[:3, :3] @ np.array([x, y - h / 2.0, z]) + m[:3, 3]
            d = m[:3, :3] @ np.array([math.cos(ry), 0.0, -math.sin(ry)])
            box = [*centre.tolist(), length, w, h, math.atan2(d[1], d[0])]
            rows.setdefault(frame, []).append((box, names.index(kind), score))
        out: dict[int, ProposalSet] = {}
        for frame, items in rows.items():
            boxes = np.array([b for b, _, _ in items], np.float32)
            ids = np.array([c for _, c, _ in items], np.int32)
            scores = np.array([s for _, _, s in items], np.float32)
            out[stamps[frame]] = ProposalSet(boxes, scores, ids, names, stamps[frame])
        return cls(out, names)
