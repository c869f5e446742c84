"""Camera linking on the tiny simulated rig: footprints vs GT boxes, association, attributes, SFS, errors."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from engine.linking import (
    BLINKER,
    FootprintConfig,
    LinkConfig,
    Observation2D,
    box_iou_matrix,
    check_observations,
    compute_footprints,
    fuse_attributes,
    link_cameras,
    observations_from_dict,
    observations_json_schema,
    observations_to_dict,
)
from engine.linking.associate import Match
from engine.linking.synthetic import observations_from_ground_truth
from engine.sim import simulate
from kernels.errors import InvalidInputError


@pytest.fixture(scope="module")
def sim():  # type: ignore[no-untyped-def]
    return simulate("tiny", 1.5, 3)


@pytest.fixture(scope="module")
def linked(sim):  # type: ignore[no-untyped-def]
    log = sim.log
    sizes = {s: (log.sensors[s].camera.width, log.sensors[s].camera.height) for s in log.cameras}
    obs, truth = observations_from_ground_truth(sim.ground_truth, seed=1, image_sizes=sizes)
    return obs, truth, link_cameras(log, sim.ground_truth.annotations, obs, LinkConfig(all_frames=True))


def test_footprints_match_ground_truth_boxes(sim, linked) -> None:  # type: ignore[no-untyped-def]
    fp = linked[2].footprints
    ious, vis_err = [], []
    for cb in sim.ground_truth.camera_boxes:
        rows = fp.rows_in(cb.sensor_id, cb.timestamp_us)
        by_id = {fp.track_ids[int(fp.track[r])]: r for r in rows}
        for b in cb.boxes:
            r = by_id[b.track_id]
            assert fp.visible[r], (cb.sensor_id, b.track_id)
            ious.append(box_iou_matrix(np.array(b.box), fp.box[r])[0, 0])
            vis_err.append(abs(b.visible_fraction - fp.visible_fraction[r]))
            assert abs(b.truncation - fp.truncation[r]) < 1e-6
    assert len(ious) > 100
    assert min(ious) > 0.99
    assert np.mean(vis_err) < 0.05


def test_association_and_attributes_on_noisy_observations(sim, linked) -> None:  # type: ignore[no-untyped-def]
    obs, truth, res = linked
    tp = sum(truth[m.obs_id] == m.track_id for m in res.matches)
    precision, recall = tp / len(res.matches), tp / len(obs)
    assert precision > 0.97 and recall > 0.97
    gt_tracks = {t.track_id: t for t in sim.ground_truth.annotations.tracks}
    hits = total = 0
    for fa in res.attributes:
        gt_path = next(a for a in gt_tracks[fa.track_id].attributes if a.name == fa.path.name)
        times = [e.timestamp_us for seg in fa.evidence for e in seg]
        for t in range(min(times), max(times) + 1, 10_000):
            hits += fa.path.value_at(t) == gt_path.value_at(t)
            total += 1
        assert len(fa.confidence) == len(fa.path.values) == len(fa.evidence)
        assert all(0.0 <= c <= 1.0 for c in fa.confidence)
    assert total > 100 and hits / total > 0.9


def test_blinker_flicker_is_one_segment() -> None:
    """left, off, off, left, off... from two cameras decodes to one 'left' segment, then 'off' for good."""
    t0 = 1_000_000
    pattern = (["left"] * 3 + ["off"] * 3) * 4 + ["off"] * 30
    obs, matches = [], []
    for k, v in enumerate(pattern):
        for cam, dt in (("a", 0), ("b", 40_000)):
            oid = f"{cam}{k}"
            t = t0 + k * 100_000 + dt
            obs.append(Observation2D(oid, cam, t, (0, 0, 1, 1), "car", attributes={"blinker": v}))
            matches.append(Match(oid, "trk", cam, t, 1.0))
    (fa,) = fuse_attributes(matches, obs, (BLINKER,))
    assert fa.path.values == ("left", "off")
    change = fa.path.timestamps_us[1]
    assert t0 + 2_040_000 < change < t0 + 2_100_000  # between the last 'left' (k = 20) and the next 'off'
    assert fa.path.timestamps_us[0] == t0
    assert {e.sensor_id for e in fa.evidence[0]} == {"a", "b"}
    assert min(fa.confidence) > 0.8


def test_sfs_output_is_json_safe_with_null_projections(sim, linked) -> None:  # type: ignore[no-untyped-def]
    res = linked[2]
    tracks = sim.ground_truth.annotations.tracks
    doc = res.to_sfs(sim.log, tracks, time_offset_us=int(sim.log.time_range_us[0]) - 1000)
    json.dumps(doc)
    kinds = {a["type"] for a in doc["annotations"]}
    assert kinds == {"cuboid", "box_2d", "link"}
    boxes = [
        b for a in doc["annotations"] if a["type"] == "cuboid" for p in a["projections"] for b in p["boxes"]
    ]
    assert any(b is None for b in boxes) and any(b is not None and len(b) == 4 for b in boxes)
    cub = next(a for a in doc["annotations"] if a["type"] == "cuboid" and a["attributes"])
    assert {"name", "timestamps", "values", "static"} <= set(cub["attributes"][0])
    merged = res.annotations(sim.ground_truth.annotations)
    assert len(merged.links) == len(res.matches)


def test_observation_json_round_trip_and_schema() -> None:
    o = Observation2D("x1", "cam_front", 5, (1.0, 2.0, 3.0, 4.0), "car", 0.5, 12.0, {"blinker": "left"})
    doc = observations_to_dict([o])
    assert observations_from_dict(json.loads(json.dumps(doc))) == (o,)
    assert "frames" in observations_json_schema()["properties"]
    bad = json.loads(json.dumps(doc))
    bad["frames"][0]["boxes"][0]["score"] = 3.0
    with pytest.raises(InvalidInputError, match="score"):
        observations_from_dict(bad)


def test_bad_inputs_are_named(sim) -> None:  # type: ignore[no-untyped-def]
    log = sim.log
    t = int(log.cameras["cam_front"].timestamps_us[0])
    good = Observation2D("o", "cam_front", t, (10.0, 10.0, 50.0, 50.0), "car")
    with pytest.raises(InvalidInputError, match="unknown camera 'cam_nope'"):
        check_observations(log, [replace(good, sensor_id="cam_nope")])
    with pytest.raises(InvalidInputError, match="outside the 640 x 480 image"):
        check_observations(log, [replace(good, box=(10.0, 10.0, 700.0, 50.0))])
    with pytest.raises(InvalidInputError, match="timestamp_us .* outside camera 'cam_front'"):
        check_observations(log, [replace(good, timestamp_us=t - 10_000_000)])
    with pytest.raises(InvalidInputError, match="used twice"):
        check_observations(log, [good, good])
    with pytest.raises(InvalidInputError, match="not a capture of camera"):
        compute_footprints(log, sim.ground_truth.annotations, [("cam_front", t + 7)], FootprintConfig())
    obs = [replace(good, attributes={"blinker": "purple"})]
    with pytest.raises(InvalidInputError, match="'purple'"):
        fuse_attributes([Match("o", "trk", "cam_front", t, 1.0)], obs, (BLINKER,))
