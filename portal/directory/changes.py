"""The PATCH a principal edit sends: a diff between what was loaded and what was submitted.

Stalwart applies the operations in order and atomically. Two of its quirks
shape this module (api-behaviour §5.5):

* `set` on memberOf, lists or roles replaces *all* memberships of the
  principal, whatever the field; list fields therefore always change one item
  at a time with `addItem`/`removeItem`;
* `set` on secrets replaces every secret (app passwords and TOTP included), so
  secrets are never part of the diff: a password reset is its own operation
  (`password_reset_ops`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Fields sent with `set`.
SCALAR_FIELDS = ("name", "description", "tenant", "picture")
# Fields changed item by item; order matters only for e-mails (the first one is
# the primary address).
LIST_FIELDS = (
    "emails",
    "memberOf",
    "lists",
    "roles",
    "members",
    "enabledPermissions",
    "disabledPermissions",
    "urls",
    "externalMembers",
)
QUOTA_TYPES = {"individual", "group", "tenant"}

Op = dict[str, Any]


def _op(action: str, field: str, value: Any) -> Op:
    return {"action": action, "field": field, "value": value}


def _unordered(field: str, old: Sequence[str], new: Sequence[str]) -> list[Op]:
    old_set, new_set = set(old), set(new)
    ops = [_op("removeItem", field, value) for value in old if value not in new_set]
    ops += [_op("addItem", field, value) for value in dict.fromkeys(new) if value not in old_set]
    return ops


def _ordered(field: str, old: Sequence[str], new: Sequence[str]) -> list[Op]:
    """Reach exactly `new` (in order) with removals and appends only."""
    new = list(dict.fromkeys(new))
    new_set = set(new)
    kept = [value for value in old if value in new_set]
    # The longest start of `new` that the kept items already hold in order
    # stays; everything after it is removed (if present) and appended anew.
    prefix, position = 0, 0
    while prefix < len(new):
        try:
            position = kept.index(new[prefix], position) + 1
        except ValueError:
            break
        prefix += 1
    staying = set(new[:prefix])
    ops = [_op("removeItem", field, value) for value in old if value not in new_set]
    ops += [_op("removeItem", field, value) for value in kept if value not in staying]
    ops += [_op("addItem", field, value) for value in new[prefix:]]
    return ops


def principal_diff(principal_type: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Op]:
    """Operations that turn `old` into `new`; fields absent from `new` are left alone.

    Both mappings use Stalwart's field names; list fields are sequences of
    strings, `quota` an integer (or a list of integers for tenants).
    """
    ops: list[Op] = []
    for field in SCALAR_FIELDS:
        if field in new and (new[field] or "") != (old.get(field) or ""):
            ops.append(_op("set", field, new[field] or ""))
    if "quota" in new and principal_type in QUOTA_TYPES and new["quota"] != old.get("quota"):
        ops.append(_op("set", "quota", new["quota"]))
    for field in LIST_FIELDS:
        if field not in new:
            continue
        before, after = list(old.get(field) or ()), list(new[field] or ())
        ops += _ordered(field, before, after) if field == "emails" else _unordered(field, before, after)
    return ops


def password_reset_ops(secret: str, *, single_password: bool = False) -> list[Op]:
    """Replace the password, keeping app passwords and TOTP.

    Up to Stalwart 0.13, `removeItem ""` removes every plain password and nothing else, and
    `addItem` adds the new one. From 0.14 on (`Capabilities.single_password_secrets`) a
    principal has one password: `addItem` replaces it, while `removeItem ""` would remove the
    app passwords and TOTP secrets, so only `addItem` is sent.
    """
    if single_password:
        return [_op("addItem", "secrets", secret)]
    return [_op("removeItem", "secrets", ""), _op("addItem", "secrets", secret)]


def sign_in_ops(enabled: bool) -> list[Op]:
    """Stalwart has no "disabled" flag: denying `authenticate` stops every sign-in."""
    if enabled:
        return [_op("removeItem", "disabledPermissions", "authenticate")]
    return [_op("addItem", "disabledPermissions", "authenticate")]
