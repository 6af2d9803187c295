"""``GET /api/logs`` (spec §16): newest first, raw-line filter, estimated totals, failures."""

from __future__ import annotations

from sandbox.logs import parse_line
from sandbox.observability import state


def _use_lines(env, lines: list[str]) -> None:
    obs = state(env.sb)
    obs.log_files = [("stalwart.log.2025-01-05", lines)]


LINES = [
    f"2025-01-05T14:06:{second:02d}Z INFO SMTP connection started (smtp.connection-start) remoteIp = 192.0.2.{second}"
    for second in range(10)
]


def test_newest_first_with_default_limit(ee):
    data = ee.data("GET", "/api/logs")
    assert len(data["items"]) == 100 and data["total"] == 200  # a full page + more lines: an estimate
    stamps = [item["timestamp"] for item in data["items"]]
    assert stamps == sorted(stamps, reverse=True)
    assert set(data["items"][0]) == {"timestamp", "level", "event", "event_id", "details"}


def test_paging_and_estimated_total(ee):
    _use_lines(ee, LINES)
    first = ee.data("GET", "/api/logs?limit=3")
    assert [item["details"] for item in first["items"]] == [f"remoteIp = 192.0.2.{n}" for n in (9, 8, 7)]
    assert first["total"] == 6  # 3 matches so far + one more page
    last = ee.data("GET", "/api/logs?limit=3&page=4")
    assert [item["details"] for item in last["items"]] == ["remoteIp = 192.0.2.0"] and last["total"] == 10
    exact = ee.data("GET", "/api/logs?limit=10")
    assert exact["total"] == 10


def test_filter_is_a_case_sensitive_substring(ee):
    _use_lines(ee, LINES + ['2025-01-05T14:07:00Z ERROR Data store error (store.data-error) reason = "boom"'])
    assert ee.data("GET", "/api/logs?filter=ERROR")["total"] == 1
    assert ee.data("GET", "/api/logs?filter=error")["total"] == 1  # the event id
    assert ee.data("GET", "/api/logs?filter=192.0.2.1")["total"] == 1


def test_unparseable_lines_count_but_are_skipped(ee):
    _use_lines(ee, ["garbage", *LINES[:2]])
    data = ee.data("GET", "/api/logs")
    assert len(data["items"]) == 2 and data["total"] == 3


def test_parse_line():
    entry = parse_line('2025-01-05T14:06:29Z TRACE HTTP request body (http.request-body) listenerId = "http", x = 1')
    assert entry == {
        "timestamp": "2025-01-05T14:06:29Z",
        "level": "TRACE",
        "event": "HTTP request body",
        "event_id": "http.request-body",
        "details": 'listenerId = "http", x = 1',
    }
    assert parse_line("not a line") is None


def test_seed_has_hostile_lines(ee):
    data = ee.data("GET", "/api/logs?filter=script&limit=500")
    assert any("<script>" in item["details"] for item in data["items"])


def test_permission_method_and_configuration(ee):
    assert ee.get("/api/logs", auth="user").status_code == 403
    assert ee.post("/api/logs").status_code == 404
    ee.sb.settings.pop("tracer.log.path")
    assert ee.get("/api/logs").json() == {"error": "unsupported", "details": "Tracer log path not configured"}


def test_read_failure(ee):
    state(ee.sb).log_read_error = True
    body = ee.get("/api/logs").json()
    assert body["error"] == "other" and body["details"] == "Failed to read log files"


def test_empty_seed_has_no_log_file(empty):
    assert empty.get("/api/logs").json()["error"] == "unsupported"
