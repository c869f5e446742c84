"""Linking results in Scale SFS terms, as JSON-safe dicts (``shared/reference/sfs-format.md``).

* ``cuboid`` annotations: ``path`` keyframes ``[dx, dy, dz, px, py, pz, roll, pitch, yaw]`` (world
  frame, sizes = full extents, angles in ``angle_unit``), ``attributes`` = fused AttributePaths,
  ``projections`` = per camera ``{sensor_id, timestamps, boxes}`` with ``[x, y, w, h]`` (left, top,
  width, height, px) or ``null`` where the cuboid is not visible in that frame.
* ``box_2d`` annotations for the observations (``path`` with one timestamp), and ``link``
  annotations ``box_2d -> cuboid`` (label ``"camera_link"``, attributes ``iou``).
* ``AttributePath`` = ``{name, timestamps, values, sensor_id?, static}``.

Times are µs relative to ``time_offset_us`` (the SFS scene's ``time_offset``); a negative relative
time raises. Quaternions leave through ``calibration.quat_wxyz_to_xyzw`` (scipy is scalar-last).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.spatial.transform import Rotation

from calibration.se3 import quat_wxyz_to_xyzw
from engine.annotations import AttributePath, CuboidTrack
from engine.linking.footprints import Footprints
from engine.linking.observations import Observation2D
from kernels.errors import InvalidInputError

if TYPE_CHECKING:
    from engine.linking.pipeline import LinkResult
    from engine.log import Log

__all__ = ["sfs_attribute_path", "sfs_box_2d", "sfs_cuboid", "sfs_projections", "to_sfs"]


def _rel(t: int, offset: int, what: str) -> int:
    r = int(t) - int(offset)
    if r < 0:
        raise InvalidInputError(f"{what}: timestamp_us {t} precedes time_offset_us {offset}")
    return r


def sfs_attribute_path(path: AttributePath, time_offset_us: int) -> dict[str, Any]:
    """One AttributePath as an SFS dict (``sensor_id`` only when per camera)."""
    out: dict[str, Any] = {
        "name": path.name,
        "timestamps": [_rel(t, time_offset_us, f"attribute {path.name!r}") for t in path.timestamps_us],
        "values": list(path.values),
        "static": path.static,
    }
    if path.sensor_id is not None:
        out["sensor_id"] = path.sensor_id
    return out


def sfs_projections(footprints: Footprints, track_id: str, time_offset_us: int) -> list[dict[str, Any]]:
    """The ``projections`` of one track: per camera, time-sorted boxes ``[x, y, w, h]`` or None."""
    try:
        k = footprints.track_ids.index(track_id)
    except ValueError:
        raise InvalidInputError(f"unknown track_id {track_id!r} in the footprints") from None
    rows = np.flatnonzero(footprints.track == k)
    vis = footprints.visible
    per: dict[str, list[tuple[int, list[float] | None]]] = {}
    for r in rows:
        sid, t = footprints.frames[int(footprints.frame[r])]
        b = footprints.box[r]
        box = [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] if vis[r] else None
        per.setdefault(sid, []).append((_rel(t, time_offset_us, f"projection of {track_id!r}"), box))
    out = []
    for sid in sorted(per):
        items = sorted(per[sid], key=lambda it: it[0])
        out.append({"sensor_id": sid, "timestamps": [t for t, _ in items], "boxes": [b for _, b in items]})
    return out


def sfs_cuboid(
    track: CuboidTrack,
    log: Log,
    time_offset_us: int,
    *,
    attributes: Sequence[AttributePath] = (),
    projections: list[dict[str, Any]] | None = None,
    angle_unit: str = "radians",
) -> dict[str, Any]:
    """One track as an SFS ``cuboid`` annotation (world-frame keyframes)."""
    if angle_unit not in ("radians", "degrees"):
        raise InvalidInputError(f"unknown angle_unit {angle_unit!r}; expected 'radians' or 'degrees'")
    from engine.tracks import interpolate_track

    world = interpolate_track(track, track.timestamps_us, log.trajectory)  # keyframes in the world
    euler = Rotation.from_quat(quat_wxyz_to_xyzw(world.rotations_wxyz)).as_euler("zyx")  # yaw, pitch, roll
    scale = 180.0 / math.pi if angle_unit == "degrees" else 1.0
    values = [
        [*map(float, s), *map(float, c), float(e[2] * scale), float(e[1] * scale), float(e[0] * scale)]
        for s, c, e in zip(world.sizes, world.centers, euler, strict=True)
    ]
    return {
        "id": track.track_id,
        "type": "cuboid",
        "label": track.label,
        "stationary": False,
        "path": {
            "timestamps": [
                _rel(int(t), time_offset_us, f"track {track.track_id!r}") for t in track.timestamps_us
            ],
            "values": values,
        },
        "attributes": [sfs_attribute_path(a, time_offset_us) for a in attributes],
        "projections": projections or [],
    }


def sfs_box_2d(obs: Observation2D, time_offset_us: int) -> dict[str, Any]:
    """One observation as an SFS ``box_2d`` annotation (``[left, top, width, height]``)."""
    x0, y0, x1, y1 = obs.box
    t = _rel(obs.timestamp_us, time_offset_us, f"observation {obs.obs_id!r}")
    return {
        "id": obs.obs_id,
        "type": "box_2d",
        "sensor_id": obs.sensor_id,
        "label": obs.label,
        "path": {"timestamps": [t], "values": [[x0, y0, x1 - x0, y1 - y0]]},
        "attributes": [
            {"name": k, "timestamps": [t], "values": [v], "static": True}
            for k, v in sorted(obs.attributes.items())
        ],
    }


def to_sfs(
    result: LinkResult,
    log: Log,
    tracks: Sequence[CuboidTrack],
    time_offset_us: int,
    angle_unit: str = "radians",
) -> dict[str, Any]:
    """``{"annotations": [...], "attribute_evidence": [...]}``: cuboids, box_2d, links; evidence beside.

    ``attribute_evidence`` is not part of SFS: it keeps each fused value's confidence and evidence.
    """
    fused: dict[str, list[AttributePath]] = {}
    for fa in result.attributes:
        fused.setdefault(fa.track_id, []).append(fa.path)
    anns: list[dict[str, Any]] = []
    for tr in tracks:
        proj = (
            sfs_projections(result.footprints, tr.track_id, time_offset_us)
            if (tr.track_id in result.footprints.track_ids)
            else []
        )
        attrs = fused.get(tr.track_id, list(tr.attributes))
        anns.append(
            sfs_cuboid(tr, log, time_offset_us, attributes=attrs, projections=proj, angle_unit=angle_unit)
        )
    anns += [sfs_box_2d(o, time_offset_us) for o in result.observations]
    for m in result.matches:
        anns.append(
            {
                "id": f"link:{m.obs_id}->{m.track_id}",
                "type": "link",
                "from_id": m.obs_id,
                "to_id": m.track_id,
                "label": "camera_link",
                "is_bidirectional": True,
                "attributes": [
                    {
                        "name": "iou",
                        "timestamps": [_rel(m.timestamp_us, time_offset_us, f"link of {m.obs_id!r}")],
                        "values": [f"{m.iou:.4f}"],
                        "sensor_id": m.sensor_id,
                        "static": True,
                    }
                ],
            }
        )
    return {"annotations": anns, "attribute_evidence": [fa.to_dict() for fa in result.attributes]}
