"""``engine.open_log`` picks readers by content; ``fusionlabel convert`` writes every output format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from io_helpers import assert_tracks_equal
from typer.testing import CliRunner

import engine
from engine.cli import app
from engine.io.convert import OutputFormat, write_log
from kernels.errors import InvalidInputError, LogFormatError


def test_open_log_says_what_it_expected(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(LogFormatError, match="cannot tell the format.*SFS or MCAP"):
        engine.open_log(tmp_path / "x.txt")
    with pytest.raises(InvalidInputError, match="unknown output format 'csv'"):
        OutputFormat.parse("csv")


def test_cli_convert_chain(sample_dir: Path, tmp_path: Path) -> None:
    run = CliRunner()
    sfs = tmp_path / "seq.sfs"
    r = run.invoke(app, ["convert", str(sample_dir), str(sfs), "--to", "sfs", "--angle-unit", "degrees"])
    assert r.exit_code == 0, r.output
    r = run.invoke(app, ["convert", str(sfs), str(tmp_path / "native")])
    assert r.exit_code == 0, r.output
    src, back = engine.open_log(sample_dir), engine.open_log(tmp_path / "native")
    assert_tracks_equal(src.annotations, back.annotations)
    assert run.invoke(app, ["convert", str(sfs), str(tmp_path / "l.txt"), "--to", "kitti"]).exit_code == 0
    rows = (tmp_path / "l.txt").read_text().splitlines()
    assert len(rows) == sum(len(t) for t in src.annotations.tracks)  # every cuboid of every sweep frame
    assert (
        run.invoke(app, ["convert", str(sfs), str(tmp_path / "o.json"), "--to", "openlabel"]).exit_code == 0
    )
    assert len(json.loads((tmp_path / "o.json").read_text())["openlabel"]["objects"]) == len(
        src.annotations.tracks
    )
    r = run.invoke(app, ["convert", str(tmp_path / "missing"), str(tmp_path / "y"), "--to", "sfs"])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_write_log_kitti_frames_are_sweeps(sample_dir: Path, tmp_path: Path) -> None:
    log = engine.open_log(sample_dir)
    path = write_log(log, tmp_path / "k.txt", "kitti")
    frames = {int(line.split()[0]) for line in path.read_text().splitlines()}
    assert frames <= set(range(len(log.lidar["pandar64"])))
