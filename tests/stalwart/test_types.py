import base64

import pytest

from portal.stalwart import errors
from portal.stalwart.types import AppPassword, Principal, page_from_api

V011 = {
    "id": 90,
    "type": "individual",
    "name": "jane",
    "description": "Jane Doe",
    "secrets": "$6$salt$hash",
    "emails": "jane@example.org",
    "quota": 1024,
    "usedQuota": 512,
    "roles": ["user"],
    "lists": ["all"],
}
V012 = {**V011, "secrets": ["$6$salt$hash"], "emails": ["jane@example.org"]}


@pytest.mark.parametrize("data", [V011, V012])
def test_single_string_and_array_forms_read_the_same(data):
    principal = Principal.from_api(data)
    assert principal.emails == ("jane@example.org",)
    assert principal.secrets.has_password is True
    assert principal.quota_percent == 50


def test_empty_v012_arrays_and_missing_v011_fields():
    assert Principal.from_api({"id": 1, "type": "individual", "name": "x", "secrets": [], "emails": []}).emails == ()
    assert Principal.from_api({"id": 1, "type": "individual"}).emails == ()


def test_domain_and_tenant_members_are_counts():
    assert Principal.from_api({"id": 2, "type": "domain", "name": "example.org", "members": 12}).total_members == 12
    group = Principal.from_api({"id": 3, "type": "group", "name": "sales", "members": ["a", "b"]})
    assert group.member_count is None and group.total_members == 2


def test_tenant_quota_array():
    tenant = Principal.from_api({"id": 4, "type": "tenant", "name": "acme", "quota": [5000, 2, 2, 0]})
    assert tenant.quota == 5000 and tenant.quota_limits == (5000, 2, 2, 0)


def test_secrets_are_summarised_never_kept():
    name = base64.b64encode(b"Phone$2026-11-20T10:00:00Z").decode()
    principal = Principal.from_api(
        {
            "id": 5,
            "type": "individual",
            "name": "x",
            "secrets": ["otpauth://totp/x?secret=ABC", f"$app${name}$$6$s$h", "$app$notbase64!$$6$s$h", "$6$salt$hash"],
        }
    )
    summary = principal.secrets
    assert summary.otp_enabled and summary.has_password
    assert [p.label for p in summary.app_passwords] == ["Phone", "notbase64!"]
    assert summary.app_passwords[0].created is not None and summary.app_passwords[1].created is None
    assert "$6$" not in repr(principal)


def test_app_password_name_fallback():
    assert AppPassword.from_raw_name("plain-name").label == "plain-name"


@pytest.mark.parametrize("bad", [None, [], {"type": 5}, {"name": "no type"}])
def test_unexpected_principal_shape(bad):
    with pytest.raises(errors.StalwartBadResponse):
        Principal.from_api(bad)


def test_unexpected_field_type():
    with pytest.raises(errors.StalwartBadResponse):
        Principal.from_api({"id": 1, "type": "individual", "emails": 42})


def test_page_shape():
    page = page_from_api({"items": [{"id": 1, "type": "group", "name": "g"}], "total": 7}, Principal.from_api)
    assert page.total == 7 and page.items[0].name == "g"
    with pytest.raises(errors.StalwartBadResponse):
        page_from_api({"total": 1}, Principal.from_api)


def test_a_parsed_principal_is_the_one_the_class_makes():
    """`from_api` fills the slots itself: the result must equal, hash and freeze like `Principal(...)`."""
    import dataclasses

    parsed = Principal.from_api({**V012, "memberOf": ["sales"], "tenant": "acme", "members": 3})
    made = Principal(**{field.name: getattr(parsed, field.name) for field in dataclasses.fields(Principal)})
    assert parsed == made and hash(parsed) == hash(made) and repr(parsed) == repr(made)
    assert (parsed.name, parsed.member_of, parsed.tenant, parsed.member_count) == ("jane", ("sales",), "acme", 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.name = "someone else"  # type: ignore[misc]
    from portal.stalwart.types import build_principal

    with pytest.raises(ValueError):  # every field must be given, in order
        build_principal(1, "individual", "short")
