"""`client.dkim` and `client.dns` against the sandbox."""

import asyncio

import pytest

from portal.stalwart import StalwartClient, errors
from portal.stalwart.dkim import default_signature_id
from portal.stalwart.types import DnsRecord
from tests.conftest import persona


def run(coroutine):
    return asyncio.run(coroutine)


def admin_client():
    who = persona("admin")
    return StalwartClient(basic=(who.name, who.password))


def test_records_are_typed_and_dkim_is_parsed(sandbox):
    records = run(admin_client().dns.records("example.org"))
    assert records[0] == DnsRecord(type="MX", name="example.org.", content="10 mail.example.org.")
    keys = [r.dkim for r in records if r.dkim]
    assert [(k.selector, k.algorithm, k.algorithm_label, k.key_bits) for k in keys] == [
        ("202504e", "ed25519", "Ed25519", 256),
        ("202504r", "rsa", "RSA", 2048),
    ]
    assert [r.path for r in sandbox.requests] == ["/api/dns/records/example%2Eorg"]


def test_create_and_read_a_key(sandbox):
    client = admin_client()
    assert run(client.dkim.create("example.net", "Ed25519", "s1")) is None
    public = run(client.dkim.public_key(default_signature_id("Ed25519", "example.net")))
    records = run(client.dns.records("example.net"))
    assert [r.dkim.public_key for r in records if r.dkim] == [public]
    with pytest.raises(ValueError):
        run(client.dkim.create("example.net", "rsa"))  # Stalwart's names are exact


def test_unknown_key_is_not_found(sandbox):
    with pytest.raises(errors.NotFound):
        run(admin_client().dkim.public_key("nothing-here"))


def test_existing_key_error_never_carries_the_private_key(sandbox):
    with pytest.raises(errors.FieldAlreadyExists) as caught:
        run(admin_client().dkim.create("example.org", "Rsa"))
    error = caught.value
    assert error.field == "signature.rsa-example.org.private-key"
    assert error.value == "" and "PRIVATE KEY" not in str(error.body)
    assert error.message == "The signature.rsa-example.org.private-key is already in use."


def test_other_already_exists_errors_keep_their_value():
    error = errors.management_error(
        {"error": "fieldAlreadyExists", "field": "name", "value": "jane"}, operation="POST /api/principal"
    )
    assert error.value == "jane" and "jane" in error.message


def test_dkim_record_parsing_is_lenient():
    assert DnsRecord("TXT", "x._domainkey.a.", "v=DKIM1; p=AAAA").dkim.algorithm == "rsa"  # k= defaults to rsa
    assert DnsRecord("TXT", "x._domainkey.a.", "v=DKIM1; k=rsa; p=!!").dkim.key_bits is None
    assert DnsRecord("TXT", "a.", "v=spf1 -all").dkim is None
    assert DnsRecord("CNAME", "x._domainkey.a.", "v=DKIM1").dkim is None
    with pytest.raises(errors.StalwartBadResponse):
        DnsRecord.from_api({"type": "TXT", "name": 1, "content": ""})
