"""The store: hashed keys, tenant scoping, idempotency, the job state machine and the lease protocol."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from api.store import (
    ConflictError,
    DeliveryState,
    JobState,
    LeaseStatus,
    NotFoundError,
    PathOutsideRoot,
    Store,
    resolve_inside,
)
from api.store.records import TRANSITIONS, check_transition


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "state", pepper="pepper-1")
    yield s
    s.close()


def test_keys_are_stored_only_as_peppered_digests(store: Store, tmp_path: Path) -> None:
    t = store.tenants.create("acme")
    key = store.tenants.create_key(t.id)
    assert store.tenants.tenant_for_key(key) == t.id
    raw = (tmp_path / "state" / "fusionlabel.sqlite3").read_bytes()
    wal = tmp_path / "state" / "fusionlabel.sqlite3-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert key.encode() not in raw and key[4:].encode() not in raw
    other = Store(tmp_path / "state", pepper="another-pepper")
    assert other.tenants.tenant_for_key(key) is None  # the digest depends on the server pepper
    other.close()
    store.tenants.revoke_key(key)
    assert store.tenants.tenant_for_key(key) is None
    assert store.tenants.tenant_for_key("flk_" + "x" * 43) is None
    assert store.tenants.tenant_for_key("not-a-key") is None


def test_pepper_file_is_created_once_and_private(tmp_path: Path) -> None:
    s1 = Store(tmp_path / "st")
    key = s1.tenants.create_key(s1.tenants.create("a").id)
    s1.close()
    assert (os.stat(tmp_path / "st" / "pepper").st_mode & 0o777) == 0o600
    s2 = Store(tmp_path / "st")
    assert s2.tenants.tenant_for_key(key) is not None
    s2.close()


def test_wal_mode(store: Store) -> None:
    assert store.db.connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_idempotency_same_body_replays_other_body_conflicts(store: Store) -> None:
    t = store.tenants.create("a").id
    job, created = store.jobs.submit(t, "prelabel", {"log_id": "x", "options": {"a": 1}}, "key-1", None)
    assert created
    again, created2 = store.jobs.submit(t, "prelabel", {"options": {"a": 1}, "log_id": "x"}, "key-1", None)
    assert not created2 and again.id == job.id  # key order does not matter: canonical JSON
    with pytest.raises(ConflictError, match="key-1"):
        store.jobs.submit(t, "prelabel", {"log_id": "y", "options": {"a": 1}}, "key-1", None)
    other = store.tenants.create("b").id  # keys are per tenant
    job_b, created_b = store.jobs.submit(other, "prelabel", {"log_id": "y"}, "key-1", None)
    assert created_b and job_b.id != job.id
    no_key1, _ = store.jobs.submit(t, "prelabel", {"log_id": "x"}, None, None)
    no_key2, _ = store.jobs.submit(t, "prelabel", {"log_id": "x"}, None, None)
    assert no_key1.id != no_key2.id


def test_tenant_scoping_hides_other_tenants_jobs(store: Store) -> None:
    a, b = store.tenants.create("a").id, store.tenants.create("b").id
    job, _ = store.jobs.submit(a, "prelabel", {"log_id": "x"}, None, None)
    with pytest.raises(NotFoundError):
        store.jobs.get(b, job.id)
    with pytest.raises(NotFoundError):
        store.jobs.cancel(b, job.id)
    with pytest.raises(NotFoundError):
        store.jobs.retry(b, job.id)
    with pytest.raises(NotFoundError):
        store.deliveries.for_job(b, job.id)
    assert store.jobs.list(b, None, 10, 0) == []


def test_transition_table_matches_the_state_machine() -> None:
    assert TRANSITIONS[JobState.SUCCEEDED] == frozenset()
    check_transition(JobState.QUEUED, JobState.RUNNING)
    check_transition(JobState.RUNNING, JobState.QUEUED)  # lease lapsed
    with pytest.raises(ConflictError, match="succeeded"):
        check_transition(JobState.SUCCEEDED, JobState.QUEUED)
    with pytest.raises(ConflictError):
        check_transition(JobState.QUEUED, JobState.SUCCEEDED)


def test_run_complete_exactly_once(store: Store) -> None:
    t = store.tenants.create("a").id
    job, _ = store.jobs.submit(t, "prelabel", {"log_id": "x"}, None, "http://127.0.0.1:9/hook")
    claimed = store.jobs.claim("w", lease_s=30)
    assert claimed is not None and claimed.id == job.id and claimed.state is JobState.RUNNING
    assert claimed.attempts == 1
    assert store.jobs.claim("w2", lease_s=30) is None
    assert store.jobs.renew(claimed, 30, 0.5, "proposals") is LeaseStatus.HELD
    assert store.jobs.get(t, job.id).progress == 0.5
    assert store.jobs.complete(claimed, '{"ok": true}')
    assert not store.jobs.complete(claimed, '{"ok": 2}')  # a second completion writes nothing
    assert store.jobs.result(t, job.id) == '{"ok": true}'
    done = store.jobs.get(t, job.id)
    assert done.state is JobState.SUCCEEDED and done.progress == 1.0
    deliveries = store.deliveries.for_job(t, job.id)
    assert len(deliveries) == 1 and deliveries[0][0].event == "job.succeeded"
    with pytest.raises(ConflictError):
        store.jobs.cancel(t, job.id)
    with pytest.raises(ConflictError):
        store.jobs.retry(t, job.id)


def test_lapsed_lease_requeues_and_the_stale_worker_cannot_complete(store: Store) -> None:
    t = store.tenants.create("a").id
    job, _ = store.jobs.submit(t, "prelabel", {"log_id": "x"}, None, None)
    first = store.jobs.claim("dead-worker", lease_s=0.01)
    assert first is not None
    time.sleep(0.03)
    assert store.jobs.requeue_lapsed(max_attempts=3) == (1, 0)
    second = store.jobs.claim("new-worker", lease_s=30)
    assert second is not None and second.attempts == 2
    assert store.jobs.renew(first, 30) is LeaseStatus.LOST
    assert not store.jobs.complete(first, '{"from": "zombie"}')
    assert store.jobs.complete(second, '{"from": "second"}')
    assert store.jobs.result(t, job.id) == '{"from": "second"}'
    rows = store.db.connection().execute("SELECT count(*) FROM job_results").fetchone()[0]
    assert rows == 1


def test_job_out_of_attempts_fails(store: Store) -> None:
    t = store.tenants.create("a").id
    job, _ = store.jobs.submit(t, "prelabel", {"log_id": "x"}, None, None)
    for _ in range(2):
        assert store.jobs.claim("w", lease_s=0.001) is not None
        time.sleep(0.01)
        store.jobs.requeue_lapsed(max_attempts=2)
    final = store.jobs.get(t, job.id)
    assert final.state is JobState.FAILED and "2 times" in (final.error or "")
    again = store.jobs.retry(t, job.id)
    assert again.state is JobState.QUEUED and again.attempts == 0 and again.error is None


def test_cancel_queued_and_running(store: Store) -> None:
    t = store.tenants.create("a").id
    queued, _ = store.jobs.submit(t, "prelabel", {"log_id": "q"}, None, None)
    running, _ = store.jobs.submit(t, "prelabel", {"log_id": "r"}, None, None)
    assert store.jobs.cancel(t, queued.id).state is JobState.CANCELLED
    claimed = store.jobs.claim("w", 30)
    assert claimed is not None and claimed.id == running.id
    assert store.jobs.cancel(t, running.id).cancel_requested
    assert store.jobs.renew(claimed, 30) is LeaseStatus.CANCEL
    assert store.jobs.cancelled(claimed)
    assert store.jobs.get(t, running.id).state is JobState.CANCELLED
    with pytest.raises(ConflictError, match="results exist only"):
        store.jobs.result(t, running.id)


def test_delivery_attempts_are_recorded(store: Store) -> None:
    t = store.tenants.create("a").id
    store.jobs.submit(t, "prelabel", {"log_id": "x"}, None, "http://127.0.0.1:9/hook")
    job = store.jobs.claim("w", 30)
    assert job is not None and store.jobs.fail(job, "bad input")
    (delivery,) = store.deliveries.take_due(10, hold_s=60)
    assert store.deliveries.take_due(10, hold_s=60) == []  # held while being sent
    assert store.deliveries.record(delivery, 500, "HTTP 500", 1.0, time.time() - 1) is DeliveryState.PENDING
    (again,) = store.deliveries.take_due(10, hold_s=60)
    assert again.attempts == 1
    assert store.deliveries.record(again, 200, None, 1.0, None) is DeliveryState.DELIVERED
    ((d, attempts),) = store.deliveries.for_job(t, job.id)
    assert d.event == "job.failed" and [a.status_code for a in attempts] == [500, 200]


def test_resolve_inside_refuses_escapes(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    (root / "ok" / "inner").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (root / "link").symlink_to(tmp_path / "secret")
    assert resolve_inside(root, "ok/inner") == (root / "ok" / "inner").resolve()
    for bad in ["../secret", "/etc", "ok/../../secret", "link", "link/x", "", "a\x00b", "ok\\..\\x"]:
        with pytest.raises(PathOutsideRoot):
            resolve_inside(root, bad)


def test_store_survives_reopen(tmp_path: Path) -> None:
    s = Store(tmp_path / "st", pepper="p")
    t = s.tenants.create("a").id
    job, _ = s.jobs.submit(t, "prelabel", {"log_id": "x"}, "k", None)
    s.close()
    conn = sqlite3.connect(tmp_path / "st" / "fusionlabel.sqlite3")
    assert conn.execute("SELECT id FROM jobs").fetchone()[0] == job.id
    conn.close()
