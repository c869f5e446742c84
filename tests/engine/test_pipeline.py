"""The pre-labeling pipeline on real data (the bundled PandaSet sample) and on a short simulated log."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from engine.annotations import CoordinateFrame
from engine.io import open_log
from engine.linking.synthetic import observations_from_ground_truth
from engine.pipeline import PrelabelResult, prelabel
from engine.render import boxes_at
from engine.shared_frame import SharedFrame
from engine.sim import simulate
from engine.stages import PipelineConfig, ProposalStage, StageClock, world_detections
from engine.stages.outputs import read_outputs, write_outputs
from engine.validation import default_config
from kernels import Frame
from kernels.errors import InvalidInputError, InvalidTypeError, LogFormatError

STAGES = ["shared_frame", "proposals", "tracks", "links", "validation"]


@pytest.fixture(scope="module")
def sample_log(sample_dir):  # type: ignore[no-untyped-def]
    return open_log(sample_dir)


@pytest.fixture(scope="module")
def sample_run(sample_log):  # type: ignore[no-untyped-def]
    calls: list[tuple[str, int, int]] = []
    result = prelabel(
        sample_log, PipelineConfig(backend="cpu"), progress=lambda s, d, t: calls.append((s, d, t))
    )
    return result, calls


def test_sample_tracks_in_world_frame_with_confidence(sample_log, sample_run) -> None:  # type: ignore[no-untyped-def]
    result: PrelabelResult = sample_run[0]
    times = sample_log.lidar["pandar64"].timestamps_us
    assert np.array_equal(result.frame_times_us, times)
    assert len(result.proposals) == 4
    assert result.tracks >= 15
    labels = set(default_config().taxonomies["pandaset"].labels)
    for tr in result.annotations.tracks:
        assert tr.frame is CoordinateFrame.WORLD
        assert set(tr.timestamps_us.tolist()) <= set(times.tolist())  # keyframes lie on frame times
        assert tr.confidence is not None and ((tr.confidence >= 0) & (tr.confidence <= 1)).all()
        assert tr.label in labels  # proposal classes mapped onto the PandaSet vocabulary
    assert len({t.track_id for t in result.annotations.tracks}) == result.tracks


def test_sample_cars_sit_on_ground_truth_cars(sample_log, sample_run) -> None:  # type: ignore[no-untyped-def]
    """Pre-labeled cars are real (BEV centre within 1.5 m of a GT cuboid); most near GT cars are found."""
    result: PrelabelResult = sample_run[0]
    t = int(result.frame_times_us[2])
    pred = [
        b for b in boxes_at(sample_log, result.annotations, t, "world", tolerance_us=0) if b.label == "Car"
    ]
    gt = boxes_at(sample_log, sample_log.annotations, t, "world", tolerance_us=0)
    p = np.array([b.box for b in pred])
    g = np.array([b.box for b in gt])
    d = np.linalg.norm(p[:, None, :2] - g[None, :, :2], axis=2)
    assert (d.min(axis=1) < 1.5).mean() >= 0.75
    ego = sample_log.trajectory.pose_at(t).translation[:2]
    near_cars = np.array([b.label == "Car" for b in gt]) & (np.hypot(*(g[:, :2] - ego).T) < 40.0)
    assert (d.min(axis=0)[near_cars] < 1.5).mean() >= 0.6


def test_sample_stage_stats(sample_log, sample_run) -> None:  # type: ignore[no-untyped-def]
    result: PrelabelResult = sample_run[0]
    assert [s.name for s in result.stages] == STAGES
    for s in result.stages:
        assert s.status == "ok" and s.frames == 4 and s.seconds > 0 and s.frames_per_s > 0
    shared, proposals = result.stage("shared_frame"), result.stage("proposals")
    assert shared.items == sum(len(s) for s in sample_log.lidar["pandar64"])
    assert proposals.items == sum(len(p) for p in result.proposals)
    assert shared.frame_ns.shape == (4,) and (shared.frame_ns > 0).all()
    assert result.stage("tracks").items == result.tracks
    assert result.stage("validation").items == len(result.findings)
    summary = result.summary()
    assert summary["frames"] == 4 and summary["tracks"] == result.tracks
    assert summary["footprints"] > 0  # tracks seen by the cameras
    assert summary["observations"] == summary["links"] == 0  # PandaSet ships no 2D boxes
    assert [d["name"] for d in summary["stages"]] == STAGES
    assert "frame_ms_median" in summary["stages"][0] and "frame_ms_median" not in summary["stages"][2]
    with pytest.raises(KeyError, match="no stage"):
        result.stage("nope")


def test_sample_progress_reports_every_frame(sample_run) -> None:  # type: ignore[no-untyped-def]
    calls = sample_run[1]
    per_frame = [(d, t) for s, d, t in calls if s == "proposals"]
    assert per_frame == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [c for c in calls if c[0] == "tracks"] == [("tracks", 0, 1), ("tracks", 1, 1)]
    assert {s for s, _, _ in calls} == set(STAGES)


def test_sample_outputs_written_and_reread(sample_log, sample_run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result: PrelabelResult = sample_run[0]
    out = write_outputs(result, sample_log, tmp_path / "out")
    for name in ("annotations", "findings", "stats", "config", "sfs", "links_sfs"):
        assert out.files[name].is_file(), name
    ann, findings = read_outputs(tmp_path / "out")
    assert [t.track_id for t in ann.tracks] == [t.track_id for t in result.annotations.tracks]
    for a, b in zip(ann.tracks, result.annotations.tracks, strict=True):
        assert np.array_equal(a.centers, b.centers) and np.array_equal(a.confidence, b.confidence)
    assert findings == list(result.findings)
    assert PipelineConfig.model_validate_json(out.files["config"].read_text()) == result.config
    from engine.io.sfs import read_sfs

    scene = read_sfs(out.files["sfs"])
    assert len(scene.annotations.tracks) == result.tracks
    with pytest.raises(LogFormatError, match="no annotations.json"):
        read_outputs(tmp_path)


def test_native_only_outputs(sample_log, sample_run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = write_outputs(sample_run[0], sample_log, tmp_path, formats=["native"])
    assert "sfs" not in out.files and not (tmp_path / "scene.sfs").exists()
    with pytest.raises(InvalidInputError, match="unknown output format"):
        write_outputs(sample_run[0], sample_log, tmp_path, formats=["kitti"])


def test_disabled_stages_are_reported_skipped(sample_log) -> None:  # type: ignore[no-untyped-def]
    cfg = PipelineConfig(
        backend="cpu",
        frames={"max_frames": 3},
        links={"enabled": False},
        validation={"enabled": False},
    )
    result = prelabel(sample_log, cfg)
    assert result.frame_times_us.size == 3
    assert result.link_result is None and result.findings == ()
    for name in ("links", "validation"):
        st = result.stage(name)
        assert st.status == "skipped" and st.frames == 0 and "disabled" in st.detail


def test_config_errors_name_the_field(sample_log, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="backend"):
        PipelineConfig(backend="tpu")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="extra"):
        PipelineConfig(tracks={"min_detection": 2})
    monkeypatch.setenv("FUSIONLABEL_PIPELINE_TRACKS__MIN_DETECTIONS", "2")
    assert PipelineConfig().tracks.min_detections == 2
    with pytest.raises(InvalidInputError, match="'velodyne' is not a lidar"):
        prelabel(sample_log, PipelineConfig(frames={"lidar": "velodyne"}))
    with pytest.raises(InvalidInputError, match="not lidars or radars"):
        prelabel(sample_log, PipelineConfig(shared_frame={"sensors": ("front_camera",)}))
    with pytest.raises(InvalidTypeError, match="engine.Log"):
        prelabel("data/samples/pandaset_seq002")  # type: ignore[arg-type]


def test_ego_clearance_drops_points_on_the_ego(sample_log) -> None:  # type: ignore[no-untyped-def]
    stage = ProposalStage(sample_log, PipelineConfig().proposals, "pandar64", "cpu")
    pts = np.array([[0.5, 0.5, 1.4], [1.9, 0.0, 1.0], [2.1, 0.0, 1.0], [10.0, 3.0, 0.5]], np.float32)
    shared = SharedFrame(
        pts,
        ("pandar64",),
        np.zeros(1, np.int64),
        np.zeros(4, np.int32),
        np.full(4, np.nan, np.float32),
        np.array([0, 4]),
        0,
        Frame.EGO,
    )
    assert np.array_equal(stage.points(shared), pts[2:])


def test_world_detections_use_the_pose_at_the_frame(sample_log) -> None:  # type: ignore[no-untyped-def]
    from engine.proposals import ProposalSet

    t = int(sample_log.lidar["pandar64"].timestamps_us[1])
    boxes = np.array([[10.0, 2.0, 0.5, 4.5, 1.9, 1.6, 0.25], [5.0, 0.0, 0.5, 1.0, 1.0, 1.7, 0.0]], np.float32)
    ps = ProposalSet(boxes, np.array([0.9, 0.05], np.float32), np.array([0, 2], np.int32), ("a", "b", "c"), t)
    det = world_detections(sample_log, ps, min_score=0.1)
    pose = sample_log.trajectory.pose_at(t)
    assert len(det) == 1 and det.class_ids.tolist() == [0]
    assert np.allclose(
        det.boxes[0, :3], pose.transform_points(boxes[:1, :3].astype(np.float64))[0], atol=1e-5
    )
    heading = np.arctan2(pose.rotation[1, 0], pose.rotation[0, 0])
    assert np.isclose(np.angle(np.exp(1j * (det.boxes[0, 6] - heading - 0.25))), 0.0, atol=1e-5)
    with pytest.raises(InvalidInputError, match="timestamp_us is None"):
        world_detections(
            sample_log, ProposalSet(boxes, np.ones(2, np.float32), np.zeros(2, np.int32), ("a",)), 0.1
        )


def test_clock_times_per_frame_stages_lazily() -> None:
    clock = StageClock(3)
    out = clock.map("double", [1, 2, 3], lambda x: 2 * x, count=lambda y: y)
    assert clock.stats == ()  # nothing ran yet
    assert list(out) == [2, 4, 6]
    clock.close("double")
    (st,) = clock.stats
    assert st.items == 12 and st.frames == 3 and st.frame_ns.shape == (3,)
    assert clock.run_optional("x", None, count=len, reason="off") is None
    assert clock.stats[-1].status == "skipped" and clock.stats[-1].detail == "off"


@pytest.fixture(scope="module")
def sim_run():  # type: ignore[no-untyped-def]
    sim = simulate("tiny", 1.0, 3)
    log = sim.log
    sizes = {s: (log.sensors[s].camera.width, log.sensors[s].camera.height) for s in log.cameras}
    obs, _ = observations_from_ground_truth(sim.ground_truth, seed=1, image_sizes=sizes)
    return sim, obs, prelabel(log, PipelineConfig(backend="cpu"), observations=obs)


def test_sim_log_tracks_links_and_findings(sim_run) -> None:  # type: ignore[no-untyped-def]
    sim, obs, result = sim_run
    assert result.frame_times_us.size == 10
    assert result.tracks >= 3
    assert result.stage("shared_frame").detail.startswith("2 sensors")  # lidar and radar fused
    assert len(result.annotations.links) == result.stage("links").items > 0
    assert result.summary()["observations"] == len(obs) >= result.summary()["links"]
    track_ids = {t.track_id for t in result.annotations.tracks}
    obs_ids = {o.obs_id for o in obs}
    for link in result.annotations.links:
        assert link.from_id in obs_ids and link.to_id in track_ids
    assert not [f for f in result.findings if f.rule == "schema.link_targets"]  # 2D boxes were handed over
    assert "fusion.box2d" not in result.skipped_rules
    # pre-labeled tracks follow simulated objects (BEV centre within 2 m at a middle frame)
    t = int(result.frame_times_us[5])
    pred = np.array([b.box for b in boxes_at(sim.log, result.annotations, t, "world", tolerance_us=0)])
    gt = np.array(
        [b.box for b in boxes_at(sim.log, sim.ground_truth.annotations, t, "world", tolerance_us=0)]
    )
    d = np.linalg.norm(pred[:, None, :2] - gt[None, :, :2], axis=2)
    assert (d.min(axis=1) < 2.0).mean() >= 0.6


def test_sim_log_online_mode(sim_run) -> None:  # type: ignore[no-untyped-def]
    sim, _, _ = sim_run
    cfg = PipelineConfig(backend="cpu", tracks={"mode": "online"}, links={"enabled": False})
    result = prelabel(sim.log, cfg)
    assert result.tracks >= 3 and result.stage("tracks").detail == "online"
    for tr in result.annotations.tracks:
        assert len(tr) >= cfg.tracks.min_detections
