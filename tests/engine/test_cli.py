"""The ``fusionlabel`` job commands through typer's CliRunner: help, small runs, exit code 2 on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from engine.annotations import Annotations, CuboidTrack
from engine.cli import app
from engine.io.annotations_json import read_annotations, write_annotations

runner = CliRunner()


def _text(res) -> str:  # type: ignore[no-untyped-def]
    """The output with rich's line wrapping undone."""
    return " ".join(res.output.split())


@pytest.mark.parametrize("command", ["prelabel", "validate", "interpolate", "render", "bench", "demo"])
def test_help_has_examples(command: str) -> None:
    res = runner.invoke(app, [command, "--help"])
    assert res.exit_code == 0, res.output
    assert "Example" in _text(res) and f"fusionlabel {command}" in _text(res)


def test_prelabel_missing_log_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = runner.invoke(app, ["prelabel", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "error:" in _text(res) and "does not exist" in _text(res)


def test_prelabel_bad_backend_names_the_field(sample_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = runner.invoke(app, ["prelabel", str(sample_dir), "--out", str(tmp_path), "--backend", "tpu"])
    assert res.exit_code == 2
    assert "backend" in _text(res) and "tpu" in _text(res)


def test_demo_bad_backend_is_exit_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = runner.invoke(app, ["demo", "--out", str(tmp_path), "--backend", "quantum"])
    assert res.exit_code == 2 and "backend" in _text(res)


def test_prelabel_bad_config_file(sample_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("tracks:\n  min_detections: 0\n")
    res = runner.invoke(app, ["prelabel", str(sample_dir), "--out", str(tmp_path), "--config", str(cfg)])
    assert res.exit_code == 2
    assert "tracks.min_detections" in _text(res)


def test_prelabel_small_run_writes_outputs(sample_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("links:\n  enabled: false\nvalidation:\n  rules: [schema]\n")
    out = tmp_path / "run"
    res = runner.invoke(
        app,
        [
            "prelabel",
            str(sample_dir),
            "--out",
            str(out),
            "--backend",
            "cpu",
            "--config",
            str(cfg),
            "--no-sfs",
            "--no-render",
        ],
    )
    assert res.exit_code == 0, res.output
    for name in ("sweeps (frames)", "tracks", "findings", "frames/s", "proposals", "- (links stage skipped)"):
        assert name in _text(res), name
    ann = read_annotations(out / "annotations.json")
    assert len(ann.tracks) > 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["tracks"] == len(ann.tracks) and stats["frames"] == 4
    assert not (out / "scene.sfs").exists() and not (out / "render").exists()


def test_validate_ground_truth_schema_is_clean(sample_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "findings.json"
    res = runner.invoke(app, ["validate", str(sample_dir), "--rules", "schema", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text()) == []


def test_validate_reports_errors_with_exit_1(sample_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ann = tmp_path / "a.json"
    write_annotations(ann, Annotations((_track("x", "not-a-pandaset-label"),)))
    res = runner.invoke(
        app, ["validate", str(sample_dir), "--annotations", str(ann), "--rules", "schema", "--json"]
    )
    assert res.exit_code == 1
    rules = {f["rule"] for f in json.loads(res.output)["findings"]}
    assert "schema.known_labels" in rules


def test_validate_unknown_rule_is_exit_2(sample_dir) -> None:  # type: ignore[no-untyped-def]
    res = runner.invoke(app, ["validate", str(sample_dir), "--rules", "nonsense"])
    assert res.exit_code == 2 and "nonsense" in _text(res)


def _track(track_id: str = "t1", label: str = "Car") -> CuboidTrack:
    boxes = np.array([[0.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0], [10.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0]])
    return CuboidTrack.from_boxes(track_id, label, [1_000_000, 2_000_000], boxes)


def test_interpolate_keyframes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ann = tmp_path / "a.json"
    write_annotations(ann, Annotations((_track("t1"), _track("t2"))))
    res = runner.invoke(app, ["interpolate", str(ann), "--track", "t1", "--at", "1000000,1500000,2000000"])
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.output)["tracks"]
    assert row["track_id"] == "t1" and row["timestamps_us"] == [1_000_000, 1_500_000, 2_000_000]
    c = np.array(row["centers"])
    assert np.allclose(c[0], [0, 0, 0]) and np.allclose(c[2], [10, 0, 0])  # keyframes returned exactly
    assert 0.0 < c[1, 0] < 10.0
    out = tmp_path / "o.json"
    res = runner.invoke(app, ["interpolate", str(ann), "--step-us", "250000", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = json.loads(out.read_text())["tracks"]
    assert [len(r["timestamps_us"]) for r in rows] == [5, 5]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "5000000"], "5000000"),  # outside the keyframes, without --hold
        (["--at", "1.5e6"], "comma-separated integers"),
        ([], "exactly one of --at"),
        (["--step-us", "0"], "--step-us must be > 0"),
        (["--track", "zz", "--at", "1000000"], "zz"),
    ],
)
def test_interpolate_bad_input_is_exit_2(tmp_path, args, message) -> None:  # type: ignore[no-untyped-def]
    ann = tmp_path / "a.json"
    write_annotations(ann, Annotations((_track(),)))
    res = runner.invoke(app, ["interpolate", str(ann), *args])
    assert res.exit_code == 2, res.output
    assert message in _text(res)


def test_interpolate_hold_outside_span(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ann = tmp_path / "a.json"
    write_annotations(ann, Annotations((_track(),)))
    res = runner.invoke(app, ["interpolate", str(ann), "--at", "5000000", "--hold"])
    assert res.exit_code == 0, res.output
    assert np.allclose(json.loads(res.output)["tracks"][0]["centers"][0], [10, 0, 0])


def test_render_small_run(sample_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "pics"
    res = runner.invoke(
        app, ["render", str(sample_dir), "--out", str(out), "--cameras", "front_camera", "--max-frames", "1"]
    )
    assert res.exit_code == 0, res.output
    assert (out / "bev" / "0000.png").is_file() and (out / "camera" / "front_camera" / "0000.png").is_file()
    assert (out / "contact_sheet.png").is_file()
    res = runner.invoke(app, ["render", str(sample_dir), "--out", str(out), "--cameras", "nope"])
    assert res.exit_code == 2 and "nope" in _text(res)


def test_bench_lists_suites_and_rejects_unknown() -> None:
    res = runner.invoke(app, ["bench", "--list"])
    assert res.exit_code == 0 and "bench_boxes" in _text(res)
    res = runner.invoke(app, ["bench", "no_such_suite"])
    assert res.exit_code == 2 and "unknown benchmark suite" in _text(res)
