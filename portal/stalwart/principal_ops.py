"""The REST wire of directory writes (<= 0.15): `/api/principal` bodies and PATCH operations.

Stalwart applies a PATCH's operations in order and atomically. Two of its quirks shape this
module (api-behaviour §5.5):

* `set` on memberOf, lists or roles replaces *all* memberships of the principal, whatever the
  field; list fields therefore always change one item at a time with `addItem`/`removeItem`;
* `set` on secrets replaces every secret (app passwords and TOTP included), so a password
  reset is its own pair of operations (`password_reset_ops`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .changes_types import NewPrincipal, PasswordReset, PrincipalChange, Quota

Op = dict[str, Any]

#: The portal's field name -> Stalwart's, for the set-like fields in the order they are sent.
REST_LIST_FIELDS = {
    "member_of": "memberOf",
    "lists": "lists",
    "roles": "roles",
    "members": "members",
    "enabled_permissions": "enabledPermissions",
    "disabled_permissions": "disabledPermissions",
    "urls": "urls",
    "external_members": "externalMembers",
}


def _op(action: str, field: str, value: Any) -> Op:
    return {"action": action, "field": field, "value": value}


def _quota(quota: Quota) -> int | list[int]:
    return quota if isinstance(quota, int) else list(quota)


def ordered_ops(field: str, old: Sequence[str], new: Sequence[str]) -> list[Op]:
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


def password_reset_ops(reset: PasswordReset) -> list[Op]:
    """Replace the password, keeping app passwords and TOTP.

    Up to Stalwart 0.13, `removeItem ""` removes every plain password and nothing else, and
    `addItem` adds the new one. From 0.14 on (`single_password`) a principal has one
    password: `addItem` replaces it, while `removeItem ""` would remove the app passwords and
    TOTP secrets, so only `addItem` is sent.
    """
    if reset.single_password:
        return [_op("addItem", "secrets", reset.secret)]
    return [_op("removeItem", "secrets", ""), _op("addItem", "secrets", reset.secret)]


def sign_in_ops(enabled: bool) -> list[Op]:
    """Stalwart has no "disabled" flag: denying `authenticate` stops every sign-in."""
    if enabled:
        return [_op("removeItem", "disabledPermissions", "authenticate")]
    return [_op("addItem", "disabledPermissions", "authenticate")]


def update_ops(change: PrincipalChange) -> list[Op]:
    """The PATCH operations of `change`: scalars with `set`, every list item by item."""
    ops: list[Op] = []
    for field in ("name", "description", "tenant", "picture"):
        value = getattr(change, field)
        if value is not None:
            ops.append(_op("set", field, value))
    if change.quota is not None:
        ops.append(_op("set", "quota", _quota(change.quota)))
    if change.emails is not None:
        ops += ordered_ops("emails", change.emails.before, change.emails.after)
    for field, wire in REST_LIST_FIELDS.items():
        items = getattr(change, field)
        ops += [_op("removeItem", wire, value) for value in items.removed]
        ops += [_op("addItem", wire, value) for value in items.added]
    if change.password is not None:
        ops += password_reset_ops(change.password)
    if change.sign_in is not None:
        ops += sign_in_ops(change.sign_in)
    return ops


def create_body(principal: NewPrincipal) -> dict[str, Any]:
    """The `POST /api/principal` body: the fields that hold something, in Stalwart's names."""
    body: dict[str, Any] = {"type": principal.type, "name": principal.name}
    for field, value in (
        ("description", principal.description),
        ("tenant", principal.tenant),
        ("picture", principal.picture),
    ):
        if value:
            body[field] = value
    if principal.emails:
        body["emails"] = list(principal.emails)
    if principal.quota is not None:
        body["quota"] = _quota(principal.quota)
    for field, wire in REST_LIST_FIELDS.items():
        values = getattr(principal, field)
        if values:
            body[wire] = list(values)
    if principal.secret:
        body["secrets"] = [principal.secret]
    return body
