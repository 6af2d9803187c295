"""``/api/dkim`` and ``/api/dns/records`` (spec §11, §18 item 6)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox import Sandbox
from sandbox.dkim import dns_records

FORBIDDEN = {
    "type": "about:blank",
    "status": 403,
    "title": "Forbidden",
    "detail": "You do not have enough permissions to access this resource.",
}
NOT_FOUND = {
    "type": "about:blank",
    "status": 404,
    "title": "Not Found",
    "detail": "The requested resource does not exist on this server.",
}


def records(env, domain, **kw):
    return env.data("GET", f"/api/dns/records/{domain}", **kw)


def summary(data):
    return [(r["type"], r["name"]) for r in data]


def create(env, body, **kw):
    return env.post("/api/dkim", json=body, **kw)


def bad_parameters(response) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["title"] == "Invalid parameters" and body["status"] == 400
    return body["detail"]


# ----------------------------------------------------------------------------- DNS records


def test_records_of_the_primary_domain_in_the_servers_order(ee):
    data = records(ee, "example.org")
    assert summary(data) == [
        ("MX", "example.org."),
        # no CNAME mail.example.org: the server host name is mail.example.org itself
        ("TXT", "202504e._domainkey.example.org."),
        ("TXT", "202504r._domainkey.example.org."),
        ("TXT", "mail.example.org."),
        ("TXT", "example.org."),
        ("SRV", "_jmap._tcp.example.org."),
        ("SRV", "_imaps._tcp.example.org."),
        ("SRV", "_imap._tcp.example.org."),
        ("SRV", "_pop3s._tcp.example.org."),
        ("SRV", "_pop3._tcp.example.org."),
        ("SRV", "_submissions._tcp.example.org."),
        ("SRV", "_submission._tcp.example.org."),
        ("CNAME", "autoconfig.example.org."),
        ("CNAME", "autodiscover.example.org."),
        ("CNAME", "mta-sts.example.org."),
        ("TXT", "_mta-sts.example.org."),
        ("TXT", "_dmarc.example.org."),
        ("TXT", "_smtp._tls.example.org."),
        ("TLSA", "_25._tcp.mail.example.org."),
        ("TLSA", "_25._tcp.mail.example.org."),
        ("TLSA", "_25._tcp.mail.example.org."),
        ("TLSA", "_25._tcp.mail.example.org."),
    ]
    by_name = {(r["type"], r["name"]): r["content"] for r in data}
    assert by_name[("MX", "example.org.")] == "10 mail.example.org."
    assert by_name[("TXT", "mail.example.org.")] == "v=spf1 a ra=postmaster -all"
    assert by_name[("TXT", "example.org.")] == "v=spf1 mx ra=postmaster -all"
    assert by_name[("SRV", "_submissions._tcp.example.org.")] == "0 1 465 mail.example.org."
    assert by_name[("SRV", "_jmap._tcp.example.org.")] == "0 1 443 mail.example.org."
    assert by_name[("CNAME", "autoconfig.example.org.")] == "mail.example.org."
    assert by_name[("TXT", "_mta-sts.example.org.")].startswith("v=STSv1; id=")
    assert by_name[("TXT", "_dmarc.example.org.")] == (
        "v=DMARC1; p=reject; rua=mailto:postmaster@example.org; ruf=mailto:postmaster@example.org"
    )
    assert by_name[("TXT", "_smtp._tls.example.org.")] == "v=TLSRPTv1; rua=mailto:postmaster@example.org"
    assert by_name[("TXT", "202504e._domainkey.example.org.")].startswith("v=DKIM1; k=ed25519; h=sha256; p=")
    assert by_name[("TXT", "202504r._domainkey.example.org.")].startswith("v=DKIM1; k=rsa; h=sha256; p=MIIB")
    tlsa = [r["content"].split() for r in data if r["type"] == "TLSA"]
    assert [parts[:3] for parts in tlsa] == [["3", "0", "1"], ["3", "0", "2"], ["3", "1", "1"], ["3", "1", "2"]]
    assert [len(parts[3]) for parts in tlsa] == [64, 128, 64, 128]


def test_other_domains_get_a_mail_cname_and_no_host_spf(ee):
    data = records(ee, "example.com")
    assert data[1] == {"type": "CNAME", "name": "mail.example.com.", "content": "mail.example.org."}
    assert ("TXT", "mail.example.org.") not in summary(data)
    assert not any(r["type"] == "TLSA" for r in data)  # the certificate is for mail.example.org
    # example.net has no DKIM key in the seed
    assert not any("_domainkey" in r["name"] for r in records(ee, "example.net"))


def test_v012_adds_caldavs_and_carddavs(v12):
    srv = [r["name"] for r in records(v12, "example.org") if r["type"] == "SRV"]
    assert srv[:3] == ["_jmap._tcp.example.org.", "_caldavs._tcp.example.org.", "_carddavs._tcp.example.org."]
    assert len(srv) == 9


def test_the_domain_is_not_checked(ee):
    data = records(ee, "nowhere.invalid")
    assert data[0] == {"type": "MX", "name": "nowhere.invalid.", "content": "10 mail.example.org."}
    assert not any("_domainkey" in r["name"] for r in data)


def test_domain_path_element_is_form_decoded(ee):
    data = records(ee, "a%2F..%2Fx+y&z=1")
    assert data[0]["name"] == "a/../x y."
    assert ee.sb.requests[-1].path == "/api/dns/records/a%2F..%2Fx+y&z=1"


def test_dns_needs_domain_get_and_a_route(ee):
    response = ee.get("/api/dns/records/example.org", auth="user")
    assert response.status_code == 403 and response.json() == FORBIDDEN
    # route first, then permission
    for path in ("/api/dns/records", "/api/dns", "/api/dns/zone/example.org"):
        response = ee.get(path, auth="user")
        assert response.status_code == 404 and response.json() == NOT_FOUND, path
    assert ee.post("/api/dns/records/example.org").status_code == 404
    helpdesk = ee.get("/api/dns/records/example.org", auth="helpdesk")
    assert helpdesk.status_code == 200  # the helpdesk role holds domain-get


def test_host_name_setting_drives_the_records(ee):
    ee.sb.settings["server.hostname"] = "mx1.example.com"
    data = records(ee, "example.com")
    assert data[0]["content"] == "10 mx1.example.com."
    assert data[1] == {"type": "CNAME", "name": "mail.example.com.", "content": "mx1.example.com."}
    assert {"type": "TXT", "name": "mx1.example.com.", "content": "v=spf1 a ra=postmaster -all"} in data
    ee.sb.settings["server.hostname"] = "mail.example.com"
    assert records(ee, "example.com")[1]["type"] != "CNAME"


def test_listeners_and_mta_sts_follow_the_settings(ee):
    settings = ee.sb.settings
    settings["session.mta-sts.mode"] = "none"
    assert "_mta-sts.example.org." not in [r["name"] for r in records(ee, "example.org")]
    del settings["session.mta-sts.mode"]
    for key in [k for k in settings if k.startswith("server.listener.https.")]:
        del settings[key]
    names = [r["name"] for r in records(ee, "example.org")]
    assert "_jmap._tcp.example.org." not in names and "autoconfig.example.org." not in names
    assert "mta-sts.example.org." not in names
    settings["server.listener.smtp.bind"] = "[::]:2525"  # plain SMTP on a port >= 26 counts
    assert "0 1 2525 mail.example.org." in [r["content"] for r in records(ee, "example.org")]


def test_the_empty_seed_has_listeners_but_no_keys(empty):
    data = records(empty, "example.org")
    assert not any("_domainkey" in r["name"] for r in data)
    assert any(r["type"] == "SRV" for r in data)


def test_seeded_records_are_deterministic():
    one = Sandbox(version="0.11.8", enterprise=True)
    two = Sandbox(version="0.11.8", enterprise=True)
    assert dns_records(one, "example.org") == dns_records(two, "example.org")
    assert dns_records(one, "acme.org") == dns_records(two, "acme.org")
    assert not any("_domainkey" in r["name"] for r in dns_records(Sandbox(enterprise=False), "acme.org"))


# ----------------------------------------------------------------------------- DKIM


def test_create_with_the_server_defaults(ee):
    ee.sb.advance(0)
    response = create(ee, {"id": None, "algorithm": "Ed25519", "domain": "example.net", "selector": None})
    assert response.status_code == 200 and response.json() == {"data": None}
    now = dt.datetime.fromtimestamp(ee.sb.now(), dt.UTC)
    selector = f"{now.year:04}{now.month:02}e"
    settings = ee.sb.settings
    assert settings["signature.ed25519-example.net.domain"] == "example.net"
    assert settings["signature.ed25519-example.net.selector"] == selector
    assert settings["signature.ed25519-example.net.algorithm"] == "ed25519-sha256"
    assert settings["signature.ed25519-example.net.canonicalization"] == "relaxed/relaxed"
    assert [settings[f"signature.ed25519-example.net.headers.{i}"] for i in range(5)] == [
        "From",
        "To",
        "Date",
        "Subject",
        "Message-ID",
    ]
    assert settings["signature.ed25519-example.net.report"] == "false"
    pem = settings["signature.ed25519-example.net.private-key"]
    assert pem.startswith("-----BEGIN PRIVATE KEY-----\n") and pem.endswith("-----END PRIVATE KEY-----\n")

    public = ee.data("GET", "/api/dkim/ed25519-example.net")
    assert len(base64.b64decode(public)) == 32
    txt = [r for r in records(ee, "example.net") if r["name"] == f"{selector}._domainkey.example.net."]
    assert txt == [
        {
            "type": "TXT",
            "name": f"{selector}._domainkey.example.net.",
            "content": f"v=DKIM1; k=ed25519; h=sha256; p={public}",
        }
    ]


def test_create_rsa_with_id_and_selector(ee):
    body = {"id": "custom", "algorithm": "Rsa", "domain": "not-a-domain-we-have.test", "selector": "s1"}
    assert create(ee, body).json() == {"data": None}
    pem = ee.sb.settings["signature.custom.private-key"]
    lines = pem.splitlines()
    assert lines[0] == "-----BEGIN RSA PRIVATE KEY-----" and lines[-1] == "-----END RSA PRIVATE KEY-----"
    assert {len(line) for line in lines[1:-2]} == {65}  # the server writes 65 characters a line
    public = serialization.load_der_public_key(base64.b64decode(ee.data("GET", "/api/dkim/custom")))
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
    assert ee.sb.settings["signature.custom.algorithm"] == "rsa-sha256"
    names = [r["name"] for r in records(ee, "not-a-domain-we-have.test")]
    assert "s1._domainkey.not-a-domain-we-have.test." in names


def test_default_selector_follows_the_sandbox_clock(ee):
    ee.sb.advance(400 * 86400)
    create(ee, {"algorithm": "Rsa", "domain": "later.test"})
    now = dt.datetime.fromtimestamp(ee.sb.now(), dt.UTC)
    assert ee.sb.settings["signature.rsa-later.test.selector"] == f"{now.year:04}{now.month:02}r"


def test_existing_key_is_echoed_back(ee):
    stored = ee.sb.settings["signature.ed25519-example.org.private-key"]
    response = create(ee, {"algorithm": "Ed25519", "domain": "example.org", "selector": "other"})
    assert response.status_code == 200
    assert response.json() == {
        "error": "fieldAlreadyExists",
        "field": "signature.ed25519-example.org.private-key",
        "value": stored,
    }
    assert ee.sb.settings["signature.ed25519-example.org.selector"] == "202504e"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", "EOF while parsing a value at line 1 column 0"),
        (b"{}", "missing field `algorithm` at line 1 column 2"),
        (b'{"algorithm":"rsa","domain":"x"}', "unknown variant `rsa`, expected `Rsa` or `Ed25519` at line 1 column 18"),
        (b'{"algorithm":"RSA"}', "unknown variant `RSA`, expected `Rsa` or `Ed25519` at line 1 column 18"),
        (b'{"algorithm":"Rsa"}', "missing field `domain` at line 1 column 19"),
        (b'{"algorithm":"Rsa","domain":5}', "invalid type: integer `5`, expected a string at line 1 column 29"),
        (b'{"algorithm":"Rsa","domain":null}', "invalid type: null, expected a string at line 1 column 32"),
        (b'{"algorithm":null,"domain":"x"}', "expected value at line 1 column 14"),
        (b'{"domain":"a","domain":"b"}', "duplicate field `domain` at line 1 column 22"),
        (b'{"algorithm":"Rsa","domain":"x"', "EOF while parsing an object at line 1 column 31"),
        (b'{"algorithm":"Rsa","domain":"x"} x', "trailing characters at line 1 column 34"),
        (b'"Rsa"', 'invalid type: string "Rsa", expected struct DkimSignature at line 1 column 5'),
        (b"[null]", "invalid length 1, expected struct DkimSignature with 4 elements at line 1 column 6"),
        (
            b'{\n  "algorithm": "ed25519"\n}',
            "unknown variant `ed25519`, expected `Rsa` or `Ed25519` at line 2 column 24",
        ),
    ],
)
def test_bad_bodies_get_the_serde_message(ee, body, detail):
    response = ee.post("/api/dkim", content=body, headers={"Content-Type": "application/json"})
    assert bad_parameters(response) == detail


def test_other_spellings_serde_accepts(ee):
    # a unit variant as {"Variant": null}, a struct as a sequence, unknown fields ignored
    assert create(ee, {"algorithm": {"Ed25519": None}, "domain": "a.test", "extra": [1, {"x": []}]}).json() == {
        "data": None
    }
    response = ee.post("/api/dkim", content=b'[null, "Ed25519", "b.test", "sel"]')
    assert response.json() == {"data": None}
    assert ee.sb.settings["signature.ed25519-b.test.selector"] == "sel"


def test_dkim_permissions_and_routes(ee):
    for method, path in (("POST", "/api/dkim"), ("GET", "/api/dkim/ed25519-example.org"), ("GET", "/api/dkim")):
        response = ee.request(method, path, auth="user", json={"algorithm": "Rsa", "domain": "x"})
        assert response.status_code == 403 and response.json() == FORBIDDEN, (method, path)
    # method, then permission, then the path
    assert ee.request("PUT", "/api/dkim/x", auth="user").json() == NOT_FOUND
    assert ee.get("/api/dkim").json() == NOT_FOUND
    assert ee.get("/api/dkim/").json() == NOT_FOUND
    assert ee.get("/api/dkim/no-such-key").status_code == 404
    ee.sb.settings["signature.half.private-key"] = "x"  # no algorithm: missing too
    assert ee.get("/api/dkim/half").status_code == 404


def test_broken_keys_are_management_errors(ee):
    settings = ee.sb.settings
    settings.update({"signature.bad.private-key": "-----BEGIN X-----\n!!!\n-----END X-----\n"})
    settings["signature.bad.algorithm"] = "rsa-sha256"
    body = ee.get("/api/dkim/bad").json()
    assert body == {"error": "other", "details": "Failed to decode private key", "reason": None}
    settings["signature.bad.private-key"] = "-----BEGIN X-----\nAAAA\n-----END X-----\n"
    assert ee.get("/api/dkim/bad").json()["details"] == "Failed to read RSA DER"
    settings["signature.bad.algorithm"] = "ed25519-sha256"
    assert ee.get("/api/dkim/bad").json()["details"] == "Crypto error"
    settings["signature.bad.domain"] = "example.net"
    settings["signature.bad.selector"] = "broken"
    # the record is left out, the rest still comes
    assert "broken._domainkey.example.net." not in [r["name"] for r in records(ee, "example.net")]


def test_dkim_id_path_element_is_form_decoded(ee):
    create(ee, {"id": "a b", "algorithm": "Ed25519", "domain": "c.test"})
    assert ee.get("/api/dkim/a+b").json()["data"] == ee.get("/api/dkim/a%20b").json()["data"]
    assert ee.get("/api/dkim/a+b=ignored").status_code == 200


def test_reset_drops_created_keys_and_keeps_the_seeded_ones(ee):
    seeded = ee.data("GET", "/api/dkim/rsa-example.org")
    create(ee, {"algorithm": "Rsa", "domain": "example.net"})
    assert "signature.rsa-example.net.private-key" in ee.sb.settings
    ee.sb.reset()
    assert "signature.rsa-example.net.private-key" not in ee.sb.settings
    assert ee.data("GET", "/api/dkim/rsa-example.org") == seeded
