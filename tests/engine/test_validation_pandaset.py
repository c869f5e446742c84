"""The validation targets on the full PandaSet excerpt: planted errors all found, clean GT nearly silent."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.eval_validation import run


@pytest.mark.slow
def test_planted_recall_and_clean_false_positives(pandaset_dir: Path) -> None:
    res = run(pandaset_dir)
    missed = [p["kind"] for p in res["planted"] if not p["detected"]]
    assert missed == []
    assert len(res["planted"]) >= 20 and len({p["rule"] for p in res["planted"]}) >= 20
    assert res["cuboids"] == 7530
    assert res["fp_per_1000_cuboids"] <= 1.0
    assert all(f["explanation"] != "unexplained" for f in res["clean_false_positives"])
    assert set(res["skipped"]) == {"fusion.radar_velocity", "fusion.box2d", "fusion.attribute_modality"}
