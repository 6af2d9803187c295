"""Incoming reports (spec §8), blobs and undelete (§12)."""

from __future__ import annotations

import base64
import json

from sandbox.mailflow import state
from sandbox.reports import receive_report
from sandbox.store import delete_blob


def _dmarc(
    org="Example Reporter",
    domain="foobar.org",
    ip="192.0.2.1",
    header_from="foobar.org",
    contact="https://Reporter.example/Help",
):
    return {
        "version": 1.0,
        "report_metadata": {
            "org_name": org,
            "email": "reports@reporter.example",
            "extra_contact_info": contact,
            "report_id": "RID-42",
            "date_range": {"begin": 1700000000, "end": 1700086399},
            "error": [],
        },
        "policy_published": {
            "domain": domain,
            "version_published": None,
            "adkim": "Relaxed",
            "aspf": "Strict",
            "p": "Reject",
            "sp": "Unspecified",
            "testing": False,
            "fo": None,
        },
        "record": [
            {
                "row": {
                    "source_ip": ip,
                    "count": 3,
                    "policy_evaluated": {"disposition": "Reject", "dkim": "Fail", "spf": "Fail", "reason": []},
                },
                "identifiers": {"envelope_to": None, "envelope_from": header_from, "header_from": header_from},
                "auth_results": {
                    "dkim": [{"domain": "signer.example", "selector": "sel1", "result": "Fail", "human_result": None}],
                    "spf": [
                        {"domain": "spf.example", "scope": "MailFrom", "result": "SoftFail", "human_result": "soft"}
                    ],
                },
                "extensions": [],
            }
        ],
        "extensions": [],
    }


def _scenario(sb):
    """One report of each class plus a second DMARC report, arriving a day apart."""
    state(sb).clear()
    now = sb.now()
    old = receive_report(
        sb,
        "dmarc",
        sender="noreply@Reporter.example",
        to=["dmarc@foobar.org"],
        subject="Report Domain: foobar.org",
        report=_dmarc(),
        arrived=now - 86400,
    )
    new = receive_report(
        sb,
        "dmarc",
        sender="dmarc@other.example",
        to=["dmarc@acme.org"],
        subject="Report Domain: acme.org",
        report=_dmarc(org="Other Org", domain="acme.org", ip="2001:db8::5", header_from="acme.org", contact=None),
        arrived=now,
    )
    tls = receive_report(
        sb,
        "tls",
        sender="tls@reporter.example",
        to=["tls@foobar.org"],
        subject="TLS report",
        report={
            "organization-name": "Reporter Inc.",
            "date-range": {"start-datetime": "2025-01-01T00:00:00Z", "end-datetime": "2025-01-01T23:59:59Z"},
            "contact-info": "tls@reporter.example",
            "report-id": "tls-1",
            "policies": [
                {
                    "policy": {
                        "policy-type": "sts",
                        "policy-string": ["mode: enforce"],
                        "policy-domain": "foobar.org",
                        "mx-host": ["MX.foobar.org"],
                    },
                    "summary": {"total-successful-session-count": 5, "total-failure-session-count": 1},
                    "failure-details": [
                        {
                            "result-type": "certificate-expired",
                            "sending-mta-ip": "198.51.100.3",
                            "receiving-mx-hostname": "mx.foobar.org",
                            "receiving-mx-helo": None,
                            "receiving-ip": None,
                            "failed-session-count": 1,
                            "additional-information": None,
                            "failure-reason-code": "X509_V_ERR_CERT_HAS_EXPIRED",
                        }
                    ],
                }
            ],
        },
    )
    arf = receive_report(
        sb,
        "arf",
        sender="fbl@isp.example",
        to=["abuse@foobar.org"],
        subject="Complaint",
        report={
            "feedback_type": "Abuse",
            "arrival_date": None,
            "authentication_results": [],
            "incidents": 1,
            "original_mail_from": "news@foobar.org",
            "reported_domain": ["foobar.org"],
            "reported_uri": [],
            "headers": "Subject: Hello\r\n",
            "message": None,
        },
    )
    return old, new, tls, arf


def _key(report):
    return f"{report.id}_{report.expires}"


def test_list_gives_ids_newest_expiry_first(ee):
    env, sb = ee, ee.sb
    old, new, _, _ = _scenario(sb)
    data = env.data("GET", "/api/reports/dmarc")
    assert data == {"items": [_key(new), _key(old)], "total": 2}
    assert new.expires == old.expires + 86400  # the number in the id is the expiry
    assert env.data("GET", "/api/reports/dmarc?limit=1&page=2")["items"] == [_key(old)]
    assert env.data("GET", "/api/reports/dmarc?max-total=1") == {"items": [_key(new)], "total": 1}


def test_get_one_has_the_incoming_wrapper(ee):
    env, sb = ee, ee.sb
    old, _, tls, arf = _scenario(sb)
    data = env.data("GET", f"/api/reports/dmarc/{_key(old)}")
    assert set(data) == {"from", "to", "subject", "report"}
    assert data["report"]["record"][0]["row"]["policy_evaluated"]["reason"] == []
    assert env.data("GET", f"/api/reports/tls/{_key(tls)}")["report"]["policies"][0]["policy"]["policy-type"] == "sts"
    assert env.data("GET", f"/api/reports/arf/{_key(arf)}")["report"]["feedback_type"] == "Abuse"
    # wrong class, malformed or unknown ids: 404
    for path in (
        f"/api/reports/tls/{_key(old)}",
        "/api/reports/dmarc/123",
        "/api/reports/dmarc/abc_def",
        f"/api/reports/dmarc/{old.id}_{old.expires + 1}",
        "/api/reports/other",
        f"/api/reports/other/{_key(old)}",
    ):
        assert env.get(path).status_code == 404, path


def test_text_search_is_case_sensitive_on_lowercased_fields(ee):
    env, sb = ee, ee.sb
    old, new, tls, arf = _scenario(sb)

    def found(kind, text):
        return set(env.data("GET", f"/api/reports/{kind}", params={"text": text})["items"])

    assert found("dmarc", "reporter.example") == {_key(old)}  # from, lowercased
    assert found("dmarc", "Reporter") == set()  # org name and from are lowercased first
    assert found("dmarc", "other org") == {_key(new)}
    assert found("dmarc", "help") == {_key(old)}  # extra contact info, lowercased
    assert found("dmarc", "2001:db8") == {_key(new)}  # source IP
    assert found("dmarc", "sel1") == {_key(old), _key(new)}  # DKIM selector
    assert found("dmarc", "soft") == {_key(old), _key(new)}  # SPF human result
    assert found("dmarc", "RID-42") == {_key(old), _key(new)}  # report id, as is
    assert found("tls", "mx.foobar.org") == {_key(tls)}  # mx-host lowercased
    assert found("tls", "X509_V_ERR") == {_key(tls)}
    assert found("arf", "news@foobar.org") == {_key(arf)}
    assert found("arf", "Subject: Hello") == {_key(arf)}  # headers
    assert found("arf", "nothing") == set()


def test_delete_one_and_all(ee):
    env, sb = ee, ee.sb
    old, new, tls, _ = _scenario(sb)
    assert env.data("DELETE", f"/api/reports/dmarc/{_key(old)}") is True
    assert env.get(f"/api/reports/dmarc/{_key(old)}").status_code == 404
    # existence is not checked
    assert env.data("DELETE", f"/api/reports/dmarc/{_key(old)}") is True
    assert env.delete("/api/reports/dmarc/not-an-id").status_code == 404
    assert env.data("DELETE", "/api/reports/tls?text=nothing-matches") is False
    assert env.data("DELETE", "/api/reports/tls?text=reporter") is True
    assert env.data("GET", "/api/reports/tls")["total"] == 0
    assert env.data("GET", "/api/reports/dmarc")["items"] == [_key(new)]


def test_permissions_and_tenants(ee):
    env, sb = ee, ee.sb
    old, new, _, _ = _scenario(sb)
    assert env.get("/api/reports/dmarc", auth="user").status_code == 403
    assert env.get(f"/api/reports/dmarc/{_key(old)}", auth="user").status_code == 403
    assert env.delete(f"/api/reports/dmarc/{_key(old)}", auth="helpdesk").status_code == 403
    assert env.data("GET", "/api/reports/dmarc", auth="tenant_admin")["items"] == [_key(new)]
    assert env.get(f"/api/reports/dmarc/{_key(old)}", auth="tenant_admin").status_code == 404
    assert env.delete(f"/api/reports/dmarc/{_key(old)}", auth="tenant_admin").status_code == 404
    assert env.data("DELETE", "/api/reports/dmarc", auth="tenant_admin") is True
    assert env.data("GET", "/api/reports/dmarc")["items"] == [_key(old)]


def test_seeded_reports(ee):
    env = ee
    dmarc = env.data("GET", "/api/reports/dmarc")
    assert 55 <= dmarc["total"] <= 75
    assert all("_" in item for item in dmarc["items"])
    senders = {env.data("GET", f"/api/reports/dmarc/{i}")["from"].split("@")[1] for i in dmarc["items"][:40]}
    assert len(senders) >= 3
    assert 8 <= env.data("GET", "/api/reports/tls")["total"] <= 12
    assert env.data("GET", "/api/reports/arf")["total"] == 5


# --------------------------------------------------------------------------- blobs


def test_blob_download(ee):
    env, sb = ee, ee.sb
    content = b"Subject: hello\r\nFrom: a@b\r\n\r\nBody text"
    item = delete_blob(sb, sb.get("jane.doe").id, content, deleted_at=sb.now() - 60, expires_at=sb.now() + 60)
    r = env.get(f"/api/store/blobs/{item.hash}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream" and r.content == content
    assert env.get(f"/api/store/blobs/{item.hash}?limit=7").content == b"Subject"
    assert env.get(f"/api/store/blobs/{item.hash}?offset=9&limit=5").content == b"hello"
    assert env.get(f"/api/store/blobs/{item.hash}?offset=999").content == b""
    bad = env.get("/api/store/blobs/not*base64")
    assert bad.status_code == 400 and bad.json()["detail"] == "Base64 decoding failed"
    # a path element is cut at "=", so a padded hash still works (§1.1)
    assert env.get(f"/api/store/blobs/{item.hash}=").content == content
    assert env.get(f"/api/store/blobs/{item.hash}%3D").status_code == 400  # encoded padding is refused
    missing = base64.urlsafe_b64encode(b"\0" * 32).decode().rstrip("=")
    assert env.get(f"/api/store/blobs/{missing}").json() == {"error": "notFound", "item": ""}
    assert env.get(f"/api/store/blobs/{item.hash}", auth="helpdesk").status_code == 403
    assert env.get("/api/store/nothing").status_code == 404


# --------------------------------------------------------------------------- undelete


def _deleted(env, account="jane.doe", **kw):
    return env.data("GET", f"/api/store/undelete/{account}", **kw)


def test_undelete_list_and_restore(ee):
    env = ee
    listed = _deleted(env)
    assert listed["total"] == 3
    assert [i["deletedAt"] for i in listed["items"]] == sorted(i["deletedAt"] for i in listed["items"])
    assert set(listed["items"][0]) == {"hash", "size", "deletedAt", "expiresAt", "collection"}
    assert _deleted(env, params={"limit": 1, "page": 2}) == {"items": [listed["items"][1]], "total": 3}
    first = listed["items"][0]
    body = [
        {
            "hash": first["hash"],
            "collection": "email",
            "restoreTime": first["deletedAt"],
            "cancelDeletion": first["expiresAt"],
        },
        {
            "hash": base64.urlsafe_b64encode(b"\1" * 32).decode().rstrip("="),
            "collection": "email",
            "restoreTime": first["deletedAt"],
        },
        {"hash": first["hash"], "collection": "mailbox", "restoreTime": first["deletedAt"]},
    ]
    result = env.data("POST", "/api/store/undelete/jane.doe", content=json.dumps(body))
    assert result == [{"type": "success"}, {"type": "notFound"}, {"type": "error", "reason": "Unsupported collection"}]
    assert _deleted(env)["total"] == 2
    # null restores everything
    assert env.data("POST", "/api/store/undelete/jane.doe", content=b"null") == [{"type": "success"}] * 2
    assert _deleted(env)["total"] == 0


def test_undelete_errors(ee, ce):
    env = ee
    assert env.get("/api/store/undelete/nobody-here").status_code == 404
    assert env.get("/api/store/undelete/jane.doe", auth="user").status_code == 403
    assert _deleted(env, auth="helpdesk")["total"] == 3
    for body in (
        b"{",
        b'[{"hash":"x","collection":"email","restoreTime":"2025-01-01T00:00:00Z"}]',
        b'[{"hash":"' + b"A" * 43 + b'","collection":"bogus","restoreTime":"2025-01-01T00:00:00Z"}]',
        b'[{"hash":"' + b"A" * 43 + b'","collection":"email","restoreTime":"yesterday"}]',
    ):
        assert env.post("/api/store/undelete/jane.doe", content=body).status_code == 400
    # Community edition: permission first, then the Enterprise check
    assert ce.get("/api/store/undelete/jane.doe").json() == {"error": "unsupported", "details": "Enterprise feature"}
    assert ce.get("/api/store/undelete/jane.doe", auth="user").status_code == 403
