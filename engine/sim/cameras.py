"""Camera timing and ground-truth 2D boxes (see :mod:`engine.sim.ground_truth` for the fields).

Trigger: camera ``i`` fires first when the lidar's spinning head passes the camera's yaw (the usual
lidar-synchronised trigger), plus the camera's own ``delay_us``; then every ``1 / rate_hz``. The frame
timestamp is the capture time. Boxes use the cuboids and the ego pose at that capture time.
"""

from __future__ import annotations

import functools
import math
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from calibration.camera import CameraModel
from calibration.se3 import SE3
from engine.sim._raycast import box_rows, cast_rays
from engine.sim.actors import ATTRIBUTES, CLASSES, VEHICLES
from engine.sim.ground_truth import Box2D, CameraBoxes
from engine.sim.rigs import CameraSpec, LidarSpec
from engine.sim.scene import START_US, Scene

__all__ = ["camera_boxes", "camera_times", "track_id"]

F64 = npt.NDArray[np.float64]
_EDGE_SAMPLES, _FACE_GRID = 24, 6
_CORNERS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
_EDGES = [(a, b) for a in range(8) for b in range(a + 1, 8) if np.sum(_CORNERS[a] != _CORNERS[b]) == 1]


def _unit_samples() -> tuple[F64, F64, F64, npt.NDArray[np.int64]]:
    tau = np.linspace(0.0, 1.0, _EDGE_SAMPLES)[:, None]
    edges = np.concatenate([_CORNERS[a] + tau * (_CORNERS[b] - _CORNERS[a]) for a, b in _EDGES])
    g = (np.arange(_FACE_GRID) + 0.5) / _FACE_GRID * 2.0 - 1.0
    u, v = (a.ravel() for a in np.meshgrid(g, g))
    faces, normals, axes = [], [], []
    for k in range(3):
        i, j = [a for a in range(3) if a != k]
        for sign in (-1.0, 1.0):
            p = np.zeros((u.size, 3))
            p[:, k], p[:, i], p[:, j] = sign, u, v
            n = np.zeros((u.size, 3))
            n[:, k] = sign
            faces.append(p)
            normals.append(n)
            axes.append(np.full(u.size, k))
    return edges, np.concatenate(faces), np.concatenate(normals), np.concatenate(axes)


_UNIT_EDGES, _UNIT_FACES, _UNIT_NORMALS, _FACE_AXIS = _unit_samples()


def track_id(actor: int) -> str:
    """The GT track id of actor ``actor``."""
    return f"actor_{actor:04d}"


def camera_times(cam: CameraSpec, lidar: LidarSpec, n_sweeps: int) -> npt.NDArray[np.int64]:
    """Capture times [µs] of ``cam`` within the sweeps' span ``[T_0, T_{n-1}]``."""
    p = lidar.period_us
    tau = ((lidar.yaw + math.pi - cam.yaw) % (2.0 * math.pi)) / (2.0 * math.pi) * p
    first = START_US - p // 2 + int(round(tau)) + cam.delay_us
    period = int(round(1e6 / cam.rate_hz))
    lo, hi = START_US, START_US + (n_sweeps - 1) * p
    k0 = -((first - lo) // period)
    times = first + np.arange(k0, (hi - first) // period + 1, dtype=np.int64) * period
    return times[(times >= lo) & (times <= hi)]


@functools.lru_cache(maxsize=64)
def _image_half_angle(model: CameraModel) -> float:
    """Largest angle from the optical axis [rad] of any pixel on the image border."""
    n = 64
    t = np.linspace(0.0, 1.0, n)
    w, h = float(model.width), float(model.height)
    border = np.concatenate(
        [
            np.column_stack([t * w, np.zeros(n)]),
            np.column_stack([t * w, np.full(n, h)]),
            np.column_stack([np.zeros(n), t * h]),
            np.column_stack([np.full(n, w), t * h]),
        ]
    )
    rays, valid = model.unproject(border)
    if not valid.any():
        return float(model.max_theta)
    theta = np.arctan2(np.hypot(rays[valid, 0], rays[valid, 1]), rays[valid, 2])
    return float(min(theta.max() + 0.02, model.max_theta))


def _transform(a_from_b: SE3, points: F64) -> F64:
    r, t = a_from_b.rotation, a_from_b.translation
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    return np.stack([r[i, 0] * x + r[i, 1] * y + r[i, 2] * z + t[i] for i in range(3)], axis=-1)


def camera_boxes(
    scene: Scene,
    cam: CameraSpec,
    model: CameraModel,
    ego_from_cam: SE3,
    timestamp_us: int,
    actors: npt.NDArray[np.int64],
) -> CameraBoxes:
    """Ground-truth 2D boxes of ``actors`` (M,) visible in one frame of ``cam`` at ``timestamp_us``."""
    world_from_cam = scene.trajectory.pose_at(timestamp_us) @ ego_from_cam
    cam_from_world = world_from_cam.inverse()
    centre = world_from_cam.translation
    boxes = scene.actor_boxes(timestamp_us, actors)
    # Cull actors far outside the lens's field of view.
    c_cam = _transform(cam_from_world, boxes[:, :3])
    dist = np.linalg.norm(c_cam, axis=1)
    rad = 0.5 * np.linalg.norm(boxes[:, 3:6], axis=1)
    theta = np.arctan2(np.hypot(c_cam[:, 0], c_cam[:, 1]), c_cam[:, 2])
    ang = np.where(dist > rad, np.arcsin(np.clip(rad / np.maximum(dist, 1e-9), 0.0, 1.0)), np.pi)
    cand = np.flatnonzero((theta - ang < _image_half_angle(model)) & (dist < 250.0))
    if cand.size == 0:
        return CameraBoxes(cam.sensor_id, int(timestamp_us), ())
    b = boxes[cand]
    half, cy, sy = b[:, 3:6] / 2.0, np.cos(b[:, 6]), np.sin(b[:, 6])

    def to_world(local: F64) -> F64:  # (S, 3) unit-cube points -> (M, S, 3) world
        p = local[None, :, :] * half[:, None, :]
        x = cy[:, None] * p[..., 0] - sy[:, None] * p[..., 1] + b[:, None, 0]
        y = sy[:, None] * p[..., 0] + cy[:, None] * p[..., 1] + b[:, None, 1]
        return np.stack([x, y, p[..., 2] + b[:, None, 2]], axis=-1)

    m, n_e, n_f = cand.size, _UNIT_EDGES.shape[0], _UNIT_FACES.shape[0]
    edges_w, faces_w = to_world(_UNIT_EDGES), to_world(_UNIT_FACES)
    normals_w = to_world(_UNIT_NORMALS) - b[:, None, :3]  # rotation only (unit half sizes scaled below)
    normals_w /= np.linalg.norm(normals_w, axis=-1, keepdims=True)
    facing = np.sum(normals_w * (centre - faces_w), axis=-1) > 0.0
    sizes = b[:, 3:6]
    other = [[1, 2], [0, 2], [0, 1]]
    area = np.stack([sizes[:, o[0]] * sizes[:, o[1]] for o in other], axis=1)[:, _FACE_AXIS]
    weight = np.where(facing, area, 0.0)
    pts = np.concatenate([edges_w, faces_w], axis=1).reshape(-1, 3)
    uv, _, valid = model.project(_transform(cam_from_world, pts))
    uv, valid = uv.reshape(m, n_e + n_f, 2), valid.reshape(m, n_e + n_f)
    w_img, h_img = float(model.width), float(model.height)
    inside = valid & (uv[..., 0] >= 0.0) & (uv[..., 0] <= w_img) & (uv[..., 1] >= 0.0) & (uv[..., 1] <= h_img)
    f_inside = inside[:, n_e:] & facing
    # Occlusion: rays from the camera to the in-image facing samples, against every other box.
    occluded = np.zeros((m, n_f), dtype=bool)
    ray_m, ray_s = np.nonzero(f_inside)
    if ray_m.size:
        # Occluders: the candidates (they cover every actor in view) and structures up to the farthest.
        reach = float(np.max(dist[cand] + rad[cand]))
        stat_idx = scene.structures_near(centre[:2], reach)
        rows = np.concatenate([box_rows(b), box_rows(scene.structures[stat_idx])])
        vec = faces_w[ray_m, ray_s] - centre
        length = np.linalg.norm(vec, axis=1)
        _, hid, _ = cast_rays(
            np.broadcast_to(centre, vec.shape),
            vec / length[:, None],
            rows,
            length - 0.02,
            ground=False,
            skip=ray_m.astype(np.int32),
        )
        occluded[ray_m, ray_s] = hid != -2
    total = weight.sum(axis=1)
    w_in = np.where(f_inside, weight, 0.0).sum(axis=1)
    w_vis = np.where(f_inside & ~occluded, weight, 0.0).sum(axis=1)
    keep_pts = valid & np.concatenate([np.ones((m, n_e), dtype=bool), facing], axis=1)
    u = np.where(keep_pts, uv[..., 0], np.nan)
    v = np.where(keep_pts, uv[..., 1], np.nan)
    st_attr = scene.attributes(np.array([timestamp_us]), actors[cand])
    out: list[Box2D] = []
    for j in np.flatnonzero(w_vis > 0.0):
        a = int(actors[cand[j]])
        label = int(scene.actors.label[a])
        attrs = {}
        if label in VEHICLES:
            attrs = {name: ATTRIBUTES[name][int(st_attr[name][0, j])] for name in ATTRIBUTES}
        box = (
            float(np.clip(np.nanmin(u[j]), 0.0, w_img)),
            float(np.clip(np.nanmin(v[j]), 0.0, h_img)),
            float(np.clip(np.nanmax(u[j]), 0.0, w_img)),
            float(np.clip(np.nanmax(v[j]), 0.0, h_img)),
        )
        out.append(
            Box2D(
                track_id(a),
                CLASSES[label],
                box,
                visible_fraction=float(w_vis[j] / total[j]),
                truncation=float(1.0 - w_in[j] / total[j]),
                occlusion=float(1.0 - w_vis[j] / w_in[j]),
                depth_m=float(dist[cand[j]]),
                attributes=MappingProxyType(attrs),
            )
        )
    return CameraBoxes(cam.sensor_id, int(timestamp_us), tuple(out))
