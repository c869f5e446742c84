"""The benchmark runner on a tiny configuration: JSON and Markdown shape, not speed."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks import common, runner

STAGES = ["deskew", "points_in_boxes", "nms", "track", "interpolate", "validate"]
ARGS = [
    "--rigs",
    "tiny",
    "--stages",
    ",".join(STAGES),
    "--seconds",
    "0.6",
    "--max-sweeps",
    "1",
    "--cpu-only",
    "--quick",
]
ROW_KEYS = {
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
    "compile_s",
    "cuda",
}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("suite")
    md = out / "RESULTS.md"
    md.write_text("# Benchmark results\n\n## Other\nkeep me\n")
    return runner.main([*ARGS, "--out", str(out), "--results-md", str(md)]), out


def test_json_rows_have_the_documented_fields(outcome: tuple[dict[str, Any], Path]) -> None:
    result, out = outcome
    stored = json.loads((out / "suite_quick.json").read_text())
    assert stored["quick"] is True and stored["cuda"] is False and stored["cuda_reason"]
    machine_keys = {"git_commit", "git", "cpu", "numpy", "numba", "gpu", "load_average_1min"}
    assert machine_keys <= set(stored["machine"])
    assert stored["compile_s"] >= 0 and stored["wall_s"] > 0
    assert [r["stage"] for r in stored["rows"]] == STAGES
    for r in stored["rows"]:
        assert ROW_KEYS <= set(r), r
        assert r["rig"] == "tiny" and r["device"] == "cpu"
        # every row names its peer ratio or says why there is none
        assert r["peers"] or r["no_peer_reason"], r
        for p in r["peers"]:
            assert p["name"] and p["ratio"] > 0 and math.isfinite(p["ratio"]), r
        # no GPU figures without a GPU, and the row says why
        assert set(r["cuda"]) == {"reason"} and r["cuda"]["reason"], r
        assert r["accuracy"], r
    assert all(r["per_s"] > 0 and r["frames"] > 0 for r in result["rows"])


def test_accuracy_figures_come_from_the_oracles(outcome: tuple[dict[str, Any], Path]) -> None:
    by_stage = {r["stage"]: r for r in outcome[0]["rows"]}
    assert 0 < by_stage["deskew"]["memory_bound_fraction"] < 1.5
    assert by_stage["nms"]["memory_bound_fraction"] is None
    assert by_stage["points_in_boxes"]["accuracy"].startswith("100.00% of labels equal")
    assert "same kept set as shapely: True" in by_stage["nms"]["accuracy"]
    assert "MOTA" in by_stage["track"]["accuracy"] or "motmetrics" in by_stage["track"]["accuracy"]
    assert by_stage["track"]["no_peer_reason"] and not by_stage["track"]["peers"]


def test_markdown_table_has_one_line_per_row(outcome: tuple[dict[str, Any], Path]) -> None:
    result, out = outcome
    text = (out / "suite_quick.md").read_text()
    assert text.startswith(runner.SECTION)
    assert result["machine"]["git_commit"] in text and "Device:" in text and "no GPU" in text
    header = next(ln for ln in text.splitlines() if ln.startswith("| rig |"))
    assert header.count(" | ") == len(runner.COLUMNS) - 1
    table = [ln for ln in text.splitlines() if ln.startswith("| tiny |")]
    assert len(table) == len(result["rows"])
    for ln in table:
        cells = ln.strip("|").split(" | ")
        assert len(cells) == len(runner.COLUMNS)
        peer_cell = cells[runner.COLUMNS.index("peers (x peer) or why none")]
        assert peer_cell.strip().startswith("none: ") or "x" in peer_cell


def test_results_md_gets_the_quick_section_and_keeps_others(outcome: tuple[dict[str, Any], Path]) -> None:
    text = (outcome[1] / "RESULTS.md").read_text()
    assert "## Other\nkeep me\n" in text
    assert "## Suite (python -m benchmarks --quick)" in text and "| tiny | deskew |" in text


def test_results_md_section_is_replaced_in_place(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    notes = f"## {runner.SECTION[3:]}: notes"
    path.write_text(f"# Benchmark results\n\n## Other\nkeep\n\n{runner.SECTION}\nold\n\n{notes}\nkeep too\n")
    common.update_results_md(runner.SECTION, f"{runner.SECTION}\nnew\n", path)
    text = path.read_text()
    assert "old" not in text and "new" in text and text.count("keep") == 2
    common.update_results_md("## Fresh", "body", path)
    assert path.read_text().endswith("## Fresh\n\nbody\n")


def test_bad_heading_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="heading must be one line starting with '## '"):
        common.update_results_md("Suite", "x", tmp_path / "R.md")


def test_machine_info_names_commit_and_versions() -> None:
    info = common.machine_info(gpu=False)
    assert info["gpu"] is None and info["cores"] >= 1
    assert info["git"].startswith(info["git_commit"])
    assert "uncommitted box kernels" not in info["git"]
    assert info["numpy"] and isinstance(info["load_average_1min"], float)


def test_compile_clock_counts_a_fresh_kernel_once() -> None:
    import numba
    import numpy as np

    @numba.njit
    def twice(x: Any) -> Any:
        return 2 * x

    with common.CompileClock() as clock:
        twice(np.arange(3))
        twice(np.arange(3))
    assert clock.kernels == 1 and clock.seconds > 0 and clock.names[0].endswith("twice")


def test_unknown_stage_and_rig_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown stage 'fly'"):
        runner.run(rigs=["tiny"], stages=["fly"])
    with pytest.raises(ValueError, match="unknown rig 'mars'"):
        runner.run(rigs=["mars"], stages=["deskew"])
