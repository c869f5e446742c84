"""Executors without Ray: chunk plans and merges, the chunk file format, idempotent outputs, the CLI."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest
from executor_helpers import OUTPUT_FILES, SimLog, make_sim_log, output_names
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from engine.cli import app
from engine.executors import (
    Chunking,
    ChunkUnit,
    InProcessExecutor,
    make_executor,
    merge_chunks,
    plan_chunks,
    prelabel_batch,
)
from engine.executors.chunk_files import proposals_from_json, proposals_to_json
from engine.executors.ray_executor import RayExecutor, import_ray
from engine.executors.storage import sha256_file
from engine.executors.tasks import CHUNKS_DIR
from engine.proposals import ProposalSet
from engine.proposals.imported import ImportedDetections
from kernels.errors import EngineError, InvalidInputError, LogFormatError

CLASSES = ("car", "pedestrian")


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), length=st.integers(1, 25), overlap=st.integers(0, 30))
def test_frame_chunks_own_every_frame_once(n: int, length: int, overlap: int) -> None:
    chunks = plan_chunks(np.arange(n, dtype=np.int64) * 100_000, Chunking(length, overlap))
    owned = [f for c in chunks for f in range(c.start, c.stop)]
    assert owned == list(range(n))
    for c in chunks:
        assert 0 < c.stop - c.start <= length and c.count == len(chunks)
        assert (c.lo, c.hi) == (max(0, c.start - overlap), min(n, c.stop + overlap))
    assert len({c.key for c in chunks}) == len(chunks)


def test_second_chunks_follow_time_not_frame_count() -> None:
    times = np.concatenate([np.arange(10) * 100_000, 2_000_000 + np.arange(20) * 50_000]).astype(np.int64)
    chunks = plan_chunks(times, Chunking(1.0, 0.1, ChunkUnit.SECONDS))
    assert [(c.start, c.stop) for c in chunks] == [(0, 10), (10, 30)]  # [0, 1) s empty 1-2 s, [2, 3) s
    assert (chunks[0].lo, chunks[0].hi) == (0, 10)  # nothing within 0.1 s after 0.9 s
    assert (chunks[1].lo, chunks[1].hi) == (10, 30)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"length": 0}, "length must be > 0"),
        ({"length": 5, "overlap": -1}, "overlap must be >= 0"),
        ({"length": 2.5}, "whole numbers"),
        ({"length": float("nan")}, "length must be > 0"),
    ],
)
def test_bad_chunking_is_rejected(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        Chunking(**kwargs)


def _frame(t: int, rng: np.random.Generator, m: int) -> ProposalSet:
    boxes = np.column_stack([rng.normal(0, 20, (m, 3)), rng.uniform(0.5, 5, (m, 3)), rng.uniform(-3, 3, m)])
    return ProposalSet(boxes, rng.uniform(0, 1, m), rng.integers(0, 2, m), CLASSES, t)


def test_merge_takes_each_frame_from_its_owner_and_checks_overlaps(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(0)
    frames = [_frame(t, rng, int(rng.integers(0, 6))) for t in range(13)]
    chunks = plan_chunks(np.arange(13, dtype=np.int64), Chunking(5, 2))
    parts = [frames[c.lo : c.hi] for c in chunks]
    merged, diff = merge_chunks(chunks, parts)
    assert merged == tuple(frames) and diff == 0.0

    k = next(i for i, f in enumerate(frames[3:5], 3) if len(f))  # a frame chunk 0 owns, chunk 1 recomputes
    moved = frames[k].boxes.copy()
    moved[:, 0] += 0.25
    parts[1] = list(parts[1])
    parts[1][k - chunks[1].lo] = ProposalSet(moved, frames[k].scores, frames[k].class_ids, CLASSES, k)
    with caplog.at_level(logging.WARNING):
        merged, diff = merge_chunks(chunks, parts)
    assert merged[k] is frames[k] and diff == pytest.approx(0.25)
    assert "not deterministic" in caplog.text
    with pytest.raises(InvalidInputError, match="expected 7 frames"):
        merge_chunks(chunks, [parts[0][:-1], *parts[1:]])


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=7, max_size=35),
    seed=st.integers(0, 2**16),
)
def test_chunk_file_round_trips_float32_exactly(values: list[float], seed: int) -> None:
    m = len(values) // 7
    boxes = np.array(values[: m * 7], np.float32).reshape(m, 7)
    boxes[:, 3:6] = np.abs(boxes[:, 3:6]) + np.float32(1e-3)
    rng = np.random.default_rng(seed)
    frames = [ProposalSet(boxes, rng.uniform(0, 1, m), rng.integers(-1, 2, m), CLASSES, 7), _frame(9, rng, 0)]
    data = proposals_to_json(frames)
    back = proposals_from_json(data)
    assert proposals_to_json(back) == data  # same bytes again
    for a, b in zip(frames, back, strict=True):
        assert a.boxes.tobytes() == b.boxes.tobytes() and a.scores.tobytes() == b.scores.tobytes()
        assert np.array_equal(a.class_ids, b.class_ids) and (a.classes, a.timestamp_us) == (
            b.classes,
            b.timestamp_us,
        )
    with pytest.raises(LogFormatError, match="chunk-proposals"):
        proposals_from_json(b'{"format": "other", "version": 1, "frames": []}')


@pytest.fixture(scope="module")
def sim_log(tmp_path_factory: pytest.TempPathFactory) -> SimLog:
    return make_sim_log(tmp_path_factory.mktemp("sim") / "log", 2.0, 5)


@pytest.fixture(scope="module")
def whole(sim_log: SimLog, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "out"
    (outcome,) = prelabel_batch([sim_log.job(out)])
    assert not outcome.skipped and outcome.tracks > 0 and outcome.chunks == 1
    return out


def _same_bytes(out: Path, ref: Path) -> None:
    assert output_names(out) == OUTPUT_FILES
    for name in OUTPUT_FILES - {"stats.json", "_DONE.json"}:
        assert sha256_file(out / name) == sha256_file(ref / name), name


def test_chunked_in_process_equals_whole_log(sim_log: SimLog, whole: Path, tmp_path: Path) -> None:
    (outcome,) = prelabel_batch([sim_log.job(tmp_path)], chunking=Chunking(6, 1))
    assert outcome.chunks == 4 and outcome.frames == 20
    _same_bytes(tmp_path, whole)
    assert (tmp_path / "_DONE.json").read_bytes() != b""


class FlakyDetector(ImportedDetections):
    """Raises once at one frame (an in-process stand-in for a crash), then replays as usual."""

    def __init__(self, base: ImportedDetections, at_us: int) -> None:
        super().__init__({t: base(timestamp_us=t) for t in base.timestamps_us}, base.classes)
        self.at_us, self.armed, self.calls = at_us, True, 0

    def __call__(self, points: object = None, *, intensity: object = None, timestamp_us: int | None = None):  # type: ignore[no-untyped-def]
        self.calls += 1
        if timestamp_us == self.at_us and self.armed:
            self.armed = False
            raise EngineError("simulated crash")
        return super().__call__(points, intensity=intensity, timestamp_us=timestamp_us)


def test_crashed_chunked_run_resumes_with_the_same_bytes(
    sim_log: SimLog, whole: Path, tmp_path: Path
) -> None:
    times = sim_log.detector.timestamps_us
    flaky = FlakyDetector(sim_log.detector, times[13])  # chunk 2 of 4 (frames 12-17)
    job = sim_log.job(tmp_path, flaky)
    with pytest.raises(EngineError, match="simulated crash"):
        prelabel_batch([job], chunking=Chunking(6))
    chunk_files = sorted(p.name for p in (tmp_path / CHUNKS_DIR).iterdir())
    assert len(chunk_files) == 4 and not (tmp_path / "_DONE.json").exists()  # chunks 0, 1 and markers
    flaky.calls = 0
    (outcome,) = prelabel_batch([job], chunking=Chunking(6))
    assert flaky.calls == 20 - 12  # chunks 0 and 1 were not computed again
    _same_bytes(tmp_path, whole)


def test_interrupted_publish_is_redone_without_leftovers(
    sim_log: SimLog, whole: Path, tmp_path: Path
) -> None:
    job = sim_log.job(tmp_path)
    prelabel_batch([job])
    # a run that died while publishing: marker gone, a half-written file, staging and temporary files
    (tmp_path / "_DONE.json").unlink()
    (tmp_path / "annotations.json").write_text('{"trunc')
    (tmp_path / "_staging").mkdir()
    (tmp_path / "_staging" / "annotations.json").write_text("partial")
    (tmp_path / "._DONE.json.tmp").write_text("partial")
    assert not job.is_complete()
    (outcome,) = prelabel_batch([job])
    assert not outcome.skipped
    _same_bytes(tmp_path, whole)
    # a complete output is skipped; a corrupted one is detected by its hash and redone
    assert prelabel_batch([job])[0].skipped
    (tmp_path / "findings.json").write_text("[1]")
    assert not job.is_complete()
    assert not prelabel_batch([job])[0].skipped
    _same_bytes(tmp_path, whole)
    assert not prelabel_batch([job], overwrite=True)[0].skipped
    _same_bytes(tmp_path, whole)


def test_jobs_must_not_share_an_output_folder(sim_log: SimLog, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="distinct folders"):
        prelabel_batch([sim_log.job(tmp_path), sim_log.job(tmp_path / ".." / tmp_path.name)])


def test_executor_names_and_missing_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(make_executor("inprocess"), InProcessExecutor)
    assert InProcessExecutor().map(abs, [-1, 2, -3]) == [1, 2, 3]
    with pytest.raises(InvalidInputError, match="unknown executor 'dask'"):
        make_executor("dask")
    with pytest.raises(InvalidInputError, match="needs executor 'ray'"):
        make_executor("inprocess", address="127.0.0.1:6379")
    with pytest.raises(InvalidInputError, match="not both 0"):
        RayExecutor(num_cpus=0, num_gpus=0)  # checked before ray is imported
    with pytest.raises(InvalidInputError, match="max_retries"):
        RayExecutor(max_retries=-1)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    with pytest.raises(EngineError, match=r"fusionlabel\[ray\]"):
        import_ray()


runner = CliRunner()


def test_cli_prelabel_chunked_equals_default(sample_dir: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("backend: cpu\nlinks:\n  enabled: false\nvalidation:\n  rules: [schema]\n")
    base = ["prelabel", str(sample_dir), "--config", str(cfg), "--no-sfs", "--no-render", "--out"]
    res = runner.invoke(app, [*base, str(tmp_path / "default")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app, [*base, str(tmp_path / "chunked"), "--chunk-frames", "2", "--overlap-frames", "1"]
    )
    assert res.exit_code == 0, res.output
    assert "pre-labeled logs" in res.output
    for name in ("annotations.json", "findings.json", "config.json"):
        assert sha256_file(tmp_path / "chunked" / name) == sha256_file(tmp_path / "default" / name)
    assert (tmp_path / "chunked" / "_DONE.json").is_file() and not (
        tmp_path / "chunked" / CHUNKS_DIR
    ).exists()


def test_cli_batch_rejects_logs_with_the_same_name(sample_dir: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["prelabel-batch", str(sample_dir), str(sample_dir), "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "both named" in " ".join(res.output.split())
    res = runner.invoke(
        app, ["prelabel-batch", str(sample_dir), "--out", str(tmp_path), "--overlap-frames", "2"]
    )
    assert res.exit_code == 2 and "--chunk-frames" in res.output
