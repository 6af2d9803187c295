"""Fault injection in the sandbox (`sandbox.faults`): each kind, its scope, its budget, reset."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from django.core.management.base import CommandError

from portal.stalwart.sse import parse as parse_sse
from sandbox.management.commands.sandbox import Command
from sandbox.seed import PERSONAS
from sandbox.toolstate import tools_state

JANE = PERSONAS["user"]["login"]


def describe(env, value: str) -> httpx.Response:
    return env.patch(f"/api/principal/{JANE}", json=[{"action": "set", "field": "description", "value": value}])


def description(env) -> str | None:
    return env.data("GET", f"/api/principal/{JANE}").get("description")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_latency_is_scoped_and_cut_short_when_the_client_leaves(ee):
    rule = ee.sb.faults.latency(5000, prefix="/api/principal")
    with pytest.raises(httpx.ReadTimeout):
        ee.get("/api/principal", params={"types": "individual"}, timeout=0.3)
    # Outside the prefix the answer comes at once.
    assert ee.get("/api/settings/list", params={"prefix": "server"}, timeout=3).status_code == 200
    assert rule.hits == 1
    timed_out = next(r for r in ee.sb.requests if r.path == "/api/principal")
    assert timed_out.faults == ("latency",) and timed_out.status is None  # never answered


def test_latency_delays_but_answers(ee):
    ee.sb.faults.latency(50, times=1)
    assert ee.get(f"/api/principal/{JANE}").json()["data"]["name"] == JANE
    assert [r.faults for r in ee.sb.requests] == [("latency",)]


def test_server_error_one_shot_for_one_method(ee):
    ee.sb.faults.server_error(503, prefix="/api/principal", methods={"PATCH"}, times=1)
    assert ee.get(f"/api/principal/{JANE}").status_code == 200  # GET is not concerned
    failed = describe(ee, "first")
    assert failed.status_code == 503
    assert failed.headers["content-type"] == "application/problem+json"
    assert failed.json() == {
        "type": "about:blank",
        "status": 503,
        "title": "Service Unavailable",
        "detail": "There was a problem.",
    }
    assert description(ee) != "first"  # the handler never ran
    assert describe(ee, "second").json() == {"data": None}  # budget used up
    assert description(ee) == "second"
    patches = [r for r in ee.sb.requests if r.method == "PATCH"]
    assert [(r.status, r.faults) for r in patches] == [(503, ("error",)), (200, ())]


def test_rate_limit_answers_429_as_stalwart_does(ee):
    """Stalwart's rate limiter answers problem+json 429 without a Retry-After header."""
    ee.sb.faults.rate_limit(prefix="/api/principal", times=1)
    limited = ee.get(f"/api/principal/{JANE}")
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert "retry-after" not in limited.headers
    assert limited.json() == {
        "type": "about:blank",
        "status": 429,
        "title": "Too Many Requests",
        "detail": "Your request has been rate limited. Please try again in a few seconds.",
    }
    assert ee.get(f"/api/principal/{JANE}").status_code == 200  # budget used up
    assert [(r.status, r.faults) for r in ee.sb.requests] == [(429, ("ratelimit",)), (200, ())]


def test_rate_limit_with_retry_after_and_the_ban_answer(ee):
    ee.sb.faults.rate_limit(retry_after=30, prefix="/auth/token", times=1)
    limited = ee.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "30"
    ee.sb.faults.rate_limit(auth=True, times=1)
    banned = ee.get(f"/api/principal/{JANE}")
    assert banned.status_code == 429 and "retry-after" not in banned.headers
    assert banned.json()["title"] == "Too Many Authentication Attempts"
    with pytest.raises(ValueError):
        ee.sb.faults.rate_limit(retry_after=-1)


def test_server_error_needs_a_5xx_status(ee):
    with pytest.raises(ValueError):
        ee.sb.faults.server_error(404)
    with pytest.raises(ValueError):
        ee.sb.faults.add("nonsense")
    with pytest.raises(ValueError):
        ee.sb.faults.add("reset", times=0)


def test_malformed_json_truncates_the_answer_after_the_change(ee):
    ee.sb.faults.malformed_json(prefix="/api/principal/", methods={"PATCH", "GET"}, times=2)
    response = describe(ee, "garbled")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    read = ee.get(f"/api/principal/{JANE}")
    assert len(read.content) == int(read.headers["content-length"])
    assert read.content and read.content.startswith(b'{"data":')
    with pytest.raises(json.JSONDecodeError):
        read.json()
    assert description(ee) == "garbled"  # the change itself was made


def test_reset_closes_the_connection_without_an_answer(ee):
    ee.sb.faults.reset_connection(prefix="/api/principal", methods={"PATCH"}, times=1)
    with pytest.raises(httpx.TransportError) as caught:
        describe(ee, "never")
    assert isinstance(caught.value, httpx.ReadError | httpx.RemoteProtocolError)
    assert description(ee) != "never"  # not handled; and the server is still up
    record = next(r for r in ee.sb.requests if r.method == "PATCH")
    assert record.faults == ("reset",) and record.status is None


def test_connection_refused_is_a_closed_port(closed_port):
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{closed_port}/api/principal", timeout=3)


@pytest.fixture
def fast(ee):
    tools_state(ee.sb).frame_delay = (0.0, 0.002)
    tools_state(ee.sb).time_scale = 0.01
    return ee


def test_truncated_event_stream_ends_early(fast):
    full = parse_sse(fast.get("/api/troubleshoot/delivery/example.org").text)
    assert json.loads(full[-1].data) == [{"type": "completed"}]
    fast.sb.faults.truncate_sse(after=2, prefix="/api/troubleshoot/delivery")
    response = fast.get("/api/troubleshoot/delivery/example.org")
    assert response.status_code == 200
    events = parse_sse(response.text)
    assert [e.data for e in events] == [e.data for e in full[:2]]
    # Ordinary answers under the prefix pass unchanged.
    assert fast.get("/api/troubleshoot/token").json()["data"]
    # The server notes the stream closed once its generator is finalised, just after the
    # client has read the end: poll for it instead of racing it.
    deadline = time.monotonic() + 5
    while not tools_state(fast.sb).streams[-1].closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert tools_state(fast.sb).streams[-1].closed


def test_malformed_event_stream_keeps_its_events_with_half_their_data(fast):
    full = parse_sse(fast.get("/api/troubleshoot/delivery/example.org").text)
    fast.sb.faults.malformed_json(prefix="/api/troubleshoot/delivery")
    garbled = parse_sse(fast.get("/api/troubleshoot/delivery/example.org").text)
    assert [e.event for e in garbled] == [e.event for e in full]
    assert [e.data for e in garbled] == [e.data[: len(e.data) // 2] for e in full]
    with pytest.raises(json.JSONDecodeError):
        json.loads(garbled[0].data)


def test_truncated_event_stream_can_be_reset(fast):
    fast.sb.faults.truncate_sse(after=1, reset=True, prefix="/api/troubleshoot/delivery")
    received = b""
    with pytest.raises(httpx.TransportError):
        with fast.client.stream(
            "GET", "/api/troubleshoot/delivery/example.org", headers=fast.admin, timeout=5
        ) as response:
            for chunk in response.iter_bytes():
                received += chunk
    assert received.count(b"\n\n") == 1


def test_invalidate_tokens_now(ee):
    token = ee.bearer_for("admin")
    assert ee.get("/api/principal", auth=bearer(token)).status_code == 200
    assert ee.sb.faults.invalidate_tokens() >= 1
    assert ee.get("/api/principal", auth=bearer(token)).status_code == 401
    fresh = ee.bearer_for("admin")  # a token issued later is fine
    assert ee.get("/api/principal", auth=bearer(fresh)).status_code == 200
    assert ee.get("/api/principal").status_code == 200  # Basic auth is not concerned


def test_expire_tokens_just_before_a_matching_request(ee):
    token = ee.bearer_for("admin")
    ee.sb.faults.expire_tokens(prefix="/api/principal", methods={"PATCH"}, times=1)
    assert ee.get(f"/api/principal/{JANE}", auth=bearer(token)).status_code == 200
    body = [{"action": "set", "field": "description", "value": "x"}]
    assert ee.patch(f"/api/principal/{JANE}", json=body, auth=bearer(token)).status_code == 401
    assert ee.get(f"/api/principal/{JANE}", auth=bearer(token)).status_code == 401
    fresh = ee.bearer_for("admin")
    assert ee.patch(f"/api/principal/{JANE}", json=body, auth=bearer(fresh)).json() == {"data": None}


def test_expire_tokens_from_now_on(ee):
    ee.sb.faults.expire_tokens(prefix="/api/")
    for _ in range(2):
        token = ee.bearer_for("admin")
        assert ee.get("/api/principal", auth=bearer(token)).status_code == 401


def test_faults_combine_and_reset_clears_them(ee):
    ee.sb.faults.latency(10)
    ee.sb.faults.server_error(500, prefix="/api/principal")
    assert ee.get("/api/principal").status_code == 500
    assert ee.sb.requests[-1].faults == ("latency", "error")
    ee.sb.reset()
    assert ee.sb.faults.rules == []
    assert ee.get("/api/principal").status_code == 200
    assert ee.sb.requests[-1].faults == ()


def test_clear_and_remove(ee):
    rule = ee.sb.faults.server_error(prefix="/api/principal")
    ee.sb.faults.server_error(prefix="/api/settings")
    ee.sb.faults.remove(rule)
    assert ee.get("/api/principal").status_code == 200
    assert ee.get("/api/settings/list").status_code == 500
    ee.sb.faults.clear()
    assert ee.get("/api/settings/list").status_code == 200


def options(*argv: str) -> dict:
    return vars(Command().create_parser("manage.py", "sandbox").parse_args(list(argv)))


def test_command_line_faults():
    sb = Command().build_sandbox(
        options("--seed", "empty", "--latency-ms", "20", "--fault", "error503:/api/principal", "--fault", "reset")
    )
    assert sb.faults.describe() == ["latency 20 ms on /", "error 503 on /api/principal", "reset on /"]
    sb.reset()  # the configured faults are what the sandbox starts with, and stay
    assert len(sb.faults.rules) == 3
    limited = Command().build_sandbox(options("--seed", "empty", "--fault", "ratelimit30:/auth/token"))
    assert limited.faults.describe() == ["ratelimit (Retry-After 30) on /auth/token"]
    with pytest.raises(CommandError):
        Command().build_sandbox(options("--seed", "empty", "--fault", "explode"))
    with pytest.raises(CommandError):
        Command().build_sandbox(options("--seed", "empty", "--latency-ms", "-1"))
