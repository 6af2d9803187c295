"""Typed directory writes: what a new principal holds (`NewPrincipal`) and what an edit
changes (`PrincipalChange`).

Views, forms and the CSV import build them from the submitted form data; the diff between
what was loaded and what was submitted is generation-neutral. Each backend maps them to its
wire once: the REST backend to `/api/principal` bodies and PATCH operations
(`principal_ops`), the 0.16 backend to x:Account/x:MailingList/... PatchObjects
(`jmap.principals`). Field names are the portal's (`Principal`'s), not Stalwart's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields

#: A storage quota in bytes, or for a tenant the <= 0.15 list (storage, then counts per type).
Quota = int | tuple[int, ...]

#: The set-like fields of a principal, changed item by item (`ListChange`).
LIST_FIELDS = (
    "member_of",
    "lists",
    "roles",
    "members",
    "enabled_permissions",
    "disabled_permissions",
    "urls",
    "external_members",
)


@dataclass(frozen=True, slots=True)
class ListChange:
    """Items added to and removed from a set-like field (memberships, roles, permissions...)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)

    @classmethod
    def between(cls, old: Iterable[str], new: Iterable[str]) -> ListChange:
        """What turns `old` into `new`: removals in the old order, additions in the new one."""
        before, after = list(old), list(dict.fromkeys(new))
        old_set, new_set = set(before), set(after)
        return cls(
            added=tuple(value for value in after if value not in old_set),
            removed=tuple(dict.fromkeys(value for value in before if value not in new_set)),
        )

    def applied(self, before: Iterable[str]) -> list[str]:
        """`before` with this change made (order kept, additions at the end)."""
        removed = set(self.removed)
        values = [value for value in dict.fromkeys(before) if value not in removed]
        return values + [value for value in self.added if value not in values]


@dataclass(frozen=True, slots=True)
class Reorder:
    """An ordered field's whole new value beside the old one (e-mail addresses: the first one
    is the primary address)."""

    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PasswordReset:
    """Set a new password, keeping app passwords and two-factor secrets.

    `secret` is the password's hash. `single_password`: the server keeps one password per
    principal (`Capabilities.single_password_secrets`, 0.14+), which decides how <= 0.15
    replaces it."""

    secret: str = field(repr=False)
    single_password: bool = True


@dataclass(frozen=True, slots=True)
class NewPrincipal:
    """A principal to create. `secret` is a password hash (accounts) or an API key's hash."""

    type: str
    name: str
    description: str = ""
    emails: tuple[str, ...] = ()
    secret: str = field(default="", repr=False)
    quota: Quota | None = None
    roles: tuple[str, ...] = ()
    member_of: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    external_members: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    enabled_permissions: tuple[str, ...] = ()
    disabled_permissions: tuple[str, ...] = ()
    tenant: str = ""
    picture: str = ""


@dataclass(frozen=True, slots=True)
class PrincipalChange:
    """What an edit changes; `None` and empty `ListChange`s leave a field alone.

    `name` renames; `emails` is the new ordered address list (first = primary); `password`
    resets the password; `sign_in` allows (True) or stops (False) every sign-in."""

    name: str | None = None
    description: str | None = None
    tenant: str | None = None
    picture: str | None = None
    quota: Quota | None = None
    emails: Reorder | None = None
    member_of: ListChange = ListChange()
    lists: ListChange = ListChange()
    roles: ListChange = ListChange()
    members: ListChange = ListChange()
    enabled_permissions: ListChange = ListChange()
    disabled_permissions: ListChange = ListChange()
    urls: ListChange = ListChange()
    external_members: ListChange = ListChange()
    password: PasswordReset | None = None
    sign_in: bool | None = None

    def __bool__(self) -> bool:
        return any(
            bool(value) if isinstance(value, ListChange) else value is not None
            for value in (getattr(self, item.name) for item in fields(self))
        )

    def lists_of(self) -> dict[str, ListChange]:
        """The set-like fields that change."""
        return {name: getattr(self, name) for name in LIST_FIELDS if getattr(self, name)}

    def lines(self) -> list[tuple[str, str, str]]:
        """(verb, field, value) per change, for a preview: verb is "set", "add", "remove" or
        "order"; the password's value is never shown."""
        found: list[tuple[str, str, str]] = []
        for name in ("name", "description", "tenant", "picture"):
            value = getattr(self, name)
            if value is not None:
                found.append(("set", name, value))
        if self.quota is not None:
            quota = self.quota if isinstance(self.quota, int) else ", ".join(str(v) for v in self.quota)
            found.append(("set", "quota", str(quota)))
        if self.emails is not None:
            change = ListChange.between(self.emails.before, self.emails.after)
            found += [("remove", "emails", value) for value in change.removed]
            found += [("add", "emails", value) for value in change.added]
            if not change and self.emails.after:
                found.append(("order", "emails", self.emails.after[0]))
        for name, change in self.lists_of().items():
            found += [("remove", name, value) for value in change.removed]
            found += [("add", name, value) for value in change.added]
        if self.password is not None:
            found.append(("set", "password", ""))
        if self.sign_in is not None:
            found.append(("set", "sign_in", "on" if self.sign_in else "off"))
        return found

    def count(self) -> int:
        """How many things change (for "saved (N changes)")."""
        return len(self.lines())


def as_tuple(values: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(str(value) for value in values or () if value)
