"""The low-latency request path: strict JSON parsing (against a slow oracle) and the lean route class."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_helpers import TenantKey
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from api.cli import MAX_DEFAULT_PROCESSES, default_processes
from api.fastroute import LeanJsonRoute, is_json_media_type
from api.middleware import BadJson, check_json

GOOD = {
    "keyframes": {
        "timestamps_us": [0, 1_000_000],
        "centers": [[0.0, 0.0, 0.8], [10.0, 0.0, 0.8]],
        "sizes": [[4.5, 1.9, 1.6], [4.5, 1.9, 1.6]],
        "yaws": [0.0, 0.1],
    },
    "timestamps_us": [500_000],
}

_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet='[]{}"\\,:ab e1é', max_size=8),  # brackets, quotes and escapes inside strings
)
_TREES = st.recursive(
    _LEAVES,
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}ab"', max_size=3), kids, max_size=3)
    ),
    max_leaves=30,
)


def _depth(value: Any) -> int:
    """Nesting depth by recursion: the obviously correct oracle (a container counts 1, a scalar 0)."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(tree=_TREES, limit=st.integers(1, 6), indent=st.sampled_from([None, 1]))
def test_check_json_matches_the_stdlib_and_a_depth_oracle(tree: Any, limit: int, indent: int | None) -> None:
    body = json.dumps(tree, indent=indent, ensure_ascii=indent is None).encode()
    if _depth(tree) <= limit:
        assert check_json(body, limit) == json.loads(body)
    else:
        with pytest.raises(BadJson, match=f"deeper than {limit}"):
            check_json(body, limit)


@pytest.mark.parametrize(
    "text",
    ["[NaN]", "[Infinity]", "[-Infinity]", "[1e999]", "[-1E+400]", '{"a": 1.9e00308}', "[1,", "", '"\xff"'],
)
def test_check_json_refuses_non_finite_and_malformed_bodies(text: str) -> None:
    with pytest.raises(BadJson):
        check_json(text.encode("latin-1"), 32)


def test_check_json_keeps_big_exponents_that_fit() -> None:
    assert check_json(b'{"e100": [1e300, -2.5E-300, 1e0100]}', 32) == {"e100": [1e300, -2.5e-300, 1e100]}
    with pytest.raises(BadJson, match="deeper than 200|deeper than 300"):
        check_json(b"[" * 300 + b"]" * 300, 300)  # pydantic-core stops at 200 on its own


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON", True),
        ("application/merge-patch+json", True),
        ("text/plain", False),
        ("application/jsonx", False),
        ("", False),
        (None, False),
    ],
)
def test_json_media_types(content_type: str | None, ok: bool) -> None:
    assert is_json_media_type(content_type) is ok


def test_lean_routes_keep_the_error_format_and_order(client: TestClient, tenant_a: TenantKey) -> None:
    h = {**tenant_a.headers, "Content-Type": "application/json"}
    r = client.post("/v1/interpolate", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 401  # the key is checked before the body is parsed
    r = client.post("/v1/interpolate?debug=1", json=GOOD, headers=h)
    assert r.status_code == 422 and "debug" in r.json()["detail"]
    r = client.post("/v1/interpolate", content=json.dumps(GOOD), headers={**h, "Content-Type": "text/plain"})
    assert r.status_code == 415 and r.headers["content-type"] == "application/problem+json"
    r = client.post("/v1/interpolate", content=b"", headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body"]
    r = client.post("/v1/interpolate", json={**GOOD, "timestamps_us": "now"}, headers=h)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "timestamps_us"] and "now" not in r.text
    r = client.post("/v1/interpolate", json=GOOD, headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert set(r.json()) == {"cuboids", "snap"} and r.json()["cuboids"]["timestamps_us"] == [500_000]


def test_lean_routes_are_documented_like_the_others(app) -> None:  # type: ignore[no-untyped-def]
    from api.routes import geometry, interpolate, project, quality

    routers = (geometry, interpolate, project, quality)
    lean = [r for m in routers for r in m.router.routes if isinstance(r, LeanJsonRoute)]
    assert {r.path for r in lean} == {
        "/v1/interpolate",
        "/v1/validate",
        "/v1/footprints",
        "/v1/project",
        "/v1/fit",
        "/v1/points-in-boxes",
    }
    op = app.openapi()["paths"]["/v1/interpolate"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/InterpolateCreate")
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/InterpolatePublic")
    assert op["security"] == [{"APIKeyHeader": []}] and "422" in op["responses"]


def test_lean_route_rejects_unsupported_signatures() -> None:
    from fastapi import APIRouter

    router = APIRouter(route_class=LeanJsonRoute)

    def op(x: int) -> None:  # a query parameter: not a lean endpoint
        return None

    with pytest.raises(TypeError, match="unsupported parameter 'x'"):
        router.post("/x")(op)


def test_default_processes_follow_the_cores() -> None:
    assert 1 <= default_processes() <= MAX_DEFAULT_PROCESSES
