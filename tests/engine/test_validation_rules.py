"""The validation rule engine: findings, config, selection, and each rule family on the PandaSet sample."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from engine import open_log
from engine.annotations import Annotations, AttributePath, CuboidTrack
from engine.errors import InvalidInputError
from engine.io.annotations_json import annotations_to_dict
from engine.log import Log
from engine.validation import (
    RULES,
    Finding,
    Severity,
    findings_from_json,
    findings_to_json,
    load_config,
    select_rules,
    validate,
    validate_report,
)


@pytest.fixture(scope="module")
def sample(sample_dir: Path) -> Log:
    return open_log(sample_dir)


@pytest.fixture(scope="module")
def clean_report(sample: Log):  # type: ignore[no-untyped-def]
    return validate_report(sample)


def _with(track: CuboidTrack, **kw: object) -> CuboidTrack:
    f = {
        "track_id": track.track_id,
        "label": track.label,
        "frame": track.frame,
        "timestamps_us": track.timestamps_us,
        "centers": track.centers,
        "sizes": track.sizes,
        "rotations_wxyz": track.rotations_wxyz,
        "attributes": track.attributes,
        "static_attributes": track.static_attributes,
    }
    f.update(kw)
    return CuboidTrack(**f)  # type: ignore[arg-type]


def _cars(log: Log, n: int) -> list[CuboidTrack]:
    """Parked cars with many points in the sample (10-30 m away at frame 39)."""
    out = []
    traj = log.trajectory
    for t in log.annotations.tracks:
        if t.label == "Car" and len(t) == 4 and t.static_attributes.get("object_motion") == "Parked":
            d = np.linalg.norm(t.centers[1, :2] - traj.pose_at(int(t.timestamps_us[1])).translation[:2])
            if 10 < d < 30:
                out.append(t)
    return out[:n]


def _replace(log: Log, *tracks: CuboidTrack) -> Annotations:
    new = {t.track_id: t for t in log.annotations.tracks}
    for t in tracks:
        new[t.track_id] = t
    return Annotations(tuple(new.values()))


def _rules_at(findings: list[Finding], track_id: str) -> set[str]:
    return {f.rule for f in findings if f.track_id == track_id}


def test_finding_json_round_trip() -> None:
    f = Finding("temporal.gap", Severity.WARNING, "a", 12, None, "msg", 1.5, float("nan"))
    assert f.threshold is None and f.family == "temporal"
    d = f.to_dict()
    assert set(d) == {"rule", "severity", "track_id", "timestamp", "sensor", "message", "value", "threshold"}
    assert findings_from_json(findings_to_json([f])) == [f]
    with pytest.raises(InvalidInputError, match="severity"):
        Severity.parse("fatal")


def test_config_defaults_merge_and_errors(tmp_path: Path) -> None:
    cfg = load_config()
    assert cfg.class_of("Pickup Truck") == "car" and cfg.class_of("PEDESTRIAN") == "pedestrian"
    assert cfg.class_of("Spaceship") is None
    p = tmp_path / "v.yaml"
    p.write_text("temporal:\n  size_drift_rel: 0.3\nseverity:\n  temporal.gap: error\n")
    over = load_config(p)
    assert (
        over.temporal.size_drift_rel == 0.3
        and over.temporal.heading_jump_rad == cfg.temporal.heading_jump_rad
    )
    assert over.severity["temporal.gap"] is Severity.ERROR
    with pytest.raises(InvalidInputError, match="size_drift_rel"):
        load_config({"temporal": {"size_drift_rel": -1}})
    with pytest.raises(InvalidInputError, match="taxonomy"):
        load_config({"taxonomy": "kitti"})


def test_rule_selection() -> None:
    fams = {r.family for r in RULES.values()}
    assert fams == {"schema", "geometry", "temporal", "fusion", "data"}
    assert len(RULES) >= 30
    geo = select_rules(["geometry"])
    assert geo and all(r.family == "geometry" for r in geo)
    sel = select_rules(["temporal", "geometry.overlap"], disabled=["temporal.accel"])
    names = [r.name for r in sel]
    assert "geometry.overlap" in names and "temporal.accel" not in names and "temporal.gap" in names
    with pytest.raises(InvalidInputError, match="unknown rule or family 'nope'"):
        select_rules(["nope"])


def test_clean_sample_has_no_findings_and_records_skips(clean_report) -> None:  # type: ignore[no-untyped-def]
    assert [f.to_dict() for f in clean_report.findings] == []
    assert "radar" in clean_report.skipped["fusion.radar_velocity"]
    assert "2D boxes" in clean_report.skipped["fusion.box2d"]
    assert json.loads(json.dumps(clean_report.to_dict()))["findings"] == []


def test_schema_rules_on_the_json_form(sample: Log) -> None:
    d = annotations_to_dict(sample.annotations)
    d["links"] = [{"from_id": d["tracks"][0]["track_id"], "to_id": "ghost"}]
    t0, t1, t2 = d["tracks"][0], d["tracks"][1], d["tracks"][2]
    t0["rotations_wxyz"][1] = [0.5, 0.0, 0.0, 0.5]
    t1["sizes"][2] = [4.0, 0.0, 1.5]
    t2["timestamps_us"][1], t2["timestamps_us"][2] = t2["timestamps_us"][2], t2["timestamps_us"][1]
    d["tracks"].append(copy.deepcopy(t1))
    d["tracks"][3]["label"] = "Spaceship"
    d["tracks"][4]["static_attributes"]["object_motion"] = "Flying"
    d["tracks"].append({"track_id": "broken"})
    found = validate(sample, d, rules=["schema"])
    by_rule = {f.rule: f for f in found}
    assert by_rule["schema.unit_quaternions"].track_id == t0["track_id"]
    assert by_rule["schema.unit_quaternions"].value == pytest.approx(1 - np.sqrt(0.5), abs=1e-9)
    assert by_rule["schema.positive_sizes"].track_id == t1["track_id"]
    assert by_rule["schema.unique_ids"].track_id == t1["track_id"]
    assert by_rule["schema.monotonic_timestamps"].track_id == t2["track_id"]
    assert by_rule["schema.known_labels"].track_id == d["tracks"][3]["track_id"]
    assert "Flying" in by_rule["schema.known_attributes"].message
    assert by_rule["schema.link_targets"].track_id == "ghost"
    assert "broken" in by_rule["schema.malformed"].message
    # the other rules still run on the sanitised tracks
    assert validate(sample, d, rules=["temporal.size_drift"]) == []


def test_schema_coverage_and_no_taxonomy(sample: Log) -> None:
    t = sample.annotations.tracks[0]
    late = _with(t, timestamps_us=t.timestamps_us + 60_000_000)
    found = validate(sample, _replace(sample, late), rules=["schema.timestamps_in_coverage"])
    assert [f.track_id for f in found] == [t.track_id]
    rep = validate_report(sample, rules=["schema.known_labels"], config={"taxonomy": None})
    assert "taxonomy" in rep.skipped["schema.known_labels"]


def test_temporal_rules_find_planted_errors(sample: Log) -> None:
    a, b, c, d, e = _cars(sample, 5)
    q = a.rotations_wxyz.copy()
    q[2] = q[2][[3, 2, 1, 0]] * np.array([-1, 1, -1, 1])  # yaw + pi about z
    s = b.sizes.copy()
    s[2] *= 0.6
    cc = c.centers.copy()
    cc[2, :2] += 4.0
    ann = _replace(
        sample,
        _with(a, rotations_wxyz=q),
        _with(b, sizes=s),
        _with(c, centers=cc),
        _with(d, attributes=(AttributePath("label", (int(d.timestamps_us[2]),), ("Pedestrian",)),)),
        _with(
            e,
            timestamps_us=e.timestamps_us[[0, 3]],
            centers=e.centers[[0, 3]],
            sizes=e.sizes[[0, 3]],
            rotations_wxyz=e.rotations_wxyz[[0, 3]],
            attributes=(),
        ),
    )
    found = validate(sample, ann, rules=["temporal"])
    assert "temporal.heading_flip" in _rules_at(found, a.track_id)
    flip = next(f for f in found if f.rule == "temporal.heading_flip")
    assert flip.timestamp_us == int(a.timestamps_us[2]) and flip.value == pytest.approx(np.pi, abs=0.05)
    assert "temporal.size_drift" in _rules_at(found, b.track_id)
    assert "temporal.teleport" in _rules_at(found, c.track_id)
    assert "temporal.class_change" in _rules_at(found, d.track_id)
    assert "temporal.gap" in _rules_at(found, e.track_id)
    assert {f.track_id for f in found} <= {t.track_id for t in (a, b, c, d, e)}


def test_id_switch_speed_and_fragment(sample: Log) -> None:
    a, b, c = _cars(sample, 3)
    ca, cb = a.centers.copy(), b.centers.copy()
    ca[3], cb[3] = b.centers[3], a.centers[3]
    fast = c.centers.copy()
    fast[:, 0] += 9.0 * np.arange(4)  # 90 m/s
    found = validate(
        sample,
        _replace(sample, _with(a, centers=ca), _with(b, centers=cb), _with(c, centers=fast)),
        rules=["temporal.id_switch", "temporal.speed"],
    )
    sw = [f for f in found if f.rule == "temporal.id_switch"]
    assert len(sw) == 1 and {sw[0].track_id} <= {a.track_id, b.track_id}
    assert sw[0].timestamp_us == int(a.timestamps_us[3])
    # the swapped tracks jump too, so they also move impossibly fast at the swap
    assert c.track_id in {f.track_id for f in found if f.rule == "temporal.speed"}
    assert {f.track_id for f in found} <= {a.track_id, b.track_id, c.track_id}
    head = _with(
        a,
        timestamps_us=a.timestamps_us[:2],
        centers=a.centers[:2],
        sizes=a.sizes[:2],
        rotations_wxyz=a.rotations_wxyz[:2],
        attributes=(),
    )
    tail = _with(
        a,
        track_id="tail",
        timestamps_us=a.timestamps_us[3:],
        centers=a.centers[3:],
        sizes=a.sizes[3:],
        rotations_wxyz=a.rotations_wxyz[3:],
        attributes=(),
    )
    ann = Annotations(tuple(t for t in sample.annotations.tracks if t.track_id != a.track_id) + (head, tail))
    frag = validate(sample, ann, rules=["temporal.fragment"])
    assert [(f.track_id, f.timestamp_us) for f in frag] == [("tail", int(a.timestamps_us[3]))]


def test_geometry_rules_find_planted_errors(sample: Log) -> None:
    a, b, c, d = _cars(sample, 4)
    ca = a.centers.copy()
    ca[1, 2] -= 1.2  # sunk
    dup = _with(b, track_id="dup", centers=b.centers + 0.1)
    wrong = _with(c, label="Pedestrian")
    far = _with(d, centers=d.centers + np.array([400.0, 0.0, 0.0]))
    found = validate(
        sample,
        Annotations(_replace(sample, _with(a, centers=ca), wrong, far).tracks + (dup,)),
        rules=["geometry"],
    )
    ground = [f for f in found if f.rule == "geometry.ground"]
    assert [(f.track_id, f.timestamp_us) for f in ground] == [(a.track_id, int(a.timestamps_us[1]))]
    assert ground[0].value == pytest.approx(-1.2, abs=0.3)
    assert {f.track_id for f in found if f.rule == "geometry.overlap"} <= {b.track_id, "dup"}
    assert len([f for f in found if f.rule == "geometry.overlap"]) == 4
    assert [f.track_id for f in found if f.rule == "geometry.class_size"] == [c.track_id]
    assert {f.track_id for f in found if f.rule in ("geometry.out_of_range", "geometry.outside_fov")} == {
        d.track_id
    }


def test_empty_box_see_through(sample: Log) -> None:
    """A box moved into open space is seen through; the same box occluded is not flagged (clean run)."""
    (a,) = _cars(sample, 1)
    for shift in ([0.0, 6.0], [0.0, -6.0], [6.0, 0.0], [-6.0, 0.0]):
        moved = _with(a, centers=a.centers + np.array([*shift, 0.0]))
        found = validate(sample, _replace(sample, moved), rules=["geometry.empty_box"])
        if found:
            break
    assert found and all(f.track_id == a.track_id for f in found)
    assert found[0].value >= found[0].threshold and found[0].sensor == "pandar64"


def test_data_rules(sample: Log) -> None:
    from dataclasses import replace as dc_replace

    from calibration.se3 import SE3
    from engine.log import Stream
    from engine.sensors import Sensor
    from engine.sweeps import CameraFrame

    st = sample.cameras["front_camera"]
    t = st.timestamps_us.copy()
    t[39] += 45_000  # inside the sample's lidar span (frames 38-41)
    cams = dict(sample.cameras)
    cams["front_camera"] = Stream("front_camera", t, lambda i: CameraFrame("front_camera", int(t[i])))
    sensors = dict(sample.sensors)
    s = sensors["front_camera"]
    sensors["front_camera"] = Sensor(
        s.sensor_id,
        s.kind,
        s.ego_from_sensor @ SE3(np.diag([-1.0, -1.0, 1.0]), np.zeros(3)),
        s.camera,
        s.metadata,
    )
    bad = dc_replace(sample, cameras=cams, sensors=sensors)
    far = _with(sample.annotations.tracks[0], centers=sample.annotations.tracks[0].centers + 1e4)
    found = validate(bad, _replace(sample, far), rules=["data"])
    rules = {(f.rule, f.sensor) for f in found}
    assert ("data.time_offsets", "front_camera") in rules
    assert ("data.calibration", "front_camera") in rules
    assert ("data.float32_precision", None) in rules
    assert not [f for f in found if f.rule == "data.dropped_sweeps"]
