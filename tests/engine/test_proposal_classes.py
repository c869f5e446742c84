"""Shape rules on size-prior class guesses (engine.proposals.classify)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from proposal_helpers import CAR, CLASSES, CYC, PED, blob, rule_args

from engine.proposals import ClassRuleConfig, ProposalConfig, propose, refine_classes


def run_rules(clusters, guesses, boxes, rules=None):
    """Classes after the rules for clusters given as point blobs (ground at z = 0)."""
    return refine_classes(*rule_args(clusters, guesses, boxes, rules))


def ped_box(x, y):
    return [x, y, 0.85, 0.7, 0.7, 1.7, 0.0]


@pytest.mark.parametrize(
    ("sides", "z_range", "expected"),
    [
        ((0.5, 0.4), (0.3, 1.75), PED),  # upright person
        ((0.1, 0.1), (0.3, 1.8), -1),  # pole
        ((0.7, 0.05), (0.3, 1.8), -1),  # sign / panel seen edge-on
        ((0.5, 0.4), (1.1, 1.6), -1),  # floating blob (mirror, roof rack)
        ((0.5, 0.4), (0.3, 2.8), -1),  # taller than a person (pole base, tree trunk)
        ((0.5, 0.4), (0.3, 0.8), -1),  # too low (bollard, bush)
        ((0.95, 0.8), (0.3, 1.7), -1),  # too wide (end-on motorcycle, car corner)
    ],
)
def test_pedestrian_shape(sides, z_range, expected):
    rng = np.random.default_rng(3)
    out = run_rules([blob(rng, (10.0, 3.0), sides, z_range)], [PED], [ped_box(10.0, 3.0)])
    assert out.tolist() == [expected]


def test_fragment_next_to_a_car_becomes_unknown():
    rng = np.random.default_rng(4)
    car = blob(rng, (10.0, 0.0), (4.5, 1.9), (0.3, 1.5), n=400)
    car_box = [10.0, 0.0, 0.9, 4.6, 1.9, 1.6, 0.0]
    near = blob(rng, (12.6, 0.0), (0.5, 0.4), (0.3, 1.7))  # 0.3 m beyond the car's front edge
    far = blob(rng, (16.0, 0.0), (0.5, 0.4), (0.3, 1.7))
    boxes = [car_box, ped_box(12.6, 0.0), ped_box(16.0, 0.0)]
    out = run_rules([car, near, far], [CAR, PED, PED], boxes)
    assert out.tolist() == [CAR, -1, PED]
    loose = run_rules([car, near, far], [CAR, PED, PED], boxes, ClassRuleConfig(fragment_gap_m=0.1))
    assert loose.tolist() == [CAR, PED, PED]


def test_cyclist_needs_rider_height_and_fill():
    rng = np.random.default_rng(5)
    rider = blob(rng, (8.0, -4.0), (1.7, 0.5), (0.3, 1.7))
    low = blob(rng, (8.0, 4.0), (1.7, 0.5), (1.1, 1.5))  # no points near the ground: ego roof, car top
    boxes = [[8.0, -4.0, 0.85, 1.8, 0.7, 1.7, 0.0], [8.0, 4.0, 0.85, 1.8, 0.7, 1.7, 0.0]]
    assert run_rules([rider, low], [CYC, CYC], boxes).tolist() == [CYC, -1]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 6))
def test_rules_only_demote_small_classes(seed, n):
    rng = np.random.default_rng(seed)
    clusters = [blob(rng, rng.uniform(-20, 20, 2), rng.uniform(0.02, 5, 2), (0.3, 2.0)) for _ in range(n)]
    guesses = rng.integers(-1, len(CLASSES), n)
    boxes = [[*c[:, :2].mean(0), 1.0, 1.0, 1.0, 1.0, 0.0] for c in clusters]
    out = run_rules(clusters, guesses, boxes)
    changed = out != guesses
    assert np.all(out[changed] == -1) and np.all(np.isin(guesses[changed], [PED, CYC]))
    off = run_rules(clusters, guesses, boxes, ClassRuleConfig(enabled=False))
    np.testing.assert_array_equal(off, guesses)


def test_propose_drops_a_pole_but_keeps_the_person():
    rng = np.random.default_rng(6)
    ground = np.column_stack([rng.uniform(-20, 20, (4000, 2)), rng.normal(0, 0.02, 4000)])
    person = blob(rng, (6.0, -5.0), (0.5, 0.4), (0.3, 1.75), n=80)
    pole = blob(rng, (6.0, 5.0), (0.12, 0.12), (0.3, 1.9), n=80)
    pts = np.vstack([ground, person, pole]).astype(np.float32)
    props = propose(pts)
    assert props.labels == ["pedestrian"]
    assert np.hypot(*(props.boxes[0, :2] - (6.0, -5.0))) < 0.3
    raw = propose(pts, config=ProposalConfig(classes=ClassRuleConfig(enabled=False)))
    assert sorted(raw.labels) == ["pedestrian", "pedestrian"]
    kept = propose(pts, config=ProposalConfig(keep_unknown=True))
    assert sorted(kept.labels) == ["pedestrian", "unknown"]
