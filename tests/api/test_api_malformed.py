"""Malformed input: every request below gets a 4xx problem (never a 5xx) and the server keeps serving."""

from __future__ import annotations

import json

import pytest
from api_helpers import TenantKey
from fastapi.testclient import TestClient

GOOD_KEYFRAMES = {
    "timestamps_us": [0, 1_000_000],
    "centers": [[0.0, 0.0, 0.8], [10.0, 0.0, 0.8]],
    "sizes": [[4.5, 1.9, 1.6], [4.5, 1.9, 1.6]],
    "yaws": [0.0, 0.1],
}
GOOD = {"keyframes": GOOD_KEYFRAMES, "timestamps_us": [500_000]}


def _kf(**over: object) -> dict:
    return {"keyframes": {**GOOD_KEYFRAMES, **over}, "timestamps_us": [500_000]}


RAW_BODIES = {
    "nan literal": json.dumps(GOOD).replace("10.0", "NaN"),
    "infinity literal": json.dumps(GOOD).replace("10.0", "Infinity"),
    "minus infinity": json.dumps(GOOD).replace("10.0", "-Infinity"),
    "overflowing float": json.dumps(GOOD).replace("10.0", "1e999"),
    "truncated": json.dumps(GOOD)[:-5],
    "not json": "keyframes=1",
    "empty": "",
    "deep array": "[" * 5000 + "]" * 5000,
    "deep object": '{"a":' * 5000 + "1" + "}" * 5000,
    "moderately deep": json.dumps(
        {
            **GOOD,
            "keyframes": {
                **GOOD_KEYFRAMES,
                "frame": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
            },
        }
    ),
    "invalid utf8": b'{"keyframes": "\xff\xfe"}',
    "top-level array": "[1, 2, 3]",
    "null": "null",
}

JSON_BODIES = {
    "huge float": _kf(centers=[[1e308, 0, 0], [10, 0, 0]]),
    "huge int timestamp": {**GOOD, "timestamps_us": [10**30]},
    "int64 overflow timestamp": _kf(timestamps_us=[0, 2**63]),
    "negative overflow": _kf(timestamps_us=[-(2**70), 0]),
    "zero quaternion": _kf(yaws=None, rotations_wxyz=[[0, 0, 0, 0], [1, 0, 0, 0]]),
    "non-unit quaternion": _kf(yaws=None, rotations_wxyz=[[2, 0, 0, 0], [1, 0, 0, 0]]),
    "both rotations": _kf(rotations_wxyz=[[1, 0, 0, 0], [1, 0, 0, 0]]),
    "unsorted keyframes": _kf(timestamps_us=[1_000_000, 0]),
    "duplicate keyframes": _kf(timestamps_us=[0, 0]),
    "unsorted queries": {**GOOD, "timestamps_us": [600_000, 500_000]},
    "duplicate queries": {**GOOD, "timestamps_us": [500_000, 500_000]},
    "empty queries": {**GOOD, "timestamps_us": []},
    "no keyframes": _kf(timestamps_us=[], centers=[], sizes=[], yaws=[]),
    "ragged columns": _kf(centers=[[0, 0, 0]]),
    "short vector": _kf(centers=[[0, 0], [10, 0, 0]]),
    "long vector": _kf(centers=[[0, 0, 0, 0], [10, 0, 0]]),
    "string number": _kf(centers=[["0", "a", 0], [10, 0, 0]]),
    "bool as number": _kf(yaws=[True, False]),
    "null centers": _kf(centers=None),
    "negative size": _kf(sizes=[[-1, 1, 1], [1, 1, 1]]),
    "zero size": _kf(sizes=[[0, 1, 1], [1, 1, 1]]),
    "unknown field": {**GOOD, "extra": 1},
    "unknown method": {**GOOD, "method": "spline"},
    "unknown frame": _kf(frame="mars"),
    "wrong top type": {"keyframes": [1, 2], "timestamps_us": "now"},
    "float timestamps": {**GOOD, "timestamps_us": [0.5]},
    "snap without log": {**GOOD, "snap": {}},
    "unknown snap method": {**GOOD, "snap": {"method": "icp"}},
    "motion snap without a yaw bound": {**GOOD, "snap": {"method": "motion", "max_yaw_rad": 0}},
    "unknown log": {**GOOD, "log_id": "log_" + "0" * 32},
    "traversal log id": {**GOOD, "log_id": "../../etc/passwd"},
    "huge confidence": _kf(confidence=[2.0, 1.0]),
    "yaw too large": _kf(yaws=[1e9, 0]),
}

OTHER_ENDPOINTS = [
    ("/v1/fit", {"points": []}),
    ("/v1/fit", {"points": [[0, 0, 0]]}),
    (
        "/v1/fit",
        {
            "box": {"center": [0, 0, 0], "size": [1, 1, 1], "rotation_wxyz": [0, 0, 0, 0]},
            "points": [[0, 0, 0]],
        },
    ),
    ("/v1/fit", {"box": {"center": [0, 0, 0], "size": [1, 1, 1], "yaw": 0}, "points": []}),
    ("/v1/fit", {}),
    ("/v1/fit", {"log_id": "log_x"}),
    ("/v1/points-in-boxes", {"boxes": [], "points": [[0, 0, 0]]}),
    ("/v1/points-in-boxes", {"boxes": [[0, 0, 0, 1, 1, 1, 0]], "points": []}),
    ("/v1/points-in-boxes", {"boxes": [[0, 0, 0, -1, 1, 1, 0]], "points": [[0, 0, 0]]}),
    ("/v1/points-in-boxes", {"boxes": [[0, 0, 0, 1, 1, 1]], "points": [[0, 0, 0]]}),
    ("/v1/points-in-boxes", {"boxes": [[0, 0, 0, 1, 1, 1, 0]], "log_id": "log_nope", "timestamp_us": 0}),
    ("/v1/project", {"log_id": "log_nope", "cuboids": GOOD_KEYFRAMES}),
    ("/v1/project", {"cuboids": GOOD_KEYFRAMES}),
    ("/v1/logs", {"path": "../outside"}),
    ("/v1/logs", {"path": "/etc"}),
    ("/v1/logs", {"path": "a/../../b"}),
    ("/v1/logs", {"path": "does-not-exist"}),
    ("/v1/logs", {"path": "a\u0000b"}),
    ("/v1/logs", {"path": "."}),
    ("/v1/jobs/prelabel", {"log_id": "log_nope"}),
    ("/v1/jobs/prelabel", {"log_id": "x", "webhook_url": "ftp://example.com"}),
    ("/v1/jobs/prelabel", {"log_id": "x", "options": {"max_sweeps": -1}}),
]

EDGE_CASES = [  # valid but degenerate: any answer below 500 is fine (these fit or count something)
    ("/v1/fit", {"points": [[0, 0, 0]] * 10}),  # all points in one spot
    ("/v1/fit", {"points": [[1e7, 1e7, 1e7], [-1e7, -1e7, -1e7], [0, 0, 0]]}),
    (
        "/v1/points-in-boxes",
        {"boxes": [[1e7, 1e7, 1e7, 1000, 1000, 1000, 100]], "points": [[-1e7, -1e7, -1e7]]},
    ),
    ("/v1/interpolate", {**GOOD, "timestamps_us": [-(2**53), 2**53], "out_of_range": "hold"}),
    ("/v1/interpolate", _kf(timestamps_us=[-(2**53), 2**53])),
    (
        "/v1/interpolate",
        _kf(centers=[[1e7, -1e7, 1e7], [-1e7, 1e7, -1e7]], sizes=[[1000.0] * 3, [1e-300] * 3]),
    ),
]


@pytest.fixture
def post(client: TestClient, tenant_a: TenantKey):  # type: ignore[no-untyped-def]
    def send(path: str, content: bytes | str, headers: dict[str, str] | None = None) -> int:
        h = {**tenant_a.headers, "Content-Type": "application/json", **(headers or {})}
        r = client.post(path, content=content, headers=h)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:300])
        assert r.headers["content-type"] == "application/problem+json", r.text[:300]
        assert r.json()["status"] == r.status_code
        return r.status_code

    return send


@pytest.mark.parametrize("name", list(RAW_BODIES))
def test_raw_bodies_are_4xx(post, client: TestClient, tenant_a: TenantKey, name: str) -> None:  # type: ignore[no-untyped-def]
    post("/v1/interpolate", RAW_BODIES[name])
    assert client.post("/v1/interpolate", json=GOOD, headers=tenant_a.headers).status_code == 200


@pytest.mark.parametrize("name", list(JSON_BODIES))
def test_json_bodies_are_4xx(post, client: TestClient, tenant_a: TenantKey, name: str) -> None:  # type: ignore[no-untyped-def]
    post("/v1/interpolate", json.dumps(JSON_BODIES[name]))
    assert client.post("/v1/interpolate", json=GOOD, headers=tenant_a.headers).status_code == 200


@pytest.mark.parametrize(("path", "body"), OTHER_ENDPOINTS)
def test_other_endpoints_are_4xx(post, path: str, body: dict, log_id: str) -> None:  # type: ignore[no-untyped-def]
    post(path, json.dumps(body))


@pytest.mark.parametrize(("path", "body"), EDGE_CASES)
def test_degenerate_valid_input_is_not_5xx(
    client: TestClient, tenant_a: TenantKey, path: str, body: dict
) -> None:
    r = client.post(path, json=body, headers=tenant_a.headers)
    assert r.status_code < 500, r.text[:300]
    assert client.post("/v1/interpolate", json=GOOD, headers=tenant_a.headers).status_code == 200


def test_nan_never_reaches_a_handler(post) -> None:  # type: ignore[no-untyped-def]
    for literal in ("NaN", "Infinity", "-Infinity", "1e400", "-1e400"):
        assert (
            post("/v1/points-in-boxes", f'{{"boxes": [[0,0,0,1,1,1,0]], "points": [[{literal},0,0]]}}') == 400
        )


def test_oversized_body_is_413_without_echo(client: TestClient, tenant_a: TenantKey, settings) -> None:  # type: ignore[no-untyped-def]
    marker = "ECHO-ME-" * 10
    body = ('{"points": [' + ",".join(["[1.5, 2.5, 3.5]"] * 80_000) + f'], "note": "{marker}"}}').encode()
    assert len(body) > settings.limits.max_body_bytes
    r = client.post("/v1/fit", content=body, headers={**tenant_a.headers, "Content-Type": "application/json"})
    assert r.status_code == 413 and marker not in r.text and len(r.content) < 500
    assert r.headers["content-type"] == "application/problem+json"

    def chunks():  # no Content-Length: the limit applies to the streamed bytes
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    r = client.post(
        "/v1/fit", content=chunks(), headers={**tenant_a.headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and marker not in r.text
    r = client.post("/v1/fit", content=b"{}", headers={**tenant_a.headers, "Content-Length": "abc"})
    assert r.status_code == 400


def test_other_tenants_ids_are_404(
    client: TestClient, tenant_a: TenantKey, tenant_b: TenantKey, log_id: str
) -> None:
    job = client.post("/v1/jobs/prelabel", json={"log_id": log_id}, headers=tenant_a.headers).json()["id"]
    b = tenant_b.headers
    assert client.get(f"/v1/jobs/{job}", headers=b).status_code == 404
    assert client.post(f"/v1/jobs/{job}/cancel", headers=b).status_code == 404
    assert client.post(f"/v1/jobs/{job}/retry", headers=b).status_code == 404
    assert client.get(f"/v1/jobs/{job}/results", headers=b).status_code == 404
    assert client.get(f"/v1/jobs/{job}/webhooks", headers=b).status_code == 404
    assert client.get(f"/v1/logs/{log_id}", headers=b).status_code == 404
    assert client.post("/v1/interpolate", json={**GOOD, "log_id": log_id}, headers=b).status_code == 404
    assert job not in [j["id"] for j in client.get("/v1/jobs", headers=b).json()["items"]]
    assert client.get(f"/v1/jobs/{job}", headers=tenant_a.headers).status_code == 200


def test_bad_headers_and_paths(client: TestClient, tenant_a: TenantKey, log_id: str) -> None:
    h = tenant_a.headers
    for key in (b"", b" ", b"x" * 300, "ünïcode".encode()):
        r = client.post("/v1/jobs/prelabel", json={"log_id": log_id}, headers={**h, "Idempotency-Key": key})
        assert 400 <= r.status_code < 500, (key, r.status_code)
    assert client.get("/v1/jobs/" + "x" * 5000, headers=h).status_code in (404, 422)
    assert client.get("/v1/jobs?limit=0", headers=h).status_code == 422
    assert client.get("/v1/jobs?state=exploded", headers=h).status_code == 422
    assert client.get("/v1/logs/..%2F..%2Fetc", headers=h).status_code in (404, 422)
    assert client.put("/v1/interpolate", json=GOOD, headers=h).status_code == 405
    r = client.post("/v1/interpolate", content=json.dumps(GOOD), headers={**h, "Content-Type": "text/plain"})
    assert 400 <= r.status_code < 500
