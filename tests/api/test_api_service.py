"""A real uvicorn server on 127.0.0.1 (random free port) in a subprocess, stopped or killed by its PID."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
from api_helpers import ServerProcess, WebhookReceiver

from api.cli import create_key


def _register(server: ServerProcess, key: str, sim_dir: Path) -> str:
    shutil.copytree(sim_dir / "log", server.data_root / "logs" / "sim", dirs_exist_ok=True)
    r = httpx.post(server.url + "/v1/logs", json={"path": "sim"}, headers={"X-API-Key": key}, timeout=30)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_served_end_to_end_with_signed_webhook(tmp_path: Path, sim_dir: Path) -> None:
    root = tmp_path / "data"
    server = ServerProcess(root, env={"FUSIONLABEL_DATA_ROOT": str(root)}).start()
    try:
        _, key, secret = create_key(root, "acme")
        h = {"X-API-Key": key}
        assert httpx.get(server.url + "/ready").json()["status"] == "ok"
        log_id = _register(server, key, sim_dir)
        with WebhookReceiver(secret, fail_first=2) as hook:
            body = {"log_id": log_id, "options": {"max_sweeps": 2}, "webhook_url": hook.url}
            r = httpx.post(
                server.url + "/v1/jobs/prelabel", json=body, headers={**h, "Idempotency-Key": "e2e"}
            )
            assert r.status_code == 202
            job_id = r.json()["id"]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not hook.delivered():
                time.sleep(0.05)
            assert hook.delivered() and all(req["verified"] for req in hook.requests)
            assert len(hook.requests) == 3
        job = httpx.get(f"{server.url}/v1/jobs/{job_id}", headers=h).json()
        assert job["state"] == "succeeded"
        r = httpx.post(
            server.url + "/v1/interpolate",
            content=b'{"keyframes": NaN}',
            headers={**h, "Content-Type": "application/json"},
        )
        assert r.status_code == 400
        assert httpx.get(server.url + "/health").status_code == 200
    finally:
        server.stop()
    assert server.proc is not None and server.proc.returncode is not None


@pytest.mark.slow
def test_crash_recovery_nothing_lost_nothing_duplicated(tmp_path: Path, sim_dir: Path) -> None:
    """Jobs are submitted with idempotency keys while the server is SIGKILLed three times.

    The client retries every key until it gets a 202 (as a client facing connection errors must). After
    a final restart every acknowledged job must succeed exactly once: one job per key, one result per
    job, one webhook delivery per job, and every job id the client saw still exists.
    """
    root = tmp_path / "data"
    env = {"FUSIONLABEL_DATA_ROOT": str(root), "FAKE_PRELABEL_STEP_S": "0.04"}
    server = ServerProcess(root, env=env).start()
    _, key, secret = create_key(root, "acme")
    h = {"X-API-Key": key}
    log_id = _register(server, key, sim_dir)
    acked: dict[str, str] = {}  # idempotency key -> job id from a 202
    stop = threading.Event()

    def client() -> None:
        i = 0
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                idem = f"job-{i}"
                body = {"log_id": log_id, "options": {"max_sweeps": 4}, "webhook_url": hook.url}
                try:
                    r = http.post(
                        server.url + "/v1/jobs/prelabel", json=body, headers={**h, "Idempotency-Key": idem}
                    )
                except httpx.HTTPError:
                    time.sleep(0.05)  # server down: retry the same key
                    continue
                assert r.status_code == 202, r.text
                job_id = r.json()["id"]
                assert acked.setdefault(idem, job_id) == job_id  # replays return the original job
                i += 1
                time.sleep(0.12)

    with WebhookReceiver(secret, fail_first=0) as hook:
        thread = threading.Thread(target=client, daemon=True)
        thread.start()
        try:
            for _ in range(3):
                time.sleep(1.2)
                server.kill()
                server.start()
            time.sleep(0.5)
        finally:
            stop.set()
            thread.join(10)
        assert len(acked) >= 10, acked
        deadline = time.monotonic() + 60
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = {
                j["id"]: j["state"]
                for j in httpx.get(server.url + "/v1/jobs?limit=500", headers=h).json()["items"]
            }
            if all(s == "succeeded" for s in states.values()) and len(hook.delivered()) >= len(states):
                break
            time.sleep(0.2)
        server.stop()
    assert set(acked.values()) <= set(states), "an acknowledged job was lost"
    assert all(s == "succeeded" for s in states.values()), states
    db = sqlite3.connect(root / "state" / "fusionlabel.sqlite3")
    try:
        keys = db.execute("SELECT idempotency_key, count(*) FROM jobs GROUP BY idempotency_key").fetchall()
        assert all(n == 1 for _, n in keys) and len(keys) == len(states)
        results = db.execute("SELECT job_id, count(*) FROM job_results GROUP BY job_id").fetchall()
        assert len(results) == len(states) and all(n == 1 for _, n in results)
        deliveries = db.execute("SELECT job_id, count(*) FROM webhook_deliveries GROUP BY job_id").fetchall()
        assert len(deliveries) == len(states) and all(n == 1 for _, n in deliveries)
        rerun = db.execute("SELECT count(*) FROM jobs WHERE attempts > 1").fetchone()[0]
    finally:
        db.close()
    assert len({r["id"] for r in hook.requests}) == len(states)  # one message per job (ids deduplicate)
    assert rerun >= 1, "no job was interrupted: the kills did not exercise recovery"
