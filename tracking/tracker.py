"""Online multi-object tracker in the world frame: predict, associate, update, lifecycle, birth.

One :meth:`OnlineTracker.step` per frame of detections, in time order::

    predict every live track to the frame time          (its class's motion model, F from dt)
    gated candidate pairs + costs + optimal assignment   (tracking.gating: sparse, per connected
                                                          component; established tracks first,
                                                          tentative ones on what is left)
    Kalman update of matched tracks; sizes and scores    (running means)
    lifecycle transition of every track                  (the table of tracking.lifecycle)
    radar radial velocities inside matched boxes         (optional)
    birth of tentative tracks from unmatched detections

Track arrays are kept structure-of-arrays (one row per live track) and the per-frame work runs in a
few compiled kernels (:mod:`tracking._fast`: predict, gate, update, bookkeeping), so a frame costs a
fixed number of Python calls whatever the number of objects, and no dense track x detection matrix
is built. Classes may have their own motion model (``TrackerConfig.class_models``: e.g. pedestrians
with a small velocity prior and small process noise); all models share one state layout. When every
model is :class:`~tracking.motion.ConstantVelocity` the predict is one compiled pass with per-class
``Q``; other models use their own (NumPy) ``predict``, one call per model in use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError
from tracking import _fast
from tracking.association import ClassGate, CostMetric, gate_limits
from tracking.detections import Detections, FrameTracks
from tracking.gating import associate_pairs, candidate_pairs
from tracking.lifecycle import LifecycleConfig, TrackState
from tracking.motion import ConstantVelocity, MotionModel
from tracking.radar import RadarPoints, radar_update

__all__ = ["Detections", "FrameTracks", "OnlineTracker", "TrackerConfig"]

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
_TENTATIVE = TrackState.TENTATIVE.value


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Settings of :class:`OnlineTracker`.

    Parameters
    ----------
    model : MotionModel
        Motion model (:class:`~tracking.motion.ConstantVelocity` by default).
    class_models : mapping of int to MotionModel
        Motion models of particular class ids (others use ``model``); same type as ``model`` (one state
        layout), e.g. ``ConstantVelocity(accel_xy=0.3, init_speed_std=2.0)`` for pedestrians.
    metric : CostMetric
        Association cost.
    gates : mapping of int to ClassGate
        Per-class gates by class id; others use ``default_gate``.
    default_gate : ClassGate
        Gate of classes not in ``gates``.
    lifecycle : LifecycleConfig
        State machine thresholds.
    obs_std : tuple of 4 float
        Detection noise: centre x, y, z [m] and heading [rad].
    birth_min_score : float
        Unmatched detections below this score start no track.
    size_weight : float
        Weight of a new detection in the running mean of a track's size.
    report_max_misses : int
        Lost tracks are reported (predicted) for up to this many consecutive missed frames.
    radar_std_mps : float
        Standard deviation of a radar radial velocity [m/s].
    two_stage : bool
        Associate confirmed and lost tracks first, tentative tracks on the detections left over.
    """

    model: MotionModel = field(default_factory=ConstantVelocity)
    class_models: Mapping[int, MotionModel] = field(default_factory=dict)
    metric: CostMetric = CostMetric.CENTER_DISTANCE
    gates: Mapping[int, ClassGate] = field(default_factory=dict)
    default_gate: ClassGate = field(default_factory=ClassGate)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    obs_std: tuple[float, float, float, float] = (0.2, 0.2, 0.2, 0.2)
    birth_min_score: float = 0.0
    size_weight: float = 0.2
    report_max_misses: int = 1
    radar_std_mps: float = 0.3
    two_stage: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.metric, CostMetric):
            raise InvalidInputError(f"unknown metric {self.metric!r}; expected one of {list(CostMetric)}")
        if not 0.0 < self.size_weight <= 1.0:
            raise InvalidInputError(f"size_weight must lie in (0, 1], got {self.size_weight}")
        for cid, m in self.class_models.items():
            if type(m) is not type(self.model):
                raise InvalidInputError(
                    f"class_models[{cid}] must be a {type(self.model).__name__} like model (one state "
                    f"layout), got {type(m).__name__}"
                )

    def model_for(self, class_id: int) -> MotionModel:
        """The motion model of ``class_id``."""
        return self.class_models.get(int(class_id), self.model)


class OnlineTracker:
    """Frame-by-frame tracker (see the module docstring). Not thread-safe; one instance per sequence.

    Parameters
    ----------
    config : TrackerConfig, optional
        Settings (defaults: :class:`TrackerConfig`).
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = TrackerConfig() if config is None else config
        n = self.config.model.n
        self._models = [self.config.model, *{id(m): m for m in self.config.class_models.values()}.values()]
        self._model_of = {
            c: next(i for i, m in enumerate(self._models) if m is mc)
            for c, mc in self.config.class_models.items()
        }
        self._r = np.diag(np.square(self.config.obs_std))
        self._all_cv = all(type(m) is ConstantVelocity for m in self._models)
        self._q_dt = -1.0
        self._q = np.zeros((len(self._models), n, n))
        lc = self.config.lifecycle
        self._lifecycle = np.array([lc.min_hits, lc.max_tentative_misses, lc.max_misses], np.int64)
        self._next_id = 0
        self._t: int | None = None
        self.ids = np.zeros(0, np.int64)
        self.x = np.zeros((0, n))
        self.p = np.zeros((0, n, n))
        self.sizes = np.zeros((0, 3))
        self.classes = np.zeros(0, np.int32)
        self.limits = np.zeros(0)
        self.dist_limits = np.zeros(0)
        self.model_idx = np.zeros(0, np.int8)
        self.state = np.zeros(0, np.int8)
        self.hits = np.zeros(0, np.int32)
        self.misses = np.zeros(0, np.int32)
        self.scores = np.zeros(0, np.float32)

    def step(self, detections: Detections, radar: RadarPoints | None = None) -> FrameTracks:
        """Advance to ``detections.timestamp_us`` and take in its detections (and radar points).

        Parameters
        ----------
        detections : Detections
            This frame's detections, world frame; timestamps must increase from call to call.
        radar : RadarPoints, optional
            Radar points of this frame; their radial velocities update matched tracks.

        Returns
        -------
        FrameTracks
            The reported tracks and the detection-to-track assignment.
        """
        cfg = self.config
        t = detections.timestamp_us
        if self._t is not None and t <= self._t:
            raise InvalidInputError(f"detections.timestamp_us must increase: {t} follows {self._t}")
        dt = 0.0 if self._t is None else (t - self._t) * 1e-6
        self._t = t
        det_boxes = detections.boxes
        det_cls = np.asarray(detections.class_ids, dtype=np.int32)
        det_scores = np.asarray(detections.scores, dtype=np.float32)
        if self.ids.size:
            self._predict(dt)
        pred = self._boxes()
        # Sparse gated pairs (tracking.gating); MAHALANOBIS: centre-distance gate, then the innovation gate.
        cov = self.p[:, :2, :2] + self._r[:2, :2] if cfg.metric is CostMetric.MAHALANOBIS else None
        pairs = candidate_pairs(
            pred, det_boxes, self.classes, det_cls, cfg.metric, self.limits, self.dist_limits, cov
        )
        first = self.state != _TENTATIVE if cfg.two_stage else None
        result = associate_pairs(pairs, self.ids.size, len(detections), first)
        mt, md = result.matches[:, 0], result.matches[:, 1]
        if mt.size:
            z = np.ascontiguousarray(det_boxes[md][:, [0, 1, 2, 6]])
            _fast.kalman_update_rows(self.x, self.p, mt, z, self._r)
        alive, show = _fast.bookkeeping(
            mt,
            md,
            np.ascontiguousarray(det_boxes[:, 3:6]),
            det_scores,
            cfg.size_weight,
            self.sizes,
            self.scores,
            self.hits,
            self.misses,
            self.state,
            self._lifecycle,
            cfg.report_max_misses,
        )
        if radar is not None and mt.size:
            self.x[mt], self.p[mt] = radar_update(
                cfg.model, self.x[mt], self.p[mt], self._boxes()[mt], radar, cfg.radar_std_mps
            )
        det_track = np.full(len(detections), -1, np.int64)
        det_track[md] = self.ids[mt]
        matched_det = np.full(self.ids.size, -1, np.int64)
        matched_det[mt] = md
        if not alive.all():
            self._keep(alive)
            matched_det, show = matched_det[alive], show[alive]
        born = result.unmatched_detections[det_scores[result.unmatched_detections] >= cfg.birth_min_score]
        if born.size:
            det_track[born] = self._birth(det_boxes[born], det_cls[born], det_scores[born])
            matched_det = np.concatenate([matched_det, born.astype(np.int64)])
            show = np.concatenate([show, np.full(born.size, cfg.lifecycle.min_hits <= 1)])
        return FrameTracks(
            t,
            self.ids[show].copy(),
            self._boxes()[show],
            self.classes[show].copy(),
            self.scores[show].copy(),
            matched_det[show],
            det_track,
        )

    def run(self, frames: Iterable[Detections]) -> list[FrameTracks]:
        """:meth:`step` over ``frames`` in order; returns one :class:`FrameTracks` per frame."""
        return [self.step(f) for f in frames]

    # --- internals ----------------------------------------------------------------------------------
    def _predict(self, dt: float) -> None:
        models = self._models
        if self._all_cv:  # closed-form F P F^T + Q per class, compiled, in place
            if self._q_dt != dt:
                self._q = np.stack([m.noise(dt) for m in models])  # type: ignore[attr-defined]
                self._q_dt = dt
            _fast.cv_predict(self.x, self.p, dt, self._q, self.model_idx)
        elif len(models) == 1:
            self.x, self.p, _ = models[0].predict(self.x, self.p, dt)
        else:
            for g, model in enumerate(models):
                sel = self.model_idx == g
                if sel.any():
                    self.x[sel], self.p[sel], _ = model.predict(self.x[sel], self.p[sel], dt)

    def _boxes(self) -> F64:
        out = np.empty((self.ids.size, 7))
        out[:, :3] = self.x[:, :3]
        out[:, 3:6] = self.sizes
        out[:, 6] = self.x[:, 3]
        return out

    _fields = (
        "ids",
        "x",
        "p",
        "sizes",
        "classes",
        "limits",
        "dist_limits",
        "model_idx",
        "state",
        "hits",
        "misses",
        "scores",
    )

    def _keep(self, mask: npt.NDArray[np.bool_]) -> None:
        if mask.all():
            return
        for name in self._fields:
            setattr(self, name, getattr(self, name)[mask])

    def _birth(self, boxes: F64, classes: I32, scores: F32) -> I64:
        k = boxes.shape[0]
        ids = np.arange(self._next_id, self._next_id + k, dtype=np.int64)
        if k == 0:
            return ids
        self._next_id += k
        cfg = self.config
        group = np.array([self._model_of.get(int(c), 0) for c in classes], np.int8)
        x, p = cfg.model.initial(boxes[:, [0, 1, 2, 6]])
        for g in np.unique(group[group > 0]):
            sel = group == g
            x[sel], p[sel] = self._models[g].initial(boxes[sel][:, [0, 1, 2, 6]])
        first = TrackState.CONFIRMED if cfg.lifecycle.min_hits <= 1 else TrackState.TENTATIVE
        self.ids = np.concatenate([self.ids, ids])
        self.x = np.concatenate([self.x, x])
        self.p = np.concatenate([self.p, p])
        self.sizes = np.concatenate([self.sizes, boxes[:, 3:6]])
        self.classes = np.concatenate([self.classes, classes])
        self.model_idx = np.concatenate([self.model_idx, group])
        self.limits = np.concatenate(
            [self.limits, gate_limits(classes, cfg.metric, cfg.gates, cfg.default_gate)]
        )
        dist = gate_limits(classes, CostMetric.CENTER_DISTANCE, cfg.gates, cfg.default_gate)
        self.dist_limits = np.concatenate([self.dist_limits, dist])
        self.state = np.concatenate([self.state, np.full(k, first.value, np.int8)])
        self.hits = np.concatenate([self.hits, np.ones(k, np.int32)])
        self.misses = np.concatenate([self.misses, np.zeros(k, np.int32)])
        self.scores = np.concatenate([self.scores, scores])
        return ids
