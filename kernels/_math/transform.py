"""Per-element rigid-motion math shared by the CPU and CUDA kernels (deskew, fuse, multi-camera).

Plain scalar functions: ``math``, scalars, tuples and array indexing only (no numpy calls, no
allocation, no exceptions, no numba import), so that ``kernels/cpu.py`` wraps each one in
``numba.njit(inline="always")`` and ``kernels/cuda.py`` in ``numba.cuda.jit(device=True)``.

Conventions
-----------
* Quaternions are (w, x, y, z), unit, Hamilton product; ``q`` rotates ``p`` as ``q p q*``.
* A rigid transform ``a_from_b`` packed for kernels is a row-major 3x4 matrix ``[R | t]`` flattened
  to 12 numbers (``rt[0:3]`` is the first row of ``R``, ``rt[3]`` the x of ``t``, ...).
* A trajectory is three arrays: ``ts`` int64 (T,) strictly increasing [µs], ``trans`` float64 (T, 3)
  [m] and ``quat`` float64 (T, 4) (w, x, y, z) of ``world_from_ego``; ``T >= 2`` inside kernels.
* Interpolation between bracketing poses: translation linear, rotation slerp along the short arc,
  weight ``alpha = (t - t0) / (t1 - t0)`` (0 at ``t0``, 1 at ``t1``). Queries outside the covered
  range use the first or last segment with ``alpha`` outside [0, 1] (constant linear and angular
  velocity) or, when ``clamp`` is true, ``alpha`` clamped to [0, 1] (the end pose is held).
"""

from __future__ import annotations

import math

#: Below this sine of the half angle between two quaternions slerp falls back to normalised lerp.
_SLERP_EPS = 1e-9


def quat_rotate(
    qw: float, qx: float, qy: float, qz: float, x: float, y: float, z: float
) -> tuple[float, float, float]:
    """Rotate the vector ``(x, y, z)`` by the unit quaternion ``(qw, qx, qy, qz)``.

    Uses ``p' = p + 2 w (u x p) + 2 u x (u x p)`` with ``u = (qx, qy, qz)``.
    """
    tx = 2.0 * (qy * z - qz * y)
    ty = 2.0 * (qz * x - qx * z)
    tz = 2.0 * (qx * y - qy * x)
    return (
        x + qw * tx + (qy * tz - qz * ty),
        y + qw * ty + (qz * tx - qx * tz),
        z + qw * tz + (qx * ty - qy * tx),
    )


def quat_mul(
    aw: float, ax: float, ay: float, az: float, bw: float, bx: float, by: float, bz: float
) -> tuple[float, float, float, float]:
    """Hamilton product ``a * b`` (apply ``b`` first, then ``a``)."""
    return (
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    )


def slerp(
    aw: float,
    ax: float,
    ay: float,
    az: float,
    bw: float,
    bx: float,
    by: float,
    bz: float,
    alpha: float,
) -> tuple[float, float, float, float]:
    """Spherical linear interpolation from ``a`` (alpha 0) to ``b`` (alpha 1) along the short arc.

    ``alpha`` outside [0, 1] continues along the same great circle (constant angular velocity).
    Nearly equal rotations use normalised linear interpolation. The result is renormalised.
    """
    dot = aw * bw + ax * bx + ay * by + az * bz
    sign = -1.0 if dot < 0.0 else 1.0  # q and -q are the same rotation: take the short arc
    dot = abs(dot)
    dot = 1.0 if dot > 1.0 else dot
    theta = math.acos(dot)
    s = math.sin(theta)
    small = s < _SLERP_EPS
    s_safe = 1.0 if small else s
    w0 = 1.0 - alpha if small else math.sin((1.0 - alpha) * theta) / s_safe
    w1 = alpha if small else math.sin(alpha * theta) / s_safe
    w1 = w1 * sign
    qw = w0 * aw + w1 * bw
    qx = w0 * ax + w1 * bx
    qy = w0 * ay + w1 * by
    qz = w0 * az + w1 * bz
    inv = 1.0 / math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
    return qw * inv, qx * inv, qy * inv, qz * inv


def find_segment(ts, t: int) -> int:  # type: ignore[no-untyped-def]
    """Index ``i`` in ``[0, T - 2]`` of the segment ``[ts[i], ts[i + 1]]`` used for time ``t``.

    Binary search for the last ``ts[i] <= t``; times before the first or after the last timestamp
    get the first or last segment.
    """
    lo = 0
    hi = ts.shape[0] - 1  # invariant: answer in [lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ts[mid] <= t:
            lo = mid
        else:
            hi = mid
    return lo


def segment_alpha(ts, i: int, t: int, clamp: bool) -> float:  # type: ignore[no-untyped-def]
    """Interpolation weight of time ``t`` in segment ``i``; clamped to [0, 1] when ``clamp``."""
    t0 = ts[i]
    alpha = float(t - t0) / float(ts[i + 1] - t0)
    lo = 0.0 if alpha < 0.0 else alpha
    hi = 1.0 if lo > 1.0 else lo
    return hi if clamp else alpha


def pose_at(  # type: ignore[no-untyped-def]
    ts, trans, quat, t: int, clamp: bool
) -> tuple[float, float, float, float, float, float, float]:
    """Interpolated pose ``world_from_ego`` at time ``t`` [µs].

    Returns
    -------
    tuple of 7 floats
        ``(px, py, pz, qw, qx, qy, qz)``: translation [m] and unit quaternion (w, x, y, z).
    """
    i = find_segment(ts, t)
    a = segment_alpha(ts, i, t, clamp)
    j = i + 1
    px = trans[i, 0] + a * (trans[j, 0] - trans[i, 0])
    py = trans[i, 1] + a * (trans[j, 1] - trans[i, 1])
    pz = trans[i, 2] + a * (trans[j, 2] - trans[i, 2])
    qw, qx, qy, qz = slerp(
        quat[i, 0], quat[i, 1], quat[i, 2], quat[i, 3], quat[j, 0], quat[j, 1], quat[j, 2], quat[j, 3], a
    )
    return px, py, pz, qw, qx, qy, qz


def segment_velocity(  # type: ignore[no-untyped-def]
    ts, trans, quat, t: int
) -> tuple[float, float, float, float, float, float]:
    """Ego velocity over the segment bracketing ``t``: constant within a segment.

    Returns
    -------
    tuple of 6 floats
        ``(vx, vy, vz)`` linear velocity of the ego origin in the **world** frame [m/s] and
        ``(wx, wy, wz)`` angular velocity in the **ego** (body) frame [rad/s], from the relative
        rotation ``q0* q1`` of the segment's end poses.
    """
    i = find_segment(ts, t)
    j = i + 1
    dt = float(ts[j] - ts[i]) * 1e-6
    vx = (trans[j, 0] - trans[i, 0]) / dt
    vy = (trans[j, 1] - trans[i, 1]) / dt
    vz = (trans[j, 2] - trans[i, 2]) / dt
    rw, rx, ry, rz = quat_mul(
        quat[i, 0], -quat[i, 1], -quat[i, 2], -quat[i, 3], quat[j, 0], quat[j, 1], quat[j, 2], quat[j, 3]
    )
    sign = -1.0 if rw < 0.0 else 1.0  # short arc
    rw = rw * sign
    n = math.sqrt(rx * rx + ry * ry + rz * rz)
    angle = 2.0 * math.atan2(n, rw)
    k = angle / (n * dt) * sign if n > 1e-15 else 2.0 / dt * sign
    return vx, vy, vz, rx * k, ry * k, rz * k


def apply_rt(rt, x: float, y: float, z: float) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """Apply the packed 3x4 rigid transform ``rt`` (12 numbers, row-major ``[R | t]``) to a point."""
    return (
        rt[0] * x + rt[1] * y + rt[2] * z + rt[3],
        rt[4] * x + rt[5] * y + rt[6] * z + rt[7],
        rt[8] * x + rt[9] * y + rt[10] * z + rt[11],
    )


def radial_velocity_compensated(
    v_r: float,
    vx: float,
    vy: float,
    vz: float,
    ux: float,
    uy: float,
    uz: float,
) -> float:
    """Ego-motion-compensated radial velocity of a radar return.

    A radar measures ``v_r = dot(v_target - v_sensor, u)`` with ``u`` the unit ray from the sensor to
    the target (positive = range increasing). Adding ``dot(v_sensor, u)`` leaves ``dot(v_target, u)``,
    the target's own radial velocity over ground: 0 for static structure.

    Parameters
    ----------
    v_r : float
        Measured radial velocity [m/s], positive away from the sensor.
    vx, vy, vz : float
        Velocity of the sensor over ground, in the same frame as ``u`` [m/s].
    ux, uy, uz : float
        Unit ray from the sensor to the return.
    """
    return v_r + vx * ux + vy * uy + vz * uz


def deskew_point(  # type: ignore[no-untyped-def]
    x: float, y: float, z: float, t: int, rt, ts, trans, quat, clamp: bool, frame
) -> tuple[float, float, float]:
    """Move one sensor point captured at time ``t`` into the output frame at the reference time.

    Parameters
    ----------
    x, y, z : float
        Point in the sensor frame [m].
    t : int
        Capture time of the point [µs].
    rt : array of 12 floats
        Packed ``ego_from_sensor`` (see module docstring).
    ts, trans, quat : arrays
        The ``world_from_ego`` trajectory.
    clamp : bool
        Hold the end poses outside the trajectory instead of extrapolating.
    frame : array of 10 floats
        ``(qw, qx, qy, qz, rx, ry, rz, ox, oy, oz)``: the output is
        ``rotate(q, p_world - r) + o`` where ``r`` is the world position of the ego at the reference
        time. Ego output: ``q = conj(q_ref)``, ``o = 0``; world output: ``q = 1``, ``o = r``.
        Subtracting ``r`` before rotating keeps float64 precision with large world coordinates.
    """
    ex, ey, ez = apply_rt(rt, x, y, z)
    px, py, pz, qw, qx, qy, qz = pose_at(ts, trans, quat, t, clamp)
    wx, wy, wz = quat_rotate(qw, qx, qy, qz, ex, ey, ez)
    wx = wx + (px - frame[4])
    wy = wy + (py - frame[5])
    wz = wz + (pz - frame[6])
    ox, oy, oz = quat_rotate(frame[0], frame[1], frame[2], frame[3], wx, wy, wz)
    return ox + frame[7], oy + frame[8], oz + frame[9]


def radar_point_velocity(  # type: ignore[no-untyped-def]
    x: float, y: float, z: float, v_r: float, t: int, rt, ts, trans, quat, clamp: bool
) -> float:
    """Ego-motion-compensated radial velocity of one radar return (see :func:`radial_velocity_compensated`).

    The sensor velocity is the ego's linear velocity plus ``omega x t_sensor`` (``t_sensor`` is the
    radar's position in the ego frame), both in the ego frame at time ``t``; the ray is the return's
    direction rotated from the sensor into the ego frame.
    """
    vx, vy, vz, ax, ay, az = segment_velocity(ts, trans, quat, t)
    _, _, _, qw, qx, qy, qz = pose_at(ts, trans, quat, t, clamp)
    bx, by, bz = quat_rotate(qw, -qx, -qy, -qz, vx, vy, vz)  # world -> ego(t)
    sx = rt[3]
    sy = rt[7]
    sz = rt[11]
    bx = bx + (ay * sz - az * sy)
    by = by + (az * sx - ax * sz)
    bz = bz + (ax * sy - ay * sx)
    rng = math.sqrt(x * x + y * y + z * z)
    inv = 1.0 / rng if rng > 0.0 else 0.0
    ux = (rt[0] * x + rt[1] * y + rt[2] * z) * inv
    uy = (rt[4] * x + rt[5] * y + rt[6] * z) * inv
    uz = (rt[8] * x + rt[9] * y + rt[10] * z) * inv
    return radial_velocity_compensated(v_r, bx, by, bz, ux, uy, uz)


#: Every function of this module, to compile as one group (see :func:`kernels._math.retarget.retarget`).
DEVICE_FUNCTIONS = (
    quat_rotate,
    quat_mul,
    slerp,
    find_segment,
    segment_alpha,
    pose_at,
    segment_velocity,
    apply_rt,
    radial_velocity_compensated,
    deskew_point,
    radar_point_velocity,
)
