"""engine.tracks: CuboidTrack <-> tracking.CuboidPath adapters."""

from __future__ import annotations

import numpy as np

from engine import CoordinateFrame, CuboidTrack
from engine.tracks import interpolate_track, path_from_track, track_from_path
from tracking import PoseFrame


def _track() -> CuboidTrack:
    boxes = np.array(
        [
            [0, 0, 0.8, 4.5, 1.9, 1.6, 3.0],
            [10, 1, 0.8, 4.5, 1.9, 1.6, -3.0],
            [20, 4, 0.8, 4.5, 1.9, 1.6, -2.8],
        ]
    )
    return CuboidTrack.from_boxes(
        "car-1", "car", [0, 1_000_000, 2_000_000], boxes, confidence=np.array([1, 0.5, 1])
    )


def test_round_trip_is_exact() -> None:
    track = _track()
    path = path_from_track(track)
    assert path.frame is PoseFrame.WORLD
    back = track_from_path(path, track.track_id, track.label)
    assert back.frame is CoordinateFrame.WORLD
    for name in ("timestamps_us", "centers", "sizes", "rotations_wxyz", "confidence"):
        np.testing.assert_array_equal(getattr(back, name), getattr(track, name))


def test_interpolate_track_hits_keyframes_and_wraps() -> None:
    track = _track()
    out = interpolate_track(track, [0, 500_000, 2_000_000])
    np.testing.assert_array_equal(out.centers[[0, 2]], track.centers[[0, 2]])
    assert abs(abs(out.yaws[1]) - np.pi) < 1e-9
    assert out.confidence[1] == np.float32(0.75)
