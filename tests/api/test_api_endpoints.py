"""Endpoints through TestClient: results equal the engine's, tenants are isolated, jobs run, webhooks sign."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_helpers import TenantKey, WebhookReceiver, wait_job
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.settings import LimitsConfig
from engine import CuboidTrack, open_log
from engine.service import CuboidPath, PoseFrame, interpolate_cuboids, project_cuboids
from engine.service.annotate import MotionSnapConfig
from engine.sim import read_ground_truth
from tracking import to_ego

KEYFRAMES = {
    "timestamps_us": [0, 1_000_000, 2_000_000],
    "centers": [[0.0, 0.0, 0.8], [10.0, 1.0, 0.8], [20.0, 3.0, 0.8]],
    "sizes": [[4.5, 1.9, 1.6]] * 3,
    "yaws": [0.0, 0.2, 0.3],
}


def test_health_and_ready(client: TestClient, settings, app: FastAPI) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    r = client.get("/ready")
    assert r.status_code == 200 and r.json()["checks"] == {"store": "ok", "data_root": "ok"}
    app.state.service.store.close()
    app.state.service.store.db.path = Path("/nonexistent/dir/db.sqlite3")  # reconnects fail
    assert client.get("/ready").status_code == 503


def test_ready_fails_when_data_root_is_gone(client: TestClient, settings) -> None:
    import shutil

    shutil.rmtree(settings.data_root)
    r = client.get("/ready")
    assert r.status_code == 503 and r.json()["checks"]["data_root"].startswith("error")


def test_auth_required_and_problem_json(client: TestClient, tenant_a: TenantKey) -> None:
    for headers in ({}, {"X-API-Key": "flk_wrong"}, {"X-API-Key": "x" * 5000}):
        r = client.post(
            "/v1/interpolate", json={"keyframes": KEYFRAMES, "timestamps_us": [5]}, headers=headers
        )
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 401 and r.json()["title"] == "Unauthorized"


def test_interpolate_matches_engine(client: TestClient, tenant_a: TenantKey) -> None:
    query = [0, 250_000, 1_000_000, 1_700_000, 2_000_000]
    r = client.post(
        "/v1/interpolate", json={"keyframes": KEYFRAMES, "timestamps_us": query}, headers=tenant_a.headers
    )
    assert r.status_code == 200, r.text
    out = r.json()["cuboids"]
    boxes = np.column_stack([KEYFRAMES["centers"], KEYFRAMES["sizes"], KEYFRAMES["yaws"]])
    ref = interpolate_cuboids(CuboidPath.from_boxes(KEYFRAMES["timestamps_us"], boxes), query).path
    np.testing.assert_array_equal(out["centers"], ref.centers)
    np.testing.assert_array_equal(out["rotations_wxyz"], ref.rotations_wxyz)
    assert out["timestamps_us"] == query and out["frame"] == "world"
    np.testing.assert_array_equal(out["centers"][2], KEYFRAMES["centers"][1])  # keyframes exact


def test_interpolate_engine_errors_are_422(client: TestClient, tenant_a: TenantKey) -> None:
    r = client.post(
        "/v1/interpolate",
        json={"keyframes": KEYFRAMES, "timestamps_us": [3_000_000]},
        headers=tenant_a.headers,
    )
    assert r.status_code == 422 and "outside the keyframe range" in r.json()["detail"]
    r = client.post(
        "/v1/interpolate",
        json={"keyframes": KEYFRAMES, "timestamps_us": [3_000_000], "out_of_range": "hold"},
        headers=tenant_a.headers,
    )
    assert r.status_code == 200 and r.json()["cuboids"]["centers"][0] == KEYFRAMES["centers"][-1]
    r = client.post(
        "/v1/interpolate",
        json={"keyframes": {**KEYFRAMES, "frame": "ego"}, "timestamps_us": [5]},
        headers=tenant_a.headers,
    )
    assert r.status_code == 422 and "world_from_ego" in r.json()["detail"]


def test_configured_limits_apply(app: FastAPI, client: TestClient, tenant_a: TenantKey) -> None:
    service = app.state.service
    service.settings = service.settings.model_copy(
        update={"limits": LimitsConfig(max_timestamps=2, max_points=3)}
    )
    r = client.post(
        "/v1/interpolate", json={"keyframes": KEYFRAMES, "timestamps_us": [1, 2, 3]}, headers=tenant_a.headers
    )
    assert r.status_code == 422 and "at most 2" in r.json()["detail"]
    r = client.post("/v1/fit", json={"points": [[0, 0, 0]] * 4}, headers=tenant_a.headers)
    assert r.status_code == 422 and "at most 3" in r.json()["detail"]


def test_points_in_boxes_counts(client: TestClient, tenant_a: TenantKey) -> None:
    rng = np.random.default_rng(5)
    points = rng.uniform(-5, 5, (500, 3)).round(3)
    boxes = [[0, 0, 0, 4, 2, 2, 0.3], [2, 2, 0, 1, 1, 1, 0], [-3, -3, 0, 2, 3, 5, -1.0]]
    r = client.post(
        "/v1/points-in-boxes", json={"boxes": boxes, "points": points.tolist()}, headers=tenant_a.headers
    )
    assert r.status_code == 200, r.text
    expected = []
    for x, y, z, ln, w, h, yaw in boxes:  # oracle: rotate into each box's frame
        d = points - [x, y, z]
        c, s = np.cos(yaw), np.sin(yaw)
        lx, ly = c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]
        inside = (np.abs(lx) <= ln / 2) & (np.abs(ly) <= w / 2) & (np.abs(d[:, 2]) <= h / 2)
        expected.append(int(inside.sum()))
    assert r.json() == {"counts": expected, "n_points": 500}


def test_fit_from_points_and_refine_box(client: TestClient, tenant_a: TenantKey) -> None:
    rng = np.random.default_rng(1)
    # an L-shaped car outline seen from the origin: two visible sides of a 4.5 x 1.9 box at (10, 5), yaw 0
    side = np.column_stack([rng.uniform(7.75, 12.25, 60), np.full(60, 4.05), rng.uniform(0.2, 1.5, 60)])
    back = np.column_stack([np.full(30, 7.75), rng.uniform(4.05, 5.95, 30), rng.uniform(0.2, 1.5, 30)])
    pts = np.vstack([side, back, [[10, 5, 0.0]]]).round(4)
    r = client.post("/v1/fit", json={"points": pts.tolist()}, headers=tenant_a.headers)
    assert r.status_code == 200, r.text
    fit = r.json()
    assert fit["n_points"] == 91 and fit["label"] == "car"
    assert abs(fit["cuboid"]["center"][0] - 10) < 0.5 and abs(fit["cuboid"]["center"][1] - 5) < 0.5
    rough = {"center": [10.3, 5.2, 0.8], "size": [4.5, 1.9, 1.6], "yaw": 0.05}
    r = client.post("/v1/fit", json={"points": pts.tolist(), "box": rough}, headers=tenant_a.headers)
    assert r.status_code == 200, r.text
    refined = r.json()["cuboid"]
    assert abs(refined["yaw"]) < 0.05 + 1e-9 and refined["size"] == [4.5, 1.9, 1.6]
    err_before = np.hypot(10.3 - 10, 5.2 - 5)
    assert np.hypot(refined["center"][0] - 10, refined["center"][1] - 5) < err_before


def _assert_projects_like_the_engine(
    client: TestClient, tenant: TenantKey, log_id: str, sim_dir: Path
) -> None:
    """``/v1/project`` of three GT cuboids on ``log_id`` equals ``project_cuboids`` on the native sim log."""
    track = read_ground_truth(sim_dir / "ground_truth").annotations.tracks[0]
    body = {
        "log_id": log_id,
        "cuboids": {
            "timestamps_us": track.timestamps_us[:3].tolist(),
            "centers": track.centers[:3].tolist(),
            "sizes": track.sizes[:3].tolist(),
            "rotations_wxyz": track.rotations_wxyz[:3].tolist(),
            "frame": "world",
        },
    }
    r = client.post("/v1/project", json=body, headers=tenant.headers)
    assert r.status_code == 200, r.text
    got = r.json()["footprints"]
    ref = project_cuboids(
        open_log(sim_dir / "log"),
        track.timestamps_us[:3],
        track.centers[:3],
        track.sizes[:3],
        rotations_wxyz=track.rotations_wxyz[:3],
    )
    assert len(got) == len(ref) > 0
    for g, f in zip(got, ref, strict=True):
        assert (g["cuboid"], g["camera_id"]) == (f.cuboid, f.camera_id)
        np.testing.assert_allclose(g["box"], f.box)


def test_project_matches_engine(client: TestClient, tenant_a: TenantKey, log_id: str, sim_dir: Path) -> None:
    _assert_projects_like_the_engine(client, tenant_a, log_id, sim_dir)


@functools.cache
def _seen_track(sim_dir: Path) -> CuboidTrack:
    """The ground-truth track (of 10 cuboids) that the motion snap corrects at the most sweeps."""
    log = open_log(sim_dir / "log")
    tracks = [t for t in read_ground_truth(sim_dir / "ground_truth").annotations.tracks if len(t) == 10]

    def corrected(track: CuboidTrack) -> int:
        kf = CuboidPath(
            track.timestamps_us[[1, 4, 8]],
            track.centers[[1, 4, 8]],
            track.sizes[[1, 4, 8]],
            track.rotations_wxyz[[1, 4, 8]],
        )
        snap = interpolate_cuboids(kf, track.timestamps_us[1:9], log=log, snap=MotionSnapConfig()).snap
        return 0 if snap is None else int(snap.snapped.sum())

    best = max(tracks, key=corrected)
    assert corrected(best) > 0
    return best


def _snap_body(sim_dir: Path, log_id: str, keep: list[int], **snap: object) -> dict[str, Any]:
    """Keyframes ``keep`` of a well-seen ground-truth track with 10 cuboids; queries at all its sweeps."""
    track = _seen_track(sim_dir)
    return {
        "keyframes": {
            "timestamps_us": track.timestamps_us[keep].tolist(),
            "centers": track.centers[keep].tolist(),
            "sizes": track.sizes[keep].tolist(),
            "rotations_wxyz": track.rotations_wxyz[keep].tolist(),
        },
        "timestamps_us": track.timestamps_us.tolist(),
        "out_of_range": "hold",
        "log_id": log_id,
        "snap": {"max_gap_us": 60_000, **snap},
    }


def test_snap_against_log(client: TestClient, tenant_a: TenantKey, log_id: str, sim_dir: Path) -> None:
    body = _snap_body(sim_dir, log_id, [0, 9], method="points")
    r = client.post("/v1/interpolate", json=body, headers=tenant_a.headers)
    assert r.status_code == 200, r.text
    snap = r.json()["snap"]
    assert len(snap["snapped"]) == 10 and all(n >= 0 for n in snap["n_points"])
    assert all((res is None) == (not ok) for res, ok in zip(snap["residual_m"], snap["snapped"], strict=True))


@pytest.mark.parametrize("method", ["motion", "faces", "points"])
def test_snap_methods(
    client: TestClient, tenant_a: TenantKey, log_id: str, sim_dir: Path, method: str
) -> None:
    body = _snap_body(sim_dir, log_id, [1, 4, 8], method=method)
    r = client.post("/v1/interpolate", json=body, headers=tenant_a.headers)
    assert r.status_code == 200, r.text
    cuboids, snap = r.json()["cuboids"], r.json()["snap"]
    assert cuboids["timestamps_us"] == body["timestamps_us"] and cuboids["frame"] == "world"
    np.testing.assert_allclose(np.linalg.norm(cuboids["rotations_wxyz"], axis=1), 1.0, atol=1e-12)
    assert np.all(np.array(cuboids["sizes"]) > 0) and np.isfinite(cuboids["centers"]).all()
    assert set(snap) == {"snapped", "needs_keyframe", "residual_m", "shift_m", "yaw_change_rad", "n_points"}
    assert all(len(v) == 10 for v in snap.values())
    assert all(res is not None for res, ok in zip(snap["residual_m"], snap["snapped"], strict=True) if ok)
    assert all(s >= 0 for s in snap["shift_m"]) and all(n >= 0 for n in snap["n_points"])
    if method != "points":  # motion and faces return the keyframes at their own times
        np.testing.assert_array_equal(np.array(cuboids["centers"])[[1, 4, 8]], body["keyframes"]["centers"])
        np.testing.assert_allclose(
            np.array(cuboids["rotations_wxyz"])[[1, 4, 8]], body["keyframes"]["rotations_wxyz"], atol=1e-12
        )
    if method == "faces":
        assert snap["yaw_change_rad"] == [0.0] * 10  # faces never turns a cuboid


def test_snap_method_defaults_to_motion(
    client: TestClient, tenant_a: TenantKey, log_id: str, sim_dir: Path
) -> None:
    got = {}
    for method in (None, "motion", "points"):
        body = _snap_body(sim_dir, log_id, [1, 4, 8], **({} if method is None else {"method": method}))
        r = client.post("/v1/interpolate", json=body, headers=tenant_a.headers)
        assert r.status_code == 200, r.text
        got[method] = r.json()
    assert got[None] == got["motion"] != got["points"]
    assert any(got[None]["snap"]["snapped"])  # the motion snap corrected something


def test_snap_bounds_reach_the_method(
    client: TestClient, tenant_a: TenantKey, log_id: str, sim_dir: Path
) -> None:
    for method in ("motion", "faces", "points"):
        body = _snap_body(sim_dir, log_id, [1, 4, 8], method=method, max_shift_m=1e-3, max_yaw_rad=1e-3)
        r = client.post("/v1/interpolate", json=body, headers=tenant_a.headers)
        assert r.status_code == 200, r.text
        assert max(r.json()["snap"]["shift_m"]) <= 1e-3 * np.sqrt(2) + 1e-12, method


def test_snap_bad_method_is_422(client: TestClient, tenant_a: TenantKey, log_id: str, sim_dir: Path) -> None:
    for snap in ({"method": "icp"}, {"method": "motion", "max_yaw_rad": 0.0}):
        r = client.post(
            "/v1/interpolate", json=_snap_body(sim_dir, log_id, [1, 4, 8], **snap), headers=tenant_a.headers
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json" and r.json()["status"] == 422


@pytest.mark.parametrize("method", ["motion", "faces", "points"])
def test_snap_ego_request_equals_world_request(
    client: TestClient, tenant_a: TenantKey, log_id: str, sim_dir: Path, method: str
) -> None:
    trajectory = open_log(sim_dir / "log").trajectory
    world_body = _snap_body(sim_dir, log_id, [1, 4, 8], method=method)
    kf = world_body["keyframes"]
    world_kf = CuboidPath(
        kf["timestamps_us"], kf["centers"], kf["sizes"], kf["rotations_wxyz"], frame=PoseFrame.WORLD
    )
    ego_kf = to_ego(world_kf, trajectory)
    ego_body = {
        **world_body,
        "keyframes": {
            "timestamps_us": kf["timestamps_us"],
            "centers": ego_kf.centers.tolist(),
            "sizes": kf["sizes"],
            "rotations_wxyz": ego_kf.rotations_wxyz.tolist(),
            "frame": "ego",
        },
    }
    world = client.post("/v1/interpolate", json=world_body, headers=tenant_a.headers)
    ego = client.post("/v1/interpolate", json=ego_body, headers=tenant_a.headers)
    assert world.status_code == ego.status_code == 200, (world.text, ego.text)
    w, e = world.json()["cuboids"], ego.json()["cuboids"]
    assert w["frame"] == "world" and e["frame"] == "ego"
    got = to_ego(
        CuboidPath(w["timestamps_us"], w["centers"], w["sizes"], w["rotations_wxyz"], frame=PoseFrame.WORLD),
        trajectory,
    )
    np.testing.assert_allclose(e["centers"], got.centers, atol=1e-6, rtol=0)
    np.testing.assert_allclose(e["rotations_wxyz"], got.rotations_wxyz, atol=1e-9, rtol=0)
    assert ego.json()["snap"]["snapped"] == world.json()["snap"]["snapped"]


def test_logs_register_list_and_isolation(
    client: TestClient, tenant_a: TenantKey, tenant_b: TenantKey, log_id: str
) -> None:
    mine = client.get("/v1/logs", headers=tenant_a.headers).json()["items"]
    assert [item["id"] for item in mine] == [log_id] and "path" not in mine[0]
    assert client.get("/v1/logs", headers=tenant_b.headers).json()["items"] == []
    assert client.get(f"/v1/logs/{log_id}", headers=tenant_b.headers).status_code == 404
    assert client.delete(f"/v1/logs/{log_id}", headers=tenant_b.headers).status_code == 404
    body = {
        "log_id": log_id,
        "cuboids": {"timestamps_us": [0], "centers": [[0, 0, 0]], "sizes": [[1, 1, 1]], "yaws": [0]},
    }
    assert client.post("/v1/project", json=body, headers=tenant_b.headers).status_code == 404
    assert (
        client.post("/v1/jobs/prelabel", json={"log_id": log_id}, headers=tenant_b.headers).status_code == 404
    )
    assert client.delete(f"/v1/logs/{log_id}", headers=tenant_a.headers).status_code == 204
    assert client.get(f"/v1/logs/{log_id}", headers=tenant_a.headers).status_code == 404


def test_log_upload(client: TestClient, tenant_a: TenantKey, sim_dir: Path, tmp_path: Path) -> None:
    import tarfile

    archive = tmp_path / "log.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(sim_dir / "log", arcname="mylog")
    r = client.post(
        "/v1/logs/upload?name=up",
        content=archive.read_bytes(),
        headers={**tenant_a.headers, "Content-Type": "application/x-tar"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "up" and r.json()["source"] == "upload"
    assert r.json()["summary"]["lidar_sweeps"] == {"lidar": 10}
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        info = tarfile.TarInfo("../../escape.txt")
        info.size = 2
        import io

        tar.addfile(info, io.BytesIO(b"hi"))
    r = client.post(
        "/v1/logs/upload",
        content=evil.read_bytes(),
        headers={**tenant_a.headers, "Content-Type": "application/x-tar"},
    )
    assert r.status_code == 422
    assert not (tmp_path / "escape.txt").exists()
    r = client.post(
        "/v1/logs/upload", content=b"not a tar", headers={**tenant_a.headers, "Content-Type": "text/plain"}
    )
    assert r.status_code == 415


def test_log_upload_of_an_sfs_scene(
    client: TestClient, tenant_a: TenantKey, sim_dir: Path, tmp_path: Path
) -> None:
    """A single SFS file (Scale's container) uploads as it is; its kind is read from the content."""
    from engine import open_log
    from engine.io.sfs import write_sfs

    scene = tmp_path / "scene.sfs"
    write_sfs(open_log(sim_dir / "log"), scene)
    r = client.post(
        "/v1/logs/upload?name=sfs",
        content=scene.read_bytes(),
        headers={**tenant_a.headers, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["summary"]["lidar_sweeps"] == {"lidar": 10}
    # the uploaded scene serves requests: the same footprints as the native log gives
    _assert_projects_like_the_engine(client, tenant_a, r.json()["id"], sim_dir)
    r = client.post(
        "/v1/logs/upload",
        content=b"\x00JSONBIN but not a scene",
        headers={**tenant_a.headers, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 422  # neither SFS, MCAP nor tar: a clear error, nothing kept


def test_job_lifecycle_idempotency_and_webhook(
    client: TestClient, tenant_a: TenantKey, tenant_b: TenantKey, log_id: str
) -> None:
    with WebhookReceiver(tenant_a.secret, fail_first=2) as hook:
        body = {"log_id": log_id, "options": {"max_sweeps": 3}, "webhook_url": hook.url}
        headers = {**tenant_a.headers, "Idempotency-Key": "job-1"}
        r1 = client.post("/v1/jobs/prelabel", json=body, headers=headers)
        assert r1.status_code == 202, r1.text
        job_id = r1.json()["id"]
        assert r1.headers["location"] == f"/v1/jobs/{job_id}"
        r2 = client.post("/v1/jobs/prelabel", json=body, headers=headers)
        assert (
            r2.status_code == 202
            and r2.json()["id"] == job_id
            and r2.headers["idempotent-replayed"] == "true"
        )
        r3 = client.post("/v1/jobs/prelabel", json={**body, "options": {"max_sweeps": 4}}, headers=headers)
        assert r3.status_code == 409
        job = wait_job(client, job_id, tenant_a.headers)
        assert job["state"] == "succeeded" and job["progress"] == 1.0 and job["attempts"] == 1
        results = client.get(job["results_url"], headers=tenant_a.headers)
        assert results.status_code == 200
        assert results.json()["annotations"]["tracks"][0]["track_id"] == "t0"
        assert results.json()["stages"][0] == {
            "name": "proposals",
            "status": "ok",
            "count": 3,
            "seconds": 0.0,
            "detail": "",
        }
        assert client.get(f"/v1/jobs/{job_id}/results", headers=tenant_b.headers).status_code == 404
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not hook.delivered():
            time.sleep(0.02)
    assert len(hook.requests) == 3 and all(r["verified"] for r in hook.requests)
    assert not any(r["tampered_verified"] for r in hook.requests)
    assert len({r["id"] for r in hook.requests}) == 1  # one message id across retries
    assert hook.requests[0]["body"]["type"] == "job.succeeded"
    gaps = np.diff([r["at"] for r in hook.requests])
    assert gaps[1] > gaps[0] * 1.3  # exponential backoff (0.05 s then 0.1 s)
    (delivery,) = client.get(f"/v1/jobs/{job_id}/webhooks", headers=tenant_a.headers).json()
    assert delivery["state"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 204]


def test_failed_job_retry_and_cancel(client: TestClient, tenant_a: TenantKey, log_id: str) -> None:
    h = tenant_a.headers
    bad = client.post(
        "/v1/jobs/prelabel", json={"log_id": log_id, "options": {"lidar_id": "boom"}}, headers=h
    ).json()
    failed = wait_job(client, bad["id"], h)
    assert failed["state"] == "failed" and "boom" in failed["error"]
    assert client.get(f"/v1/jobs/{bad['id']}/results", headers=h).status_code == 409
    crash = client.post(
        "/v1/jobs/prelabel", json={"log_id": log_id, "options": {"lidar_id": "crash"}}, headers=h
    ).json()
    crashed = wait_job(client, crash["id"], h)
    assert crashed["state"] == "failed" and "simulated bug" not in crashed["error"]  # internals not leaked
    retried = client.post(f"/v1/jobs/{bad['id']}/retry", headers=h)
    assert retried.status_code == 200 and retried.json()["state"] in ("queued", "running", "failed")
    assert wait_job(client, bad["id"], h)["state"] == "failed"
    slow = client.post(
        "/v1/jobs/prelabel", json={"log_id": log_id, "options": {"max_sweeps": 400}}, headers=h
    ).json()
    deadline = time.monotonic() + 10
    while client.get(f"/v1/jobs/{slow['id']}", headers=h).json()["state"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert client.post(f"/v1/jobs/{slow['id']}/cancel", headers=h).json()["cancel_requested"]
    assert wait_job(client, slow["id"], h)["state"] == "cancelled"
    assert client.post(f"/v1/jobs/{slow['id']}/cancel", headers=h).status_code == 409
    listed = client.get("/v1/jobs?state=cancelled", headers=h).json()["items"]
    assert [j["id"] for j in listed] == [slow["id"]]


@pytest.mark.slow
def test_default_pipeline_end_to_end(
    app: FastAPI, client: TestClient, tenant_a: TenantKey, log_id: str
) -> None:
    """The built-in pipeline (engine.pipeline.prelabel) on the sim log, run as a job."""
    from engine.service import DefaultPrelabeler

    worker = app.state.service.worker
    worker._prelabeler = DefaultPrelabeler()
    r = client.post(
        "/v1/jobs/prelabel", json={"log_id": log_id, "options": {"max_sweeps": 4}}, headers=tenant_a.headers
    )
    job = wait_job(client, r.json()["id"], tenant_a.headers, timeout_s=240)
    assert job["state"] == "succeeded", job
    result = client.get(job["results_url"], headers=tenant_a.headers).json()
    stages = {s["name"]: s for s in result["stages"]}
    assert result["metadata"]["frames"] == 4  # max_sweeps=4 reached engine.pipeline.prelabel
    assert stages["shared_frame"]["count"] > 0 and stages["proposals"]["count"] > 0
    assert stages["tracks"]["count"] == len(result["annotations"]["tracks"])
    assert stages["links"]["status"] in ("ok", "skipped") and stages["validation"]["status"] == "ok"
    assert stages["validation"]["count"] == len(result["findings"])


def test_validate_matches_engine(client: TestClient, tenant_a: TenantKey, log_id: str, sim_dir: Path) -> None:
    from engine.io.annotations_json import annotations_to_dict
    from engine.service import validate_annotations

    truth = annotations_to_dict(read_ground_truth(sim_dir / "ground_truth").annotations)
    broken = dict(
        truth["tracks"][0], track_id="broken", sizes=[[-1.0, 1.0, 1.0]] * len(truth["tracks"][0]["sizes"])
    )
    annotations = {"tracks": [*truth["tracks"][:4], broken]}
    r = client.post(
        "/v1/validate", json={"log_id": log_id, "annotations": annotations}, headers=tenant_a.headers
    )
    assert r.status_code == 200, r.text
    out = r.json()
    ref = validate_annotations(open_log(sim_dir / "log"), annotations)
    assert out["findings"] == [f.to_dict() for f in ref.findings]
    assert any(f["track_id"] == "broken" and f["rule"].startswith("schema") for f in out["findings"])
    assert sum(out["counts"].values()) == len(out["findings"])
    r = client.post(
        "/v1/validate",
        json={"log_id": log_id, "annotations": annotations, "rules": ["nope"]},
        headers=tenant_a.headers,
    )
    assert r.status_code == 422 and "nope" in r.json()["detail"]


def test_footprints_of_tracks(client: TestClient, tenant_a: TenantKey, log_id: str, sim_dir: Path) -> None:
    track = read_ground_truth(sim_dir / "ground_truth").annotations.tracks[0]
    body = {
        "log_id": log_id,
        "tracks": [
            {
                "track_id": track.track_id,
                "label": track.label,
                "timestamps_us": track.timestamps_us.tolist(),
                "centers": track.centers.tolist(),
                "sizes": track.sizes.tolist(),
                "rotations_wxyz": track.rotations_wxyz.tolist(),
            }
        ],
        "camera_ids": ["cam_front"],
    }
    r = client.post("/v1/footprints", json=body, headers=tenant_a.headers)
    assert r.status_code == 200, r.text
    rows = r.json()["footprints"]
    assert rows and all(f["track_id"] == track.track_id and f["camera_id"] == "cam_front" for f in rows)
    inside = [
        t
        for t in open_log(sim_dir / "log").cameras["cam_front"].timestamps_us.tolist()
        if track.timestamps_us[0] <= t <= track.timestamps_us[-1]
    ]
    assert [f["capture_time_us"] for f in rows] == inside
    assert any(f["box"] is not None for f in rows)
