"""Sparse keyframes of pre-labeled tracks (``tracks.keyframes``): fewer keyframes, same path, same results."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from calibration.trajectory import Trajectory
from engine.annotations import Annotations, CoordinateFrame, CuboidTrack, FrameConfidence
from engine.io.annotations_json import (
    annotations_from_dict,
    annotations_to_dict,
    read_annotations,
    write_annotations,
)
from engine.io.sfs._common import AngleUnit
from engine.io.sfs.annotations import annotations_from_sfs, annotations_to_sfs
from engine.linking.synthetic import observations_from_ground_truth
from engine.pipeline import prelabel
from engine.sim import simulate
from engine.stages import PipelineConfig
from engine.tracks import confidence_at, densify_track, interpolate_track, track_from_path
from engine.validation import validate
from engine.validation.golden import score
from kernels.errors import InvalidInputError
from tracking import CuboidPath, KeyframeTolerance, keyframes_from_path

TOL = KeyframeTolerance()  # the TracksConfig defaults: 5 cm, 0.0175 rad, 2 cm
EPS = 1e-6


def _dense_path(n: int = 40) -> CuboidPath:
    """A car accelerating round a bend, 10 Hz, with per-frame confidence that varies."""
    t = 1_000_000 + np.arange(n, dtype=np.int64) * 100_000
    s = np.arange(n) * 0.1
    boxes = np.zeros((n, 7))
    boxes[:, 0] = 5.0 * s + 0.4 * s**2
    boxes[:, 1] = 0.3 * s**2
    boxes[:, 2] = 0.8
    boxes[:, 3:6] = [4.5, 1.9, 1.6]
    boxes[:, 6] = 0.12 * s**2
    conf = (0.5 + 0.4 * np.sin(np.arange(n) * 0.7)).astype(np.float32)
    return CuboidPath.from_boxes(t, boxes, conf)


def _errors(dense: CuboidTrack | CuboidPath, sparse: CuboidTrack) -> tuple[float, float, float]:
    p = interpolate_track(sparse, dense.timestamps_us)
    c = float(np.linalg.norm(p.centers - dense.centers, axis=1).max())
    dot = np.abs(np.einsum("ij,ij->i", p.rotations_wxyz, dense.rotations_wxyz))
    a = float((2 * np.arccos(np.clip(dot, 0, 1))).max())
    s = float(np.abs(p.sizes - dense.sizes).max())
    return c, a, s


# --- model: FrameConfidence, track_from_path(keyframes=...), confidence_at, densify_track ----------------


def test_sparse_track_from_path_keeps_per_frame_confidence() -> None:
    path = _dense_path()
    kf = keyframes_from_path(path, TOL)
    track = track_from_path(path, "t", "car", keyframes=kf)
    assert 2 <= len(track) < len(path)
    assert (
        track.timestamps_us[0] == path.timestamps_us[0] and track.timestamps_us[-1] == path.timestamps_us[-1]
    )
    c, a, s = _errors(path, track)
    assert c <= TOL.center_tol_m + EPS and a <= TOL.yaw_tol_rad + EPS and s <= TOL.size_tol_m + EPS
    fc = track.frame_confidence
    assert fc is not None
    assert np.array_equal(fc.timestamps_us, path.timestamps_us) and np.array_equal(fc.values, path.confidence)
    assert np.array_equal(confidence_at(track, path.timestamps_us), path.confidence)
    # keyframe confidence is the dense value at the keyframe (not an average)
    idx = np.searchsorted(path.timestamps_us, track.timestamps_us)
    assert np.array_equal(track.confidence, path.confidence[idx])
    # without keyframes: the dense path itself, no frame_confidence
    dense = track_from_path(path, "t", "car")
    assert len(dense) == len(path) and dense.frame_confidence is None


def test_densify_track_reproduces_the_dense_path() -> None:
    path = _dense_path()
    sparse = track_from_path(path, "t", "car", keyframes=keyframes_from_path(path, TOL))
    dense = densify_track(sparse)
    assert np.array_equal(dense.timestamps_us, path.timestamps_us)
    assert dense.frame_confidence is None
    assert np.array_equal(dense.confidence, path.confidence)
    c, a, _ = _errors(dense, sparse)
    assert c < 1e-9 and a < 1e-6  # interpolation of the same keyframes
    assert np.abs(dense.centers - path.centers).max() <= TOL.center_tol_m + EPS
    # exact at the keyframes
    idx = np.searchsorted(dense.timestamps_us, sparse.timestamps_us)
    assert np.allclose(dense.centers[idx], sparse.centers, atol=1e-12)
    # a track without frame_confidence is returned as is; explicit times outside the span are ignored
    plain = track_from_path(path, "t", "car")
    assert densify_track(plain) is plain
    out = densify_track(sparse, np.array([0, int(path.timestamps_us[5]), 10**12]))
    assert out.timestamps_us[0] == path.timestamps_us[0] and out.timestamps_us[-1] == path.timestamps_us[-1]
    assert int(path.timestamps_us[5]) in set(out.timestamps_us.tolist())


def test_frame_confidence_is_checked() -> None:
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        FrameConfidence(np.array([0, 1]), np.array([0.5, 1.5], np.float32))
    with pytest.raises(InvalidInputError, match="increasing"):
        FrameConfidence(np.array([1, 0]), np.array([0.5, 0.5], np.float32))
    with pytest.raises(InvalidInputError, match="FrameConfidence.values"):
        FrameConfidence(np.array([0, 1, 2]), np.array([0.5, 0.5], np.float32))
    path = _dense_path(5)
    with pytest.raises(InvalidInputError, match="frame_confidence"):
        track_from_path(path, "t", "car", frame_confidence=[0.5] * 5)
    fc = FrameConfidence(np.array([0, 10]), np.array([0.2, 0.6], np.float32))
    assert np.allclose(fc.at([-5, 0, 5, 10, 20]), [0.2, 0.2, 0.4, 0.6, 0.6])


def test_frame_confidence_round_trips_native_json_and_sfs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _dense_path()
    sparse = track_from_path(path, "track-0000", "car", keyframes=keyframes_from_path(path, TOL))
    plain = track_from_path(path.take(np.arange(3)), "track-0001", "car")
    ann = Annotations((sparse, plain))
    d = annotations_to_dict(ann)
    assert "frame_confidence" in d["tracks"][0] and "frame_confidence" not in d["tracks"][1]
    write_annotations(tmp_path / "a.json", ann)
    for back in (annotations_from_dict(d), read_annotations(tmp_path / "a.json")):
        got = back.track("track-0000").frame_confidence
        assert got is not None
        assert np.array_equal(got.timestamps_us, path.timestamps_us)
        assert np.array_equal(got.values, path.confidence)  # bit-exact
        assert back.track("track-0001").frame_confidence is None
        assert np.array_equal(back.track("track-0000").timestamps_us, sparse.timestamps_us)
    traj = Trajectory(np.array([0, 10_000_000]), np.zeros((2, 3)), np.tile([1.0, 0, 0, 0], (2, 1)))
    offset = 500_000
    items = annotations_to_sfs(ann, time_offset_us=offset, angle_unit=AngleUnit.RADIANS, trajectory=traj)
    back, _ = annotations_from_sfs(items, time_offset_us=offset, angle_unit=AngleUnit.RADIANS)
    got = back.track("track-0000").frame_confidence
    assert got is not None
    assert np.array_equal(got.timestamps_us, path.timestamps_us)
    assert np.array_equal(got.values, path.confidence)
    assert back.track("track-0001").frame_confidence is None


# --- validation and golden QA read a sparse track at every frame -----------------------------------------


def test_validation_checks_sparse_tracks_at_their_frames(sample_dir) -> None:  # type: ignore[no-untyped-def]
    from engine.io import open_log

    log = open_log(sample_dir)
    times = log.lidar["pandar64"].timestamps_us
    t = np.linspace(int(times[0]), int(times[-1]), 40).astype(np.int64)
    boxes = np.zeros((t.size, 7))
    boxes[:, 0] = np.linspace(0, 8, t.size)
    boxes[:, 3:6] = [4.5, 1.9, 1.6]
    path = CuboidPath.from_boxes(t, boxes, np.full(t.size, 0.7, np.float32))
    sparse = track_from_path(path, "x", "Car", keyframes=keyframes_from_path(path, TOL))
    assert len(sparse) == 2  # constant velocity: the two ends
    gaps_sparse = validate(log, Annotations((sparse, _dense_other(t))), rules=["temporal.gap"])
    no_series = CuboidTrack(
        "x",
        "Car",
        CoordinateFrame.WORLD,
        sparse.timestamps_us,
        sparse.centers,
        sparse.sizes,
        sparse.rotations_wxyz,
    )
    gaps_plain = validate(log, Annotations((no_series, _dense_other(t))), rules=["temporal.gap"])
    assert not gaps_sparse  # checked at its 40 frames: no gap
    assert gaps_plain  # the same two keyframes without frame_confidence: a gap (the rule can fire)
    # golden QA: a sparse submission counts at every golden keyframe time
    golden = Annotations((track_from_path(path, "g", "Car"),))
    sc = score(Annotations((sparse,)), golden)
    assert sc.recall == pytest.approx(1.0) and sc.precision == pytest.approx(1.0)
    assert score(Annotations((no_series,)), golden).recall < 0.1


def _dense_other(t: np.ndarray) -> CuboidTrack:
    """A second, far-away dense track that sets the keyframe cadence for the gap rule."""
    boxes = np.zeros((t.size, 7))
    boxes[:, 0] = 100.0
    boxes[:, 3:6] = [4.5, 1.9, 1.6]
    return CuboidTrack.from_boxes("y", "Car", t, boxes)


# --- the pipeline in both modes on a small synthetic log --------------------------------------------------


@pytest.fixture(scope="module")
def both_modes():  # type: ignore[no-untyped-def]
    sim = simulate("tiny", 2.0, 3)
    log = sim.log
    sizes = {s: (log.sensors[s].camera.width, log.sensors[s].camera.height) for s in log.cameras}
    obs, _ = observations_from_ground_truth(sim.ground_truth, seed=1, image_sizes=sizes)
    out = {}
    for mode in ("every_frame", "sparse"):
        out[mode] = prelabel(log, PipelineConfig(backend="cpu", tracks={"keyframes": mode}), observations=obs)
    return sim, out


def test_config_keyframes_option() -> None:
    cfg = PipelineConfig()
    assert cfg.tracks.keyframes in ("sparse", "every_frame")
    with pytest.raises(ValidationError, match="keyframes"):
        PipelineConfig(tracks={"keyframes": "some"})
    with pytest.raises(ValidationError, match="keyframe_center_m"):
        PipelineConfig(tracks={"keyframe_center_m": 0})


def test_pipeline_sparse_keyframes_reproduce_every_frame_tracks(both_modes) -> None:  # type: ignore[no-untyped-def]
    _, out = both_modes
    dense, sparse = out["every_frame"].annotations.tracks, out["sparse"].annotations.tracks
    assert len(dense) == len(sparse) >= 3
    assert sum(len(t) for t in sparse) < 0.6 * sum(len(t) for t in dense)
    cfg = PipelineConfig().tracks
    for d, s in zip(dense, sparse, strict=True):
        assert (d.track_id, d.label) == (s.track_id, s.label)
        assert d.frame_confidence is None and s.frame_confidence is not None
        assert len(s) <= len(d)
        assert s.timestamps_us[0] == d.timestamps_us[0] and s.timestamps_us[-1] == d.timestamps_us[-1]
        c, a, z = _errors(d, s)
        assert c <= cfg.keyframe_center_m + EPS
        assert a <= cfg.keyframe_yaw_rad + EPS
        assert z <= cfg.keyframe_size_m + EPS
        # per-frame confidence: exactly the dense track's, at every frame
        assert np.array_equal(s.frame_confidence.timestamps_us, d.timestamps_us)
        assert np.array_equal(s.frame_confidence.values, d.confidence)
        assert np.array_equal(confidence_at(s, d.timestamps_us), d.confidence)


def test_pipeline_sparse_confidence_survives_native_json(both_modes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, out = both_modes
    ann = out["sparse"].annotations
    write_annotations(tmp_path / "annotations.json", ann)
    back = read_annotations(tmp_path / "annotations.json")
    for a, b in zip(ann.tracks, back.tracks, strict=True):
        assert a.frame_confidence is not None and b.frame_confidence is not None
        assert np.array_equal(a.frame_confidence.timestamps_us, b.frame_confidence.timestamps_us)
        assert np.array_equal(a.frame_confidence.values, b.frame_confidence.values)
        assert np.array_equal(a.timestamps_us, b.timestamps_us) and np.array_equal(a.centers, b.centers)


def test_pipeline_links_and_findings_unchanged_between_modes(both_modes) -> None:  # type: ignore[no-untyped-def]
    _, out = both_modes
    d, s = out["every_frame"], out["sparse"]
    # links: same observation -> track matches, IoU within a few percent (cuboids within 5 cm / 1 deg)
    md = {m.obs_id: m for m in d.link_result.matches}
    ms = {m.obs_id: m for m in s.link_result.matches}
    assert md and set(md) == set(ms)
    for k, m in md.items():
        assert ms[k].track_id == m.track_id
        assert abs(ms[k].iou - m.iou) < 0.05
    fd, fs = d.link_result.footprints, s.link_result.footprints
    assert abs(int(fd.visible.sum()) - int(fs.visible.sum())) <= 1
    # validation: the same findings (rule, track, time)
    key = lambda f: (f.rule, f.track_id, f.timestamp_us)  # noqa: E731
    assert sorted(map(key, d.findings)) == sorted(map(key, s.findings))
    assert not [f for f in s.findings if f.rule == "temporal.gap"]
