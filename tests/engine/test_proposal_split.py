"""Pedestrians next to large structures: finer re-clustering of prior-less clusters and the fragment gap
measured to a vehicle's points (engine.proposals.geometric / classify)."""

from __future__ import annotations

import numpy as np
from proposal_helpers import CAR, CLASSES, PED, blob, rule_args

from engine.proposals import ClassRuleConfig, ClusterConfig, ProposalConfig, propose, refine_classes
from engine.proposals.classify import rule_failures
from engine.proposals.geometric import propose_stages

SPLIT = ClusterConfig(split_voxel_size_m=(0.1, 0.1, 0.5))


def wall_scene(seed=0, gap=0.15):
    """Flat ground, a 20 m wall (longer than any prior) and a person ``gap`` metres in front of it."""
    rng = np.random.default_rng(seed)
    ground = np.column_stack([rng.uniform(-25, 25, (8000, 2)), rng.normal(0, 0.02, 8000)])
    wall = blob(rng, (8.0, 5.0), (20.0, 0.2), (0.3, 2.8), n=6000)  # y 4.9 .. 5.1
    person_y = 4.9 - gap - 0.2
    person = blob(rng, (8.0, person_y), (0.5, 0.4), (0.3, 1.75), n=300)
    return np.vstack([ground, wall, person]).astype(np.float32), (8.0, person_y)


def pedestrians_near(props, xy, radius=0.4):
    ped = props.boxes[np.asarray(props.labels) == "pedestrian"]
    return int((np.hypot(ped[:, 0] - xy[0], ped[:, 1] - xy[1]) <= radius).sum())


def test_person_next_to_a_wall_is_split_off():
    pts, person = wall_scene()
    assert pedestrians_near(propose(pts), person) == 0  # merged with the wall: no prior fits
    props = propose(pts, config=ProposalConfig(cluster=SPLIT))
    assert pedestrians_near(props, person) == 1
    assert props.labels.count("pedestrian") == 1  # the wall's remains give no people


def test_split_keeps_only_the_configured_classes():
    pts, person = wall_scene(seed=1)
    cfg = ProposalConfig(cluster=ClusterConfig(split_voxel_size_m=(0.1, 0.1, 0.5), split_classes=("car",)))
    assert pedestrians_near(propose(pts, config=cfg), person) == 0


def test_propose_stages_matches_propose():
    pts, _ = wall_scene(seed=2)
    cfg = ProposalConfig(cluster=SPLIT)
    st = propose_stages(pts, cfg)
    props = propose(pts, config=cfg)
    np.testing.assert_array_equal(st["final"].boxes, props.boxes)
    assert st["labels"].shape == (pts.shape[0],)
    assert st["boxes"].shape[0] == st["fit_class"].shape[0] == st["cluster"].shape[0]
    # every kept row belongs to a cluster that holds points
    assert all((st["labels"] == st["cluster"][r]).any() for r in st["kept_rows"])


def _partly_seen_car(rng):
    """A car seen only at its near end (x 9..11) whose box was grown to the class mean away from it."""
    car = blob(rng, (10.0, 0.0), (2.0, 1.9), (0.3, 1.5), n=400)
    car_box = [11.3, 0.0, 0.9, 4.6, 1.9, 1.6, 0.0]  # x 9.0 .. 13.6
    return car, car_box


def _rules(clusters, guesses, boxes, rules):
    args = rule_args(clusters, guesses, boxes, rules)
    return refine_classes(*args), args


def test_fragment_gap_to_the_vehicle_points_not_its_grown_box():
    rng = np.random.default_rng(7)
    car, car_box = _partly_seen_car(rng)
    person = blob(rng, (13.0, 0.0), (0.5, 0.4), (0.3, 1.7))  # inside the grown box, 2 m from the points
    mirror = blob(rng, (11.3, 0.0), (0.5, 0.4), (0.3, 1.7))  # 0.3 m beyond the seen points
    boxes = [car_box, [13.0, 0.0, 0.85, 0.7, 0.7, 1.7, 0.0], [11.3, 0.0, 0.85, 0.7, 0.7, 1.7, 0.0]]
    guesses = [CAR, PED, PED]
    by_box, _ = _rules([car, person, mirror], guesses, boxes, ClassRuleConfig(fragment_reference="box"))
    assert by_box.tolist() == [CAR, -1, -1]
    by_points, args = _rules(
        [car, person, mirror], guesses, boxes, ClassRuleConfig(fragment_reference="points")
    )
    assert by_points.tolist() == [CAR, PED, -1]
    assert rule_failures(*args, 1) == []
    assert rule_failures(*args, 2) == ["fragment"]


def test_rule_failures_names_the_rules():
    rng = np.random.default_rng(8)
    pole = blob(rng, (5.0, 5.0), (0.1, 0.1), (0.3, 2.8))
    args = (
        pole,
        pole[:, 2].copy(),
        np.zeros(len(pole), np.int32),
        np.asarray([[5.0, 5.0, 1.4, 0.7, 0.7, 1.7, 0.0]], np.float32),
        np.asarray([PED], np.int32),
        np.zeros(1, np.int64),
        CLASSES,
        ClassRuleConfig(),
    )
    assert rule_failures(*args, 0) == ["too_high", "pole", "panel"]
    assert refine_classes(*args).tolist() == [-1]
