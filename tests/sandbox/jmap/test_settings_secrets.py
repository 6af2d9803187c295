"""Secrets of 0.16 settings objects read back as "****", at any depth: plain secret strings and
the `x:Secret*` wrappers inside objects (`{"@type": "Value", "secret": "****"}`)."""

from __future__ import annotations


def test_a_secret_inside_a_wrapper_reads_back_masked(v16):
    created = v16.call(
        "admin",
        "x:DnsServer/set",
        {
            "create": {
                "d": {
                    "@type": "Autodns",
                    "username": "dns-admin",
                    "description": "Test DNS",
                    "context": 1,
                    "password": {"@type": "Value", "secret": "s3cr3t-Value"},
                }
            }
        },
    )
    new_id = (created[1].get("created") or {}).get("d", {}).get("id")
    assert new_id, created[1]
    got = v16.call("admin", "x:DnsServer/get", {"ids": [new_id]})[1]
    (item,) = got["list"]
    assert item["password"] == {"@type": "Value", "secret": "****"}
    assert "s3cr3t-Value" not in str(got)
