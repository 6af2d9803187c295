"""What a directory form or CSV row writes, as the typed changes of `portal.stalwart.changes_types`.

`principal_change` is the diff between what an edit form loaded and what was submitted;
`new_principal` the principal a create form describes. Both take the forms' values (keyed by
Stalwart's <= 0.15 field names, the forms' own vocabulary) and stay generation-neutral: how a
change reaches the server is the backend's business (`portal.stalwart.principal_ops` for
<= 0.15, `portal.stalwart.jmap.principals` for 0.16). Secrets are never part of the diff: a
password reset is its own `PasswordReset`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.stalwart.changes_types import (
    ListChange,
    NewPrincipal,
    PasswordReset,
    PrincipalChange,
    Quota,
    Reorder,
)

SCALAR_FIELDS = ("name", "description", "tenant", "picture")
QUOTA_TYPES = {"individual", "group", "tenant"}


def _quota(value: Any) -> Quota:
    if isinstance(value, (list, tuple)):
        return tuple(int(item or 0) for item in value)
    return int(value or 0)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value or () if item)


def principal_change(
    principal_type: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    password: PasswordReset | None = None,
) -> PrincipalChange:
    """What turns `old` into `new`; fields absent from `new` are left alone.

    List fields are sequences of strings, `quota` an integer (or a list of integers for
    tenants; only accounts, groups and tenants have one)."""
    scalars: dict[str, str | None] = {}
    for field in SCALAR_FIELDS:
        if field in new and (new[field] or "") != (old.get(field) or ""):
            scalars[field] = str(new[field] or "")
    quota: Quota | None = None
    if "quota" in new and principal_type in QUOTA_TYPES and new["quota"] != old.get("quota"):
        quota = _quota(new["quota"])
    emails: Reorder | None = None
    if "emails" in new:
        before, after = _strings(old.get("emails")), tuple(dict.fromkeys(_strings(new["emails"])))
        if before != after:
            emails = Reorder(before=before, after=after)

    def items(field: str) -> ListChange:
        if field not in new:
            return ListChange()
        return ListChange.between(_strings(old.get(field)), _strings(new[field]))

    return PrincipalChange(
        name=scalars.get("name"),
        description=scalars.get("description"),
        tenant=scalars.get("tenant"),
        picture=scalars.get("picture"),
        quota=quota,
        emails=emails,
        member_of=items("memberOf"),
        lists=items("lists"),
        roles=items("roles"),
        members=items("members"),
        enabled_permissions=items("enabledPermissions"),
        disabled_permissions=items("disabledPermissions"),
        urls=items("urls"),
        external_members=items("externalMembers"),
        password=password,
    )


def new_principal(principal_type: str, values: Mapping[str, Any], *, secret: str = "") -> NewPrincipal:
    """The principal a create form (or CSV row) describes; empty fields are left out."""
    quota = values.get("quota")
    return NewPrincipal(
        type=principal_type,
        name=str(values.get("name") or ""),
        description=str(values.get("description") or ""),
        emails=_strings(values.get("emails")),
        secret=secret,
        quota=None if quota is None else _quota(quota),
        tenant=str(values.get("tenant") or ""),
        picture=str(values.get("picture") or ""),
        member_of=_strings(values.get("memberOf")),
        lists=_strings(values.get("lists")),
        roles=_strings(values.get("roles")),
        members=_strings(values.get("members")),
        enabled_permissions=_strings(values.get("enabledPermissions")),
        disabled_permissions=_strings(values.get("disabledPermissions")),
        urls=_strings(values.get("urls")),
        external_members=_strings(values.get("externalMembers")),
    )


def sign_in_change(enabled: bool) -> PrincipalChange:
    """Allow or stop every sign-in of an account (mail still arrives)."""
    return PrincipalChange(sign_in=enabled)


def password_change(secret: str, *, single_password: bool) -> PrincipalChange:
    """A new password (its hash), keeping app passwords and two-factor."""
    return PrincipalChange(password=PasswordReset(secret=secret, single_password=single_password))
