"""Camera attribute observations fused over time and cameras into one AttributePath per track.

Model: a hidden Markov model per (track, attribute) in continuous time. The hidden value jumps at
rate ``switch_rate_hz`` to a uniformly drawn value, so between observations ``dt`` apart
``P(stay) = e + (1 - e) / n`` with ``e = exp(-rate dt)`` (two cameras a millisecond apart share nearly
one state; frames a second apart may differ). Emissions tolerate flicker: a state listed in
``flicker`` (a blinker that is ``left``) shows as the ``rest`` value (``off``) with probability
``flicker_rate`` (the lamp's dark phase), as itself with ``1 - flicker_rate - error``; every state
shows a wrong value with total probability ``error``. Observations at the same instant (several
cameras) multiply; each one's log-likelihood is weighted by its attribute score.

Decoding: Viterbi (most likely value sequence); confidence of each decoded segment = mean posterior
probability (forward-backward) of its value over the segment's observation times. Values change
halfway between the last observation of one segment and the first of the next. The path starts at
the track's first keyframe when ``start_us`` gives it (the first value extends back), else at the
first observation. Evidence (observation id, camera, time, observed value) is kept per segment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.annotations import AttributePath
from engine.linking.associate import Match
from engine.linking.observations import Observation2D
from kernels.errors import InvalidInputError

__all__ = [
    "BLINKER",
    "BRAKE_LIGHT",
    "DEFAULT_SPECS",
    "DOOR",
    "AttributeSpec",
    "Evidence",
    "FusedAttribute",
    "decode",
    "fuse_attributes",
]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """Values and observation model of one categorical attribute (see the module docstring)."""

    name: str
    values: tuple[str, ...]
    rest: str | None = None
    flicker: tuple[str, ...] = ()
    flicker_rate: float = 0.5
    error: float = 0.05
    switch_rate_hz: float = 0.2

    def emission(self) -> F64:
        """``E[state, observed]`` (n, n), rows sum to 1."""
        n = len(self.values)
        e = np.full((n, n), self.error / max(n - 1, 1))
        for i, v in enumerate(self.values):
            if v in self.flicker and self.rest is not None and self.rest != v:
                r = self.values.index(self.rest)
                others = [k for k in range(n) if k not in (i, r)]
                e[i, others] = self.error / max(len(others), 1)
                e[i, r] = self.flicker_rate
                e[i, i] = 1.0 - self.flicker_rate - (self.error if others else 0.0)
            else:
                e[i, i] = 1.0 - self.error if n > 1 else 1.0
        return e


BLINKER = AttributeSpec("blinker", ("off", "left", "right", "hazard"), "off", ("left", "right", "hazard"))
BRAKE_LIGHT = AttributeSpec("brake_light", ("off", "on"))
DOOR = AttributeSpec("door", ("closed", "open"), switch_rate_hz=0.1)
DEFAULT_SPECS = (BLINKER, BRAKE_LIGHT, DOOR)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation behind a fused value."""

    obs_id: str
    sensor_id: str
    timestamp_us: int
    value: str


@dataclass(frozen=True, slots=True)
class FusedAttribute:
    """The fused path of one attribute of one track, with per-segment confidence and evidence."""

    track_id: str
    path: AttributePath
    confidence: tuple[float, ...]
    evidence: tuple[tuple[Evidence, ...], ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict (evidence as lists of ``{obs_id, sensor_id, timestamp_us, value}``)."""
        return {
            "track_id": self.track_id,
            "name": self.path.name,
            "sensor_id": self.path.sensor_id,
            "timestamps_us": list(self.path.timestamps_us),
            "values": list(self.path.values),
            "confidence": list(self.confidence),
            "evidence": [
                [
                    {
                        "obs_id": e.obs_id,
                        "sensor_id": e.sensor_id,
                        "timestamp_us": e.timestamp_us,
                        "value": e.value,
                    }
                    for e in seg
                ]
                for seg in self.evidence
            ],
        }


def _logsumexp(a: F64, axis: int) -> F64:
    m = np.max(a, axis=axis, keepdims=True)
    return np.asarray(np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis)))


def decode(
    times_us: npt.NDArray[np.int64], loglik: F64, switch_rate_hz: float
) -> tuple[npt.NDArray[np.int64], F64]:
    """Viterbi states and forward-backward posteriors of a continuous-time HMM.

    Parameters
    ----------
    times_us : ndarray of shape (T,), int64
        Strictly increasing step times [µs].
    loglik : ndarray of shape (T, n), float64
        Log-likelihood of each step's observations under each state.
    switch_rate_hz : float
        Jump rate [1/s].

    Returns
    -------
    states : ndarray of shape (T,), int64
    posterior : ndarray of shape (T, n), float64
    """
    t_n, n = loglik.shape
    dt = np.diff(times_us).astype(np.float64) * 1e-6
    e = np.exp(-switch_rate_hz * dt)[:, None, None]
    log_a = np.log(e * np.eye(n)[None] + (1.0 - e) / n)  # (T-1, n, n) from -> to
    prior = np.full(n, -np.log(n))
    delta = prior + loglik[0]
    back = np.zeros((t_n, n), np.int64)
    alpha = np.empty((t_n, n))
    alpha[0] = delta
    for k in range(1, t_n):
        cand = delta[:, None] + log_a[k - 1]
        back[k] = np.argmax(cand, axis=0)
        delta = cand[back[k], np.arange(n)] + loglik[k]
        alpha[k] = _logsumexp(alpha[k - 1][:, None] + log_a[k - 1], 0) + loglik[k]
    states = np.empty(t_n, np.int64)
    states[-1] = int(np.argmax(delta))
    for k in range(t_n - 1, 0, -1):
        states[k - 1] = back[k, states[k]]
    beta = np.zeros((t_n, n))
    for k in range(t_n - 2, -1, -1):
        beta[k] = _logsumexp(log_a[k] + (loglik[k + 1] + beta[k + 1])[None, :], 1)
    post = alpha + beta
    post = np.exp(post - _logsumexp(post, 1)[:, None])
    return states, post


def _spec_for(name: str, specs: Mapping[str, AttributeSpec], seen: set[str]) -> AttributeSpec:
    spec = specs.get(name)
    return spec if spec is not None else AttributeSpec(name, tuple(sorted(seen)))


def _fuse_one(
    track_id: str,
    spec: AttributeSpec,
    items: list[tuple[int, str, float, Evidence]],
    start_us: int | None,
    sensor_id: str | None,
) -> FusedAttribute:
    items.sort(key=lambda it: (it[0], it[3].obs_id))
    times = np.array([it[0] for it in items], np.int64)
    uniq, step = np.unique(times, return_inverse=True)
    log_e = np.log(spec.emission())
    loglik = np.zeros((uniq.size, len(spec.values)))
    for (_, value, weight, ev), k in zip(items, step, strict=True):
        if value not in spec.values:
            raise InvalidInputError(
                f"observation {ev.obs_id!r}: attribute {spec.name!r} value {value!r} "
                f"is not one of {spec.values}"
            )
        loglik[k] += weight * log_e[:, spec.values.index(value)]
    states, post = decode(uniq, loglik, spec.switch_rate_hz)
    change = np.concatenate([[0], np.flatnonzero(np.diff(states)) + 1])
    bounds = np.concatenate([change, [uniq.size]])
    stamps = [int(uniq[0]) if start_us is None else min(int(start_us), int(uniq[0]))]
    stamps += [int((int(uniq[c - 1]) + int(uniq[c])) // 2) for c in change[1:]]
    values = tuple(spec.values[int(states[c])] for c in change)
    conf = tuple(float(post[a:b, states[a]].mean()) for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    evidence = tuple(
        tuple(it[3] for it, k in zip(items, step, strict=True) if a <= k < b)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    )
    path = AttributePath(spec.name, tuple(stamps), values, sensor_id, len(values) == 1)
    return FusedAttribute(track_id, path, conf, evidence)


def fuse_attributes(
    matches: Sequence[Match],
    observations: Sequence[Observation2D],
    specs: Sequence[AttributeSpec] = DEFAULT_SPECS,
    *,
    start_us: Mapping[str, int] | None = None,
    per_camera: bool = False,
) -> tuple[FusedAttribute, ...]:
    """Fuse the attributes of every track's linked observations (see the module docstring).

    Parameters
    ----------
    matches : sequence of Match
        Observation -> track links (:func:`engine.linking.associate`).
    observations : sequence of Observation2D
        The observations the matches refer to.
    specs : sequence of AttributeSpec
        Known attributes; others get a plain spec over their observed values (no flicker).
    start_us : mapping of str to int, optional
        First keyframe time per track id: the paths start there.
    per_camera : bool
        Also return one path per (track, attribute, camera) with ``sensor_id`` set.

    Returns
    -------
    tuple of FusedAttribute
        Sorted by track id, attribute name, then camera (fused first).
    """
    by_id = {o.obs_id: o for o in observations}
    spec_map = {s.name: s for s in specs}
    groups: dict[tuple[str, str, str | None], list[tuple[int, str, float, Evidence]]] = {}
    for m in matches:
        o = by_id.get(m.obs_id)
        if o is None:
            raise InvalidInputError(f"match refers to unknown observation id {m.obs_id!r}")
        for name, value in o.attributes.items():
            w = float(o.attribute_scores.get(name, 1.0))
            item = (o.timestamp_us, value, w, Evidence(o.obs_id, o.sensor_id, o.timestamp_us, value))
            groups.setdefault((m.track_id, name, None), []).append(item)
            if per_camera:
                groups.setdefault((m.track_id, name, o.sensor_id), []).append(item)
    out = []
    for tid, name, sid in sorted(groups, key=lambda k: (k[0], k[1], k[2] or "")):
        items = groups[(tid, name, sid)]
        spec = _spec_for(name, spec_map, {it[1] for it in items})
        start = None if start_us is None else start_us.get(tid)
        out.append(_fuse_one(tid, spec, items, start, sid))
    return tuple(out)
