"""Batch pre-labeling on a local Ray instance (loopback only): a killed worker, chunked logs.

One local Ray instance with 2 CPUs serves the module; every test compares Ray's outputs with the
in-process executor's, byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from executor_helpers import OUTPUT_FILES, KillOnceDetector, SimLog, make_sim_log, output_names

from engine.executors import Chunking, InProcessExecutor, PrelabelJob, prelabel_batch
from engine.executors.storage import sha256_file
from engine.io.annotations_json import read_annotations
from kernels.errors import LogFormatError

ray = pytest.importorskip("ray", reason="the optional 'ray' package is not installed (fusionlabel[ray])")

from engine.executors.ray_executor import RayExecutor  # noqa: E402

LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SimLog]:
    root = tmp_path_factory.mktemp("sim")
    return {
        "a": make_sim_log(root / "a", 1.0, 1),
        "b": make_sim_log(root / "b", 1.0, 2),
        "long": make_sim_log(root / "long", 3.0, 3),
    }


@pytest.fixture(scope="module")
def reference(logs: dict[str, SimLog], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """In-process, unchunked outputs of every log (this also compiles the kernels once, here)."""
    root = tmp_path_factory.mktemp("inprocess")
    jobs = [s.job(root / name) for name, s in logs.items()]
    prelabel_batch(jobs, InProcessExecutor())
    return {name: root / name for name in logs}


@pytest.fixture(scope="module")
def ray_executor() -> RayExecutor:
    """A private local Ray instance (2 CPUs, 127.0.0.1 only), shut down after the module."""
    # the detectors of these tests live in a test helper module that Ray workers cannot import
    import executor_helpers

    ray.cloudpickle.register_pickle_by_value(executor_helpers)
    executor = RayExecutor(num_cpus=1, max_retries=3, local_cpus=2)
    yield executor
    executor.close()
    ray.cloudpickle.unregister_pickle_by_value(executor_helpers)
    assert not ray.is_initialized()


def test_local_ray_listens_on_loopback_only(ray_executor: RayExecutor) -> None:
    psutil = pytest.importorskip("psutil", reason="psutil lists the Ray processes' sockets")
    assert ray.is_initialized()
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    listening = []
    for proc in psutil.Process().children(recursive=True):
        try:
            conns = proc.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        listening += [(proc.name(), c.laddr.ip) for c in conns if c.status == psutil.CONN_LISTEN]
    assert len(listening) >= 3, listening  # GCS, raylet, workers ... were found
    assert all(ip in LOOPBACK for _, ip in listening), listening


def _same_outputs(out: Path, ref: Path) -> None:
    assert output_names(out) == OUTPUT_FILES  # complete, no temporaries, staging or chunk files
    for name in OUTPUT_FILES - {"stats.json", "_DONE.json"}:
        assert sha256_file(out / name) == sha256_file(ref / name), name


def test_batch_on_ray_survives_a_killed_worker(
    logs: dict[str, SimLog], reference: dict[str, Path], ray_executor: RayExecutor, tmp_path: Path
) -> None:
    a = logs["a"]
    marker = tmp_path / "killed"
    killer = KillOnceDetector(a.detector, str(marker), a.detector.timestamps_us[5])
    jobs = [
        logs["a"].job(tmp_path / "a", killer),
        logs["b"].job(tmp_path / "b"),
        logs["long"].job(tmp_path / "l"),
    ]
    outcomes = prelabel_batch(jobs, ray_executor)

    assert marker.is_file()  # a worker really died half-way through log "a"; Ray ran the task again
    assert [o.skipped for o in outcomes] == [False, False, False]
    assert len({o.out_dir for o in outcomes}) == 3
    for name, out in (("a", "a"), ("b", "b"), ("long", "l")):
        _same_outputs(tmp_path / out, reference[name])
    again = prelabel_batch(jobs, ray_executor)  # complete outputs are not computed again
    assert [o.skipped for o in again] == [True, True, True]
    assert [o.files for o in again] == [o.files for o in outcomes]


def test_chunked_on_ray_equals_unchunked(
    logs: dict[str, SimLog], reference: dict[str, Path], ray_executor: RayExecutor, tmp_path: Path
) -> None:
    long = logs["long"]
    times = long.detector.timestamps_us
    (outcome,) = prelabel_batch([long.job(tmp_path / "long")], ray_executor, chunking=Chunking(8, 2))

    assert outcome.chunks == 4 and outcome.frames == len(times) == 30
    _same_outputs(tmp_path / "long", reference["long"])
    chunked = read_annotations(tmp_path / "long" / "annotations.json").tracks
    whole = read_annotations(reference["long"] / "annotations.json").tracks
    assert [t.track_id for t in chunked] == [t.track_id for t in whole]
    borders = [times[8], times[16], times[24]]
    crossing = [t for t in whole if any(t.timestamps_us[0] < b <= t.timestamps_us[-1] for b in borders)]
    assert len(crossing) >= 3  # tracks do run across chunk borders
    for c, w in zip(chunked, whole, strict=True):
        assert c.label == w.label
        np.testing.assert_array_equal(c.timestamps_us, w.timestamps_us)
        np.testing.assert_allclose(c.boxes, w.boxes, rtol=0, atol=1e-9)


def test_engine_errors_in_tasks_come_back_unchanged(ray_executor: RayExecutor, tmp_path: Path) -> None:
    job = PrelabelJob(str(tmp_path / "missing"), str(tmp_path / "out"))
    with pytest.raises(LogFormatError, match="does not exist"):
        prelabel_batch([job], ray_executor)
    assert not (tmp_path / "out" / "_DONE.json").exists()
