import itertools

import pytest

from portal.directory.changes import password_change, principal_change, sign_in_change
from portal.stalwart.changes_types import PasswordReset
from portal.stalwart.principal_ops import update_ops


def principal_diff(principal_type, old, new):
    """The REST PATCH of the typed change between `old` and `new`."""
    return update_ops(principal_change(principal_type, old, new))


def password_reset_ops(secret, *, single_password=False):
    return update_ops(password_change(secret, single_password=single_password))


def sign_in_ops(enabled):
    return update_ops(sign_in_change(enabled))


def apply(old, ops):
    """Stalwart's addItem/removeItem semantics for plain list fields."""
    result = {key: list(value) if isinstance(value, list) else value for key, value in old.items()}
    for op in ops:
        field, value = op["field"], op["value"]
        if op["action"] == "set":
            result[field] = value
        elif op["action"] == "addItem":
            result.setdefault(field, [])
            if value not in result[field]:
                result[field].append(value)
        elif op["action"] == "removeItem":
            result[field] = [item for item in result.get(field, []) if item != value]
    return result


def test_list_fields_never_use_set():
    old = {"memberOf": ["sales", "support"], "roles": ["user"], "lists": ["all"]}
    new = {"memberOf": ["support", "finance"], "roles": ["user", "helpdesk"], "lists": []}
    ops = principal_diff("individual", old, new)
    assert all(op["action"] != "set" for op in ops)
    assert {(op["action"], op["field"], op["value"]) for op in ops} == {
        ("removeItem", "memberOf", "sales"),
        ("addItem", "memberOf", "finance"),
        ("addItem", "roles", "helpdesk"),
        ("removeItem", "lists", "all"),
    }


def test_secrets_are_never_diffed():
    ops = principal_diff("individual", {"secrets": ["$6$a"]}, {"secrets": [], "description": "x"})
    assert all(op["field"] != "secrets" for op in ops)


def test_unchanged_gives_nothing():
    old = {"name": "jane", "description": "Jane", "emails": ["a@x.org", "b@x.org"], "quota": 5, "roles": ["user"]}
    assert principal_diff("individual", old, dict(old)) == []


def test_scalars_use_set_and_empty_clears():
    ops = principal_diff("individual", {"name": "jane", "description": "Jane"}, {"name": "jane.doe", "description": ""})
    assert ops == [
        {"action": "set", "field": "name", "value": "jane.doe"},
        {"action": "set", "field": "description", "value": ""},
    ]


def test_quota_only_for_types_that_have_one():
    assert principal_diff("individual", {"quota": 0}, {"quota": 1024}) == [
        {"action": "set", "field": "quota", "value": 1024}
    ]
    assert principal_diff("domain", {}, {"quota": 1024}) == []
    assert principal_diff("tenant", {"quota": [0]}, {"quota": [10, 2]})[0]["value"] == [10, 2]


@pytest.mark.parametrize(
    "old_new",
    list(itertools.product([["a"], ["a", "b"], ["b", "a"], ["a", "b", "c"], []], repeat=2)),
)
def test_emails_reach_the_exact_order(old_new):
    old, new = old_new
    ops = principal_diff("individual", {"emails": old}, {"emails": new})
    assert apply({"emails": old}, ops)["emails"] == new
    assert all(op["action"] in {"addItem", "removeItem"} for op in ops)


def test_changing_the_primary_address_keeps_the_rest():
    ops = principal_diff(
        "individual", {"emails": ["old@x.org", "alias@x.org"]}, {"emails": ["alias@x.org", "old@x.org"]}
    )
    assert apply({"emails": ["old@x.org", "alias@x.org"]}, ops)["emails"] == ["alias@x.org", "old@x.org"]
    assert len(ops) == 2


def test_password_reset_keeps_app_passwords_and_totp():
    assert password_reset_ops("$6$new") == [
        {"action": "removeItem", "field": "secrets", "value": ""},
        {"action": "addItem", "field": "secrets", "value": "$6$new"},
    ]


def test_password_reset_on_0_14_and_later_only_adds():
    assert password_reset_ops("$6$new", single_password=True) == [
        {"action": "addItem", "field": "secrets", "value": "$6$new"}
    ]


def test_a_password_never_shows_in_the_change():
    change = password_change("$6$secret-hash", single_password=True)
    assert "secret-hash" not in repr(change)
    assert change.lines() == [("set", "password", "")]
    assert repr(PasswordReset("$6$x")).count("$6$x") == 0


def test_sign_in_switch():
    assert sign_in_ops(False) == [{"action": "addItem", "field": "disabledPermissions", "value": "authenticate"}]
    assert sign_in_ops(True)[0]["action"] == "removeItem"


# --- the typed models and their two wires -------------------------------------------------
def test_rest_ops_of_a_typed_change_keep_the_quirks():
    from portal.stalwart.changes_types import ListChange, PrincipalChange, Reorder

    change = PrincipalChange(
        description="",
        quota=(10, 2),
        emails=Reorder(before=("a@x.org", "b@x.org"), after=("b@x.org", "a@x.org")),
        lists=ListChange(added=("news",), removed=("all",)),
        roles=ListChange(added=("helpdesk",)),
        password=PasswordReset("$6$new", single_password=False),
        sign_in=False,
    )
    assert update_ops(change) == [
        {"action": "set", "field": "description", "value": ""},
        {"action": "set", "field": "quota", "value": [10, 2]},
        {"action": "removeItem", "field": "emails", "value": "a@x.org"},
        {"action": "addItem", "field": "emails", "value": "a@x.org"},
        {"action": "removeItem", "field": "lists", "value": "all"},
        {"action": "addItem", "field": "lists", "value": "news"},
        {"action": "addItem", "field": "roles", "value": "helpdesk"},
        {"action": "removeItem", "field": "secrets", "value": ""},
        {"action": "addItem", "field": "secrets", "value": "$6$new"},
        {"action": "addItem", "field": "disabledPermissions", "value": "authenticate"},
    ]
    assert not PrincipalChange() and update_ops(PrincipalChange()) == []


def test_rest_create_body_holds_only_what_is_set():
    from portal.directory.changes import new_principal
    from portal.stalwart.principal_ops import create_body

    values = {"name": "jane", "description": "", "emails": ["jane@x.org"], "memberOf": [], "lists": ["all"], "quota": 0}
    body = create_body(new_principal("individual", values, secret="$6$hash"))
    assert body == {
        "type": "individual",
        "name": "jane",
        "emails": ["jane@x.org"],
        "quota": 0,
        "lists": ["all"],
        "secrets": ["$6$hash"],
    }


def test_the_diff_is_generation_neutral_and_typed():
    change = principal_change(
        "individual",
        {"lists": ["all", "news"], "emails": ["a@x.org"], "quota": 5},
        {"lists": ["news", "eng"], "emails": ["a@x.org"], "quota": 5},
    )
    assert change.lists.added == ("eng",) and change.lists.removed == ("all",)
    assert change.emails is None and change.quota is None
    assert change.lines() == [("remove", "lists", "all"), ("add", "lists", "eng")]
    assert change.count() == 2


def test_the_jmap_list_patch_joins_and_leaves_by_json_pointer():
    from portal.stalwart.changes_types import ListChange
    from portal.stalwart.jmap.principals import JmapPrincipals, Names

    names = Names(
        {},
        {},
        {},
        {},
        lists={"l1": "all@x.org", "l2": "news@x.org", "l3": "a/b@x.org"},
        recipients={"l1": frozenset({"jane@x.org", "old@x.org"}), "l2": frozenset(), "l3": frozenset()},
    )
    patch = JmapPrincipals._list_patch(
        JmapPrincipals.__new__(JmapPrincipals),
        names,
        "Jane@x.org",
        ListChange(added=("news@x.org", "a/b@x.org"), removed=("all",)),
        known=("old@x.org",),
    )
    assert patch == {
        "l2": {"recipients/jane@x.org": True},
        "l3": {"recipients/jane@x.org": True},
        "l1": {"recipients/jane@x.org": None, "recipients/old@x.org": None},
    }
