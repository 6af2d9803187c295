"""The message queue and queued reports (spec §7), with the server's own scenarios (§19 A, B)."""

from __future__ import annotations

from datetime import UTC, datetime

from sandbox.dates import parse_rfc3339, rfc3339
from sandbox.mailflow import state
from sandbox.queue import enqueue, schedule_report

from .helpers import basic

TEMP = ("temp_fail", "Code: 451, Enhanced code: 4.3.0, Message: Mailbox temporarily unavailable")


def _scenario_queue(sb) -> dict[str, int]:
    """The six messages of the server's manage_queue test (retry 1000 s, notify 2000 s, expire 3000 s)."""
    flow = state(sb)
    flow.clear()
    flow.retry_intervals = [1000]
    plan = {
        "a": ("bill1@foobar.net", ["rcpt1@example1.org", "rcpt1@example2.org", "rcpt1@example2.org"], 100),
        "b": ("bill2@foobar.net", ["rcpt3@example1.net", "rcpt4@example1.net"], 200),
        "c": (
            "bill3@foobar.net",
            [
                "rcpt5@example1.com",
                "rcpt6@example2.com",
                "rcpt7@example2.com",
                "rcpt8@example3.com",
                "rcpt9@example4.com",
            ],
            300,
        ),
        "d": ("bill4@foobar.net", ["delay@foobar.org"], 400),
        "e": ("bill5@foobar.net", ["john@foobar.org"], 500),
        "f": ("", ["success@foobar.org", "delay@foobar.org"], 0),
    }
    ids = {}
    for env_id, (sender, recipients, hold) in plan.items():
        outcomes = {address: TEMP for address in recipients if address.startswith("delay@")}
        message = enqueue(
            sb,
            return_path=sender,
            recipients=recipients,
            hold=hold,
            env_id=env_id,
            outcomes=outcomes,
            notify_after=2000,
            expire_after=3000,
        )
        ids[env_id] = message.id
    return ids


def _ids(env, query="", **kw) -> set[int]:
    data = env.data("GET", "/api/queue/messages" + query, **kw)
    assert "status" in data
    return set(data["items"])


def _get(env, message_id):
    return env.get(f"/api/queue/messages/{message_id}")


def test_manage_queue_scenario(ee):
    env, sb = ee, ee.sb
    ids = _scenario_queue(sb)
    by_id = {v: k for k, v in ids.items()}

    # 1. six ids
    assert _ids(env) == set(ids.values())

    # 2. each message as queued; f was attempted at once
    for name, message_id in ids.items():
        message = env.data("GET", f"/api/queue/messages/{message_id}")
        assert message["id"] == message_id and message["env_id"] == name
        created = parse_rfc3339(message["created"])
        if name == "f":
            assert message["return_path"] == ""
            (domain,) = message["domains"]
            assert domain["retry_num"] == 1
            statuses = {r["address"]: r["status"] for r in domain["recipients"]}
            assert "completed" in statuses["success@foobar.org"]
            assert "temp_fail" in statuses["delay@foobar.org"]
            continue
        hold = {"a": 100, "b": 200, "c": 300, "d": 400, "e": 500}[name]
        for domain in message["domains"]:
            assert domain["retry_num"] == 0
            assert abs(parse_rfc3339(domain["next_retry"]) - (created + hold)) <= 2
            assert abs(parse_rfc3339(domain["next_notify"]) - (created + 2000 + hold)) <= 2
            assert abs(parse_rfc3339(domain["expires"]) - (created + 3000 + hold)) <= 2
            assert all(r["status"] == "scheduled" for r in domain["recipients"])
    a = env.data("GET", f"/api/queue/messages/{ids['a']}")
    assert [r["address"] for d in a["domains"] for r in d["recipients"]] == ["rcpt1@example1.org", "rcpt1@example2.org"]

    # 3. searches
    def names(query):
        return {by_id[i] for i in _ids(env, query)}

    assert names("?from=bill1@foobar.net") == {"a"}
    assert names("?to=foobar.org") == {"d", "e", "f"}
    assert names("?from=bill3@foobar.net&to=rcpt5@example1.com") == {"c"}
    c = env.data("GET", f"/api/queue/messages/{ids['c']}")
    edge = rfc3339(parse_rfc3339(c["domains"][0]["next_retry"]) - 1).replace("+", "%2B")
    assert names(f"?before={edge}") == {"a", "b"}
    assert names(f"?after={edge}") == {"c", "d", "e", "f"}

    # 4. retry now: e is delivered, f fails again
    assert env.data("PATCH", f"/api/queue/messages/{ids['e']}") is True
    assert env.data("PATCH", f"/api/queue/messages/{ids['f']}") is True
    assert _get(env, ids["e"]).status_code == 404
    f = env.data("GET", f"/api/queue/messages/{ids['f']}")
    assert f["domains"][0]["retry_num"] == 2

    # 5. reschedule one domain
    assert env.data("PATCH", f"/api/queue/messages/{ids['a']}?filter=example1.org&at=2200-01-01T00:00:00Z") is True
    a = env.data("GET", f"/api/queue/messages/{ids['a']}")
    retries = {d["name"]: d["next_retry"] for d in a["domains"]}
    assert retries["example1.org"] == "2200-01-01T00:00:00Z"
    assert retries["example2.org"] != "2200-01-01T00:00:00Z"

    # 6. cancellations
    assert env.data("DELETE", f"/api/queue/messages/{ids['a']}?filter=example2.org") is True
    assert env.data("DELETE", f"/api/queue/messages/{ids['b']}?filter=example1.net") is True
    assert env.data("DELETE", f"/api/queue/messages/{ids['c']}?filter=rcpt6@example2.com") is True
    assert env.data("DELETE", f"/api/queue/messages/{ids['d']}") is True
    assert _ids(env) == {ids["a"], ids["c"], ids["f"]}
    assert _get(env, ids["b"]).status_code == 404 and _get(env, ids["d"]).status_code == 404
    a = {d["name"]: d for d in env.data("GET", f"/api/queue/messages/{ids['a']}")["domains"]}
    assert a["example2.org"]["status"] == {"completed": ""}
    assert all("perm_fail" in r["status"] for r in a["example2.org"]["recipients"])
    assert a["example2.org"]["recipients"][0]["status"]["perm_fail"].endswith("Message: Delivery canceled.")
    assert a["example1.org"]["status"] == "scheduled"
    c = env.data("GET", f"/api/queue/messages/{ids['c']}")
    assert all(d["status"] == "scheduled" for d in c["domains"])
    failed = [r["address"] for d in c["domains"] for r in d["recipients"] if r["status"] != "scheduled"]
    assert failed == ["rcpt6@example2.com"]

    # 7. values
    assert len(env.data("GET", "/api/queue/messages?values=1")["items"]) == 3

    # 8. bulk delete by text
    assert env.data("DELETE", "/api/queue/messages?text=example2.com") is True
    assert len(_ids(env)) == 2

    # 9. bulk delete everything
    assert env.data("DELETE", "/api/queue/messages") is True
    assert _ids(env) == set()

    # 10. wrong password
    assert env.get("/api/queue/messages", auth=basic("admin", "helloworld")).status_code == 401


def test_text_overrides_from_and_to(ee):
    env, sb = ee, ee.sb
    ids = _scenario_queue(sb)
    assert _ids(env, "?text=bill1&from=bill2&to=nothing-matches") == {ids["a"]}
    # text is not lowercased; recipients are compared lowercased
    assert _ids(env, "?text=BILL1") == set()
    assert _ids(env, "?to=RCPT1") == set()


def test_past_times_are_ignored(ee):
    env, sb = ee, ee.sb
    ids = _scenario_queue(sb)
    assert _ids(env, "?before=2001-01-01T00:00:00Z") == set(ids.values())
    assert _ids(env, "?after=2001-01-01T00:00:00Z") == set(ids.values())


def test_max_total_paging_and_values(ee):
    env, sb = ee, ee.sb
    ids = _scenario_queue(sb)
    ordered = sorted(ids.values())
    data = env.data("GET", "/api/queue/messages?max-total=4")
    assert data["total"] == 4 and data["items"] == ordered[:4]
    data = env.data("GET", "/api/queue/messages?page=2&limit=4")
    assert data["total"] == 6 and data["items"] == ordered[4:]
    data = env.data("GET", "/api/queue/messages?limit=2&values=1")
    assert [m["id"] for m in data["items"]] == ordered[:2]
    assert data["status"] is True


def test_values_makes_bulk_calls_do_nothing(ee):
    env, sb = ee, ee.sb
    ids = _scenario_queue(sb)
    assert env.data("PATCH", "/api/queue/messages?values=1") is False
    assert env.data("DELETE", "/api/queue/messages?values=1") is False
    assert _ids(env) == set(ids.values())


def test_bulk_patch_uses_text_and_the_expiry_quirk(ee):
    env, sb = ee, ee.sb
    ids = _scenario_queue(sb)
    assert env.data("PATCH", "/api/queue/messages?text=nothing-matches") is False
    at = "2100-01-01T00:00:00Z"
    # `filter` is not a selection parameter of the bulk call: everything is rescheduled.
    assert env.data("PATCH", f"/api/queue/messages?filter=bill1&at={at}") is True
    for message_id in ids.values():
        for domain in env.data("GET", f"/api/queue/messages/{message_id}")["domains"]:
            if domain["status"] in ("scheduled",) or "temp_fail" in domain["status"]:
                assert domain["next_retry"] == at
                # expiry was earlier than `at`: unchanged
                assert parse_rfc3339(domain["expires"]) < parse_rfc3339(at)
    # A reschedule to a time before the expiry moves the expiry to at + 10 s.
    soon = rfc3339(sb.now() + 50)
    assert env.data("PATCH", f"/api/queue/messages/{ids['c']}?at={soon}") is True
    c = env.data("GET", f"/api/queue/messages/{ids['c']}")
    assert {d["expires"] for d in c["domains"]} == {rfc3339(parse_rfc3339(soon) + 10)}


def test_cancel_filter_is_a_substring_and_empty_filter_removes(ee):
    env, sb = ee, ee.sb
    ids = _scenario_queue(sb)
    assert env.data("DELETE", f"/api/queue/messages/{ids['c']}?filter=nobody") is False
    # "rcpt" matches every recipient: nothing is left pending, the message is removed
    assert env.data("DELETE", f"/api/queue/messages/{ids['c']}?filter=rcpt") is True
    assert _get(env, ids["c"]).status_code == 404
    assert env.data("DELETE", f"/api/queue/messages/{ids['b']}?filter=") is True
    assert _get(env, ids["b"]).status_code == 404


def test_single_message_patch_filter_matches_domain_substring(ee):
    env, sb = ee, ee.sb
    ids = _scenario_queue(sb)
    at = "2150-06-01T00:00:00Z"
    assert env.data("PATCH", f"/api/queue/messages/{ids['c']}?filter=example2&at={at}") is True
    c = {d["name"]: d["next_retry"] for d in env.data("GET", f"/api/queue/messages/{ids['c']}")["domains"]}
    assert c["example2.com"] == at and c["example1.com"] != at
    assert env.data("PATCH", f"/api/queue/messages/{ids['c']}?filter=nowhere") is False


def test_lookup_errors_are_404_after_the_permission_check(ee):
    env, sb = ee, ee.sb
    ids = _scenario_queue(sb)
    for path in ("/api/queue/messages/123", "/api/queue/messages/abc", "/api/queue/messages/"):
        r = env.get(path)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert env.get(f"/api/queue/messages/{ids['a']}", auth="user").status_code == 403
    assert env.get("/api/queue/messages/123", auth="user").status_code == 403
    assert env.get("/api/queue/nothing").status_code == 404
    # helpdesk may update but not delete
    assert env.delete(f"/api/queue/messages/{ids['a']}", auth="helpdesk").status_code == 403
    assert env.data("PATCH", f"/api/queue/messages/{ids['a']}", auth="helpdesk") is True


def test_queue_status(ee):
    env, sb = ee, ee.sb
    ids = _scenario_queue(sb)
    assert env.data("GET", "/api/queue/status") is True
    assert env.data("PATCH", "/api/queue/status/stop") is True  # previous state
    assert env.data("GET", "/api/queue/status") is False
    assert env.data("GET", "/api/queue/messages")["status"] is False
    # A paused queue delivers nothing, even when told to retry now.
    assert env.data("PATCH", f"/api/queue/messages/{ids['e']}") is True
    assert _get(env, ids["e"]).status_code == 200
    assert env.data("PATCH", "/api/queue/status/stop") is False
    assert env.data("PATCH", "/api/queue/status/start") is False
    assert env.data("GET", "/api/queue/status") is True
    assert _get(env, ids["e"]).status_code == 404  # delivered once running
    # any other element resumes too; GET with an element and PATCH without one are 404
    assert env.data("PATCH", "/api/queue/status/whatever") is True
    assert env.get("/api/queue/status/stop").status_code == 404
    assert env.patch("/api/queue/status").status_code == 404
    assert env.get("/api/queue/status", auth="user").status_code == 403


def test_tenant_admin_sees_only_tenant_messages(ee):
    env, sb = ee, ee.sb
    ids = _scenario_queue(sb)
    acme = enqueue(sb, return_path="wile.coyote@acme.org", recipients=["x@gmail.com"], hold=600)
    inbound = enqueue(sb, return_path="someone@gmail.com", recipients=["road.runner@acme.org"], hold=600)
    assert _ids(env, auth="tenant_admin") == {acme.id, inbound.id}
    assert _get(env, ids["a"]).status_code == 200
    assert env.get(f"/api/queue/messages/{ids['a']}", auth="tenant_admin").status_code == 404
    assert env.data("DELETE", "/api/queue/messages", auth="tenant_admin") is True
    assert _ids(env) == set(ids.values())


def test_delivery_fails_permanently_after_expiry(ee):
    env, sb = ee, ee.sb
    state(sb).clear()
    message = enqueue(sb, return_path="a@example.org", recipients=["x@nowhere.example"], hold=100, expire_after=200)
    message.domains[0].error = "DNS lookup failed: Record not found for 'nowhere.example'"
    assert _get(env, message.id).status_code == 200
    sb.advance(400)
    assert _get(env, message.id).status_code == 404  # expired, DSN sent, gone


def test_attempts_run_when_due_however_late_the_queue_is_read(ee):
    env, sb = ee, ee.sb
    flow = state(sb)
    flow.clear()
    flow.retry_intervals = [1000, 2000]
    message = enqueue(
        sb, return_path="a@example.org", recipients=["b@example.net"], hold=100, outcomes={"b@example.net": TEMP}
    )
    # read 2,500 s later: attempts were due at +100 and +1,100; the next one at +3,100
    sb.advance(2500)
    (domain,) = env.data("GET", f"/api/queue/messages/{message.id}")["domains"]
    assert domain["retry_num"] == 2
    assert parse_rfc3339(domain["next_retry"]) == message.created + 3100
    assert "temp_fail" in domain["status"]


def test_seeded_queue_is_realistic(ee):
    env = ee
    data = env.data("GET", "/api/queue/messages?values=1")
    messages = data["items"]
    assert 35 <= data["total"] <= 50
    statuses = {
        next(iter(d["status"])) if isinstance(d["status"], dict) else d["status"]
        for m in messages
        for d in m["domains"]
    }
    assert statuses == {"scheduled", "temp_fail", "perm_fail", "completed"}
    assert any(m["return_path"] == "" for m in messages)
    assert any("<script>" in str(m) for m in messages)
    now = int(datetime.now(UTC).timestamp())
    pending = [d for m in messages for d in m["domains"] if d["status"] == "scheduled" or "temp_fail" in d["status"]]
    assert all(parse_rfc3339(d["next_retry"]) > now for d in pending)


def test_reset_moves_seeded_times_along(ee):
    from sandbox.mailflow import shift

    flow = state(ee.sb)
    message = next(iter(flow.messages.values()))
    before = (message.id, message.created, message.domains[0].next_retry)
    shift(flow, 3600)
    moved = flow.messages[before[0] + ((3600 * 1000) << 21)]
    assert moved.created == before[1] + 3600 and moved.domains[0].next_retry == before[2] + 3600


# --------------------------------------------------------------------------- queued reports (§19 B)


def _scenario_reports(sb) -> dict[str, str]:
    state(sb).clear()
    day, week = 86400, 7 * 86400
    dmarc_data = {
        "policy_published": {
            "domain": "foobar.org",
            "version_published": None,
            "adkim": "Relaxed",
            "aspf": "Relaxed",
            "p": "Reject",
            "sp": "Reject",
            "testing": False,
            "fo": None,
        },
        "records": [],
    }
    failure = {
        "result-type": "sts-policy-invalid",
        "sending-mta-ip": "10.0.0.1",
        "receiving-mx-hostname": "mx.foobar.net",
        "receiving-mx-helo": None,
        "receiving-ip": None,
        "failed-session-count": 1,
        "additional-information": None,
        "failure-reason-code": None,
    }

    def tls_data(domain, failures):
        return {
            "policies": [
                {
                    "policy": {"policy-type": "sts", "policy-string": [], "policy-domain": domain, "mx-host": []},
                    "summary": {"total-successful-session-count": 1, "total-failure-session-count": len(failures)},
                    "failure-details": failures,
                }
            ]
        }

    reports = {
        "a": schedule_report(
            sb,
            kind="d",
            domain="foobar.org",
            period=day,
            rua=[{"uri": "reports@foobar.org", "max_size": 0}],
            data=dmarc_data,
        ),
        "b": schedule_report(
            sb,
            kind="d",
            domain="foobar.net",
            period=week,
            rua=[{"uri": "reports@foobar.net", "max_size": 0}, {"uri": "other@foobar.net", "max_size": 0}],
            data=dmarc_data,
        ),
        "c": schedule_report(
            sb,
            kind="t",
            domain="foobar.org",
            period=day,
            rua=[{"Mail": "reports@foobar.org"}],
            data=tls_data("foobar.org", []),
        ),
        "d": schedule_report(
            sb,
            kind="t",
            domain="foobar.net",
            period=week,
            rua=[{"Http": "https://foobar.net/tls"}],
            data=tls_data("foobar.net", [failure]),
        ),
    }
    return {name: report.id for name, report in reports.items()}


def _report_path(report_id: str) -> str:
    return "/api/queue/reports/" + report_id.replace("!", "%21")


def test_manage_reports_scenario(ee):
    env, sb = ee, ee.sb
    ids = _scenario_reports(sb)
    by_id = {v: k for k, v in ids.items()}

    # 1. four ids
    assert set(env.data("GET", "/api/queue/reports")["items"]) == set(ids.values())

    # 2. each report
    for name, report_id in ids.items():
        report = env.data("GET", _report_path(report_id))
        assert report["type"] == ("dmarc" if report_id.startswith("d!") else "tls")
        assert report["id"] == report_id
        assert report["domain"] == report_id.split("!")[1]
        span = parse_rfc3339(report["range_to"]) - parse_rfc3339(report["range_from"])
        assert span == (86400 if name in ("a", "c") else 604800)
        assert report["rua"]
    assert env.data("GET", _report_path(ids["c"]))["rua"] == [{"Mail": "reports@foobar.org"}]

    # 3. filters
    def names(query):
        return {by_id[i] for i in env.data("GET", "/api/queue/reports" + query)["items"]}

    assert names("?type=dmarc") == {"a", "b"}
    assert names("?type=tls") == {"c", "d"}
    assert names("?domain=foobar.org") == {"a", "c"}
    assert names("?domain=foobar.net") == {"b", "d"}
    assert names("?domain=foobar.org&type=dmarc") == {"a"}
    assert names("?domain=foobar.net&type=tls") == {"d"}
    assert names("?domain=FOOBAR.NET&type=other") == {"b", "d"}  # domain lowercased, unknown type ignored

    # 4. delete two
    assert env.data("DELETE", _report_path(ids["a"])) is True
    assert env.data("DELETE", _report_path(ids["b"])) is True
    assert env.data("GET", "/api/queue/reports")["total"] == 2
    assert env.get(_report_path(ids["a"])).status_code == 404
    assert env.get(_report_path(ids["b"])).status_code == 404
    assert env.get(_report_path(ids["c"])).status_code == 200
    assert env.get(_report_path(ids["d"])).status_code == 200

    # 5. delete the rest
    assert env.data("DELETE", "/api/queue/reports") is True
    assert env.data("GET", "/api/queue/reports") == {"items": [], "total": 0}
    assert env.data("DELETE", "/api/queue/reports") is False


def test_report_ids_and_permissions(ee):
    env, sb = ee, ee.sb
    ids = _scenario_reports(sb)
    for bad in ("x!foobar.org!1!2!3", "d!foobar.org!1!2", "d!foobar.org!a!2!3", "nothing"):
        assert env.get(_report_path(bad)).status_code == 404
        if bad != "d!foobar.org!1!2!3":
            assert env.delete(_report_path(bad)).status_code in (404, 200)
    assert env.delete(_report_path("x!a!1!2!3")).status_code == 404
    assert env.get("/api/queue/reports", auth="user").status_code == 403
    assert env.delete(_report_path(ids["a"]), auth="helpdesk").status_code == 403
    # tenant admins see and delete only reports for their domains
    assert env.data("GET", "/api/queue/reports", auth="tenant_admin")["total"] == 0
    assert env.data("DELETE", _report_path(ids["a"]), auth="tenant_admin") is False
    assert env.get(_report_path(ids["a"]), auth="tenant_admin").status_code == 404


def test_seeded_outgoing_reports(ee):
    data = ee.data("GET", "/api/queue/reports")
    assert {i[0] for i in data["items"]} == {"d", "t"}
    dues = [int(i.rsplit("!", 1)[1]) for i in data["items"]]
    assert dues == sorted(dues)


def test_v012_has_the_same_shapes(v12):
    data = v12.data("GET", "/api/queue/messages?values=1&limit=1")
    (message,) = data["items"]
    assert {"id", "return_path", "domains", "created", "size", "blob_hash"} <= set(message)
    assert v12.data("GET", "/api/queue/reports")["total"] >= 6
    assert v12.data("GET", "/api/reports/dmarc?limit=1")["items"][0].count("_") == 1
