"""The benchmark runner on a tiny configuration: JSON and Markdown shape, not speed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks import runner

ARGS = [
    "--rigs",
    "tiny",
    "--stages",
    "deskew,points_in_boxes,nms,track",
    "--seconds",
    "0.2",
    "--max-sweeps",
    "2",
    "--cpu-only",
    "--quick",
]


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("suite")
    return runner.main([*ARGS, "--out", str(out)]), out


def test_json_rows_have_the_documented_fields(outcome: tuple[dict, Path]) -> None:  # type: ignore[type-arg]
    result, out = outcome
    stored = json.loads((out / "suite.json").read_text())
    assert stored["quick"] is True and stored["cuda"] is False
    assert {"git_commit", "cpu", "numpy", "numba", "gpu"} <= set(stored["machine"])
    stages = [r["stage"] for r in stored["rows"]]
    assert stages == ["deskew", "points_in_boxes", "nms", "track"]
    for r in stored["rows"]:
        assert {
            "rig",
            "stage",
            "device",
            "unit",
            "frames",
            "per_s",
            "ms_per_frame",
            "peers",
            "no_peer_reason",
            "memory_bound_fraction",
            "accuracy",
            "note",
        } <= set(r)
        assert r["rig"] == "tiny" and r["device"] == "cpu"
        # every row names its peer ratio or says why there is none
        assert r["peers"] or r["no_peer_reason"], r
        for p in r["peers"]:
            assert p["ratio"] > 0 and math.isfinite(p["ratio"])
    measured = result["rows"]
    assert all(r["per_s"] > 0 and r["frames"] > 0 for r in measured)
    by_stage = {r["stage"]: r for r in result["rows"]}
    assert 0 < by_stage["deskew"]["memory_bound_fraction"] < 1.5
    assert by_stage["points_in_boxes"]["accuracy"].startswith("100.00% of labels equal")
    assert "same kept set as shapely: True" in by_stage["nms"]["accuracy"]
    assert "MOTA" in by_stage["track"]["accuracy"] or "motmetrics" in by_stage["track"]["accuracy"]


def test_markdown_table_has_one_line_per_row(outcome: tuple[dict, Path]) -> None:  # type: ignore[type-arg]
    result, out = outcome
    text = (out / "suite.md").read_text()
    assert text.startswith(runner.SECTION)
    assert result["machine"]["git_commit"] in text and "Device:" in text
    table = [ln for ln in text.splitlines() if ln.startswith("| tiny |")]
    assert len(table) == len(result["rows"])
    assert all(ln.count(" | ") == 8 for ln in table)


def test_results_md_section_is_replaced_in_place(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text(f"# Benchmark results\n\n## Other\nkeep\n\n{runner.SECTION}\nold\n\n## Last\nkeep too\n")
    runner.update_results_md(f"{runner.SECTION}\nnew\n", path)
    text = path.read_text()
    assert "old" not in text and "new" in text and text.count("keep") == 2


def test_unknown_stage_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown stage 'fly'"):
        runner.run(rigs=["tiny"], stages=["fly"])
