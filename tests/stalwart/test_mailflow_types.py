"""Typed results of the queue and report APIs, and the bounded detail fetching."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache

from portal.stalwart import StalwartClient, errors
from portal.stalwart.blobs import header_block
from portal.stalwart.queue_types import (
    DeliveryStatus,
    OutgoingReportId,
    QueuedMessage,
    QueueSelection,
    SmtpResponse,
)
from portal.stalwart.report_types import ArfReport, DmarcReport, IncomingReport, IncomingReportId, TlsReport

V011 = {
    "id": 217700302698266624,
    "return_path": "",
    "created": "2025-01-05T14:33:15Z",
    "size": 1451,
    "blob_hash": "abc",
    "domains": [
        {
            "name": "example.org",
            "status": {"temp_fail": "Connection to 'mx.example.org' failed: refused"},
            "recipients": [
                {"address": "a@example.org", "status": "scheduled"},
                {"address": "b@example.org", "status": {"completed": "Code: 250, Enhanced code: 2.0.0, Message: OK"}},
            ],
            "retry_num": 2,
            "next_retry": "2025-01-05T15:00:00Z",
            "next_notify": None,
            "expires": "2025-01-10T14:33:15Z",
        },
        {
            "name": "example.com",
            "status": {"perm_fail": "Unexpected response from 'mx': Code: 550, Enhanced code: 5.1.1, Message: no"},
            "recipients": [{"address": "c@example.com", "status": "scheduled", "orcpt": "rfc822;c@example.com"}],
            "retry_num": 1,
            "next_retry": "2025-01-05T14:40:00Z",
            "next_notify": None,
            "expires": "2025-01-10T14:33:15Z",
        },
    ],
}


def test_v011_message():
    message = QueuedMessage.from_api(V011)
    assert message.is_bounce and message.id == 217700302698266624
    assert [r.effective.kind for r in message.recipients] == ["temp_fail", "completed", "perm_fail"]
    assert (message.delivered_count, message.pending_count, message.failed_count) == (1, 1, 1)
    assert message.next_retry == datetime(2025, 1, 5, 15, 0, tzinfo=UTC)  # only pending domains count
    assert message.recipients[2].orcpt == "rfc822;c@example.com"
    assert message.priority_label == "Normal"


def test_v013_recipient_shape_is_grouped_by_domain():
    data = {
        "id": 5,
        "return_path": "x@y.org",
        "created": "2025-01-05T14:33:15Z",
        "size": 10,
        "blob_hash": "h",
        "recipients": [
            {
                "address": "a@gmail.com",
                "status": "scheduled",
                "queue": "default",
                "retry_num": 1,
                "next_retry": "2025-01-06T00:00:00Z",
                "expires": "2025-01-09T00:00:00Z",
            },
            {
                "address": "b@Gmail.com",
                "status": {"temp_fail": "Code: 451, Enhanced code: 4.0.0, Message: later"},
                "retry_num": 3,
                "next_retry": "2025-01-05T20:00:00Z",
            },
        ],
    }
    message = QueuedMessage.from_api(data)
    (domain,) = message.domains
    assert domain.name == "gmail.com" and domain.retry_num == 3
    assert domain.next_retry == datetime(2025, 1, 5, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "bad",
    [None, {}, {"id": True, "domains": []}, {"id": 1}, {"id": 1, "domains": [{"recipients": [], "status": "weird"}]}],
)
def test_bad_messages_are_refused(bad):
    with pytest.raises(errors.StalwartBadResponse):
        QueuedMessage.from_api(bad)


def test_smtp_response_split():
    response = SmtpResponse.parse("Unexpected response from 'mx.x': Code: 421, Enhanced code: 4.7.0, Message: a: b")
    assert response == SmtpResponse("Unexpected response from 'mx.x'", "421", "4.7.0", "a: b")
    assert SmtpResponse.parse("DNS lookup failed: nope") is None
    canceled = DeliveryStatus.from_api({"perm_fail": "Code: 0, Enhanced code: 0.0.0, Message: Delivery canceled."})
    assert canceled.canceled and canceled.label == "Failed"


def test_selection_params():
    when = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    assert QueueSelection(text="a", sender="b", recipient="c", before=when).params() == {
        "text": "a",
        "before": "2030-01-02T03:04:00Z",
    }
    assert QueueSelection(sender="B", recipient="C@X").params() == {"from": "B", "to": "c@x"}
    assert QueueSelection().params() == {} and QueueSelection().is_empty


def test_report_ids():
    report = OutgoingReportId.parse("d!gmail.com!123!1700000000!1700086400")
    assert report.kind == "dmarc" and report.domain == "gmail.com" and report.period == "Daily"
    assert OutgoingReportId.parse("t!x.org!1!1700000000!1700604800").period == "Weekly"
    assert OutgoingReportId.parse("bogus").kind == ""
    incoming = IncomingReportId.parse("217700302698266624_1700000000")
    assert incoming.valid and incoming.expires == datetime.fromtimestamp(1700000000, UTC)
    assert not IncomingReportId.parse("1_x").valid and not IncomingReportId.parse("1_2 3").valid


def test_reports_parse_leniently():
    dmarc = DmarcReport.from_api({"record": [{"row": {"count": 3, "policy_evaluated": {"dkim": "Pass"}}}, "junk"]})
    assert dmarc.messages == 3 and dmarc.passed == 3 and dmarc.domain == ""
    tls = TlsReport.from_api({"policies": [{"summary": {"total-failure-session-count": 2}}]})
    assert tls.failures == 2 and tls.successes == 0
    arf = ArfReport.from_api({"headers": list(b"Subject: hi\r\n"), "incidents": 0, "source_port": "x"})
    assert arf.headers == "Subject: hi\r\n" and arf.incidents == 1 and arf.source_port == 0
    with pytest.raises(errors.StalwartBadResponse):
        IncomingReport.from_api("dmarc", "1_2", ["not", "a", "report"])


def test_reports_parse_every_field():
    """Every field of each report shape, as the mail-auth crate serialises it."""
    dmarc = DmarcReport.from_api(
        {
            "report_metadata": {
                "org_name": "google.com",
                "email": "noreply-dmarc-support@google.com",
                "extra_contact_info": "https://support.google.com/a/answer/2466580",
                "report_id": "5717107811868587391",
                "date_range": {"begin": 1700000000, "end": 1700086399},
                "error": ["one", 2, None],
            },
            "policy_published": {
                "domain": "example.org",
                "adkim": "Relaxed",
                "aspf": "Strict",
                "p": "Reject",
                "sp": "Quarantine",
                "testing": True,
                "fo": "1",
            },
            "record": [
                {
                    "row": {
                        "source_ip": "192.0.2.1",
                        "count": 7,
                        "policy_evaluated": {
                            "disposition": "Quarantine",
                            "dkim": "Fail",
                            "spf": "Pass",
                            "reason": [{"type_": "Forwarded", "comment": "via a list"}, {"type_": "Other"}, "junk"],
                        },
                    },
                    "identifiers": {
                        "envelope_to": "example.org",
                        "envelope_from": "bounce.example.net",
                        "header_from": "example.net",
                    },
                    "auth_results": {
                        "dkim": [
                            {"domain": "example.net", "selector": "s1", "result": "Fail", "human_result": "bad sig"}
                        ],
                        "spf": [{"domain": "bounce.example.net", "scope": "MailFrom", "result": "Pass"}],
                    },
                }
            ],
        }
    )
    assert dmarc.org_name == "google.com" and dmarc.email == "noreply-dmarc-support@google.com"
    assert dmarc.extra_contact_info == "https://support.google.com/a/answer/2466580"
    assert dmarc.report_id == "5717107811868587391" and dmarc.errors == ("one", "2")
    assert dmarc.begin == datetime.fromtimestamp(1700000000, UTC) and dmarc.end == datetime.fromtimestamp(
        1700086399, UTC
    )
    assert (dmarc.policy.domain, dmarc.policy.adkim, dmarc.policy.aspf) == ("example.org", "Relaxed", "Strict")
    assert (dmarc.policy.p, dmarc.policy.sp, dmarc.policy.testing, dmarc.policy.fo) == (
        "Reject",
        "Quarantine",
        True,
        "1",
    )
    (record,) = dmarc.records
    assert (record.source_ip, record.count, record.disposition) == ("192.0.2.1", 7, "Quarantine")
    assert (record.dkim, record.spf, record.passed) == ("Fail", "Pass", True)
    assert record.reasons == (("Forwarded", "via a list"), ("Other", ""), ("", ""))
    assert (record.envelope_to, record.envelope_from, record.header_from) == (
        "example.org",
        "bounce.example.net",
        "example.net",
    )
    assert [tuple(vars_of(r)) for r in record.dkim_results] == [("example.net", "s1", "Fail", "bad sig")]
    assert [tuple(vars_of(r)) for r in record.spf_results] == [("bounce.example.net", "MailFrom", "Pass", "")]
    assert (dmarc.quarantined, dmarc.rejected, dmarc.delivered) == (7, 0, 0)

    tls = TlsReport.from_api(
        {
            "organization-name": "Google Inc.",
            "date-range": {"start-datetime": "2025-01-05T00:00:00Z", "end-datetime": "2025-01-05T23:59:59Z"},
            "contact-info": "smtp-tls-reporting@google.com",
            "report-id": "2025-01-05T00:00:00Z_example.org",
            "policies": [
                {
                    "policy": {
                        "policy-type": "sts",
                        "policy-string": ["version: STSv1", "mode: enforce"],
                        "policy-domain": "example.org",
                        "mx-host": "mail.example.org",
                    },
                    "summary": {"total-successful-session-count": 40, "total-failure-session-count": 3},
                    "failure-details": [
                        {
                            "result-type": "certificate-expired",
                            "sending-mta-ip": "203.0.113.9",
                            "receiving-mx-hostname": "mail.example.org",
                            "receiving-mx-helo": "mx1.example.org",
                            "receiving-ip": "192.0.2.25",
                            "failed-session-count": 3,
                            "additional-information": "https://example.org/tls",
                            "failure-reason-code": "X509_V_ERR_CERT_HAS_EXPIRED",
                        }
                    ],
                }
            ],
        }
    )
    assert (tls.organization, tls.contact, tls.report_id) == (
        "Google Inc.",
        "smtp-tls-reporting@google.com",
        "2025-01-05T00:00:00Z_example.org",
    )
    assert tls.start == datetime(2025, 1, 5, tzinfo=UTC) and tls.end == datetime(2025, 1, 5, 23, 59, 59, tzinfo=UTC)
    (policy,) = tls.policies
    assert (policy.policy_type, policy.type_text, policy.domain) == ("sts", "MTA-STS", "example.org")
    assert policy.policy_strings == ("version: STSv1", "mode: enforce") and policy.mx_hosts == ("mail.example.org",)
    assert (policy.successes, policy.failures, tls.domains) == (40, 3, ("example.org",))
    (failure,) = policy.failure_details
    assert tuple(vars_of(failure)) == (
        "certificate-expired",
        "203.0.113.9",
        "mail.example.org",
        "mx1.example.org",
        "192.0.2.25",
        3,
        "https://example.org/tls",
        "X509_V_ERR_CERT_HAS_EXPIRED",
    )
    assert failure.result_text == "Certificate expired"

    fields = {
        name: f"<{name}>"
        for name in (
            "original_envelope_id original_mail_from original_rcpt_to reporting_mta source_ip user_agent version "
            "auth_failure delivery_result identity_alignment dkim_adsp_dns dkim_canonicalized_body "
            "dkim_canonicalized_header dkim_domain dkim_identity dkim_selector dkim_selector_dns spf_dns"
        ).split()
    }
    arf = ArfReport.from_api(
        {
            **fields,
            "feedback_type": "AuthFailure",
            "arrival_date": 1700000000,
            "authentication_results": ["dkim=fail", "spf=pass"],
            "incidents": 4,
            "reported_domain": ["example.net"],
            "reported_uri": "https://example.net/x",
            "source_port": 25,
            "message": "Subject: hi",
            "headers": list(b"From: a@example.net"),
        }
    )
    assert all(getattr(arf, name) == value for name, value in fields.items())
    assert (arf.feedback_type, arf.feedback_text, arf.is_auth_failure) == (
        "AuthFailure",
        "Authentication failure",
        True,
    )
    assert arf.arrival_date == datetime.fromtimestamp(1700000000, UTC)
    assert arf.authentication_results == ("dkim=fail", "spf=pass") and arf.incidents == 4
    assert arf.reported_domains == ("example.net",) and arf.reported_uris == ("https://example.net/x",)
    assert (arf.source_port, arf.message, arf.headers) == (25, "Subject: hi", "From: a@example.net")


def test_empty_reports_have_empty_fields():
    dmarc = DmarcReport.from_api(None)
    assert (dmarc.org_name, dmarc.report_id, dmarc.begin, dmarc.records, dmarc.errors) == ("", "", None, (), ())
    assert (dmarc.policy.domain, dmarc.policy.testing) == ("", False)
    tls = TlsReport.from_api({"policies": [{"failure-details": [{}]}]})
    assert (tls.organization, tls.start, tls.policies[0].policy_type) == ("", None, "")
    assert tuple(vars_of(tls.policies[0].failure_details[0])) == ("", "", "", "", "", 0, "", "")
    arf = ArfReport.from_api({"message": [300], "version": {"not": "text"}})
    assert (arf.feedback_type, arf.message, arf.version, arf.incidents, arf.arrival_date) == ("", "", "", 1, None)


def vars_of(item):
    """The field values of a slotted dataclass, in order."""
    return (getattr(item, field) for field in item.__dataclass_fields__)


def test_header_block():
    assert header_block(b"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore") == "A: 1\nB: 2"
    assert header_block(b"only headers, cut short") == "only headers, cut short"
    assert header_block(b"Subject: \xff\r\n\r\n") == "Subject: \ufffd"


# --- bounded, cached detail fetching ----------------------------------------------------
class _Upstream:
    """Answers report details; refuses the first request of `refuse` with the concurrency error."""

    def __init__(self, refuse: set[str]):
        self.refuse = set(refuse)
        self.seen: list[str] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()

    def __enter__(self):
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with upstream.lock:
                    upstream.in_flight += 1
                    upstream.max_in_flight = max(upstream.max_in_flight, upstream.in_flight)
                    report_id = self.path.rsplit("/", 1)[1]
                    upstream.seen.append(report_id)
                    refuse = report_id in upstream.refuse
                    upstream.refuse.discard(report_id)
                time.sleep(0.05)
                if refuse:
                    status, body = (
                        400,
                        {
                            "type": "urn:ietf:params:jmap:error:limit",
                            "status": 400,
                            "limit": "maxConcurrentRequests",
                            "detail": "too many",
                        },
                    )
                    content_type = "application/problem+json"
                elif report_id.startswith("404"):
                    status, body = 404, {"type": "about:blank", "status": 404, "title": "Not Found", "detail": "x"}
                    content_type = "application/problem+json"
                else:
                    status, content_type = 200, "application/json"
                    body = {"data": {"from": f"r{report_id}@x.org", "to": [], "subject": "s", "report": {}}}
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                with upstream.lock:
                    upstream.in_flight -= 1

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_details_are_bounded_retried_and_cached(settings):
    cache.clear()
    ids = [IncomingReportId.parse(f"{n}_1700000000") for n in range(1, 13)] + [IncomingReportId.parse("404_1")]
    with _Upstream(refuse={"3_1700000000", "7_1700000000"}) as upstream:
        settings.STALWART_URL = upstream.url
        client = StalwartClient("token")

        async def run():
            return await client.reports.details("tls", ids, concurrency=3)

        first = asyncio.run(run())
        assert first["404_1"] is None
        assert all(first[i.raw].sender == f"r{i.raw}@x.org" for i in ids[:12])
        assert len(upstream.seen) == 13 + 2  # two refused for concurrency, fetched again one at a time
        assert upstream.max_in_flight <= 3
        upstream.seen.clear()
        again = asyncio.run(run())
        assert again.keys() == first.keys()
        assert upstream.seen == ["404_1"]  # everything else came from the cache
    cache.clear()
