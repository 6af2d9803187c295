"""The directory on Stalwart 0.16+: the `principals` area over JMAP `x:` objects.

The portal's principal types map to objects (v0.16 objects.md, rest-to-jmap.md):

| portal type   | object          | name in the portal (URLs, lists)        |
|---------------|-----------------|-----------------------------------------|
| `individual`  | `x:Account` User  | its e-mail address (`emailAddress`)   |
| `group`       | `x:Account` Group | its e-mail address                    |
| `list`        | `x:MailingList` | its e-mail address                      |
| `domain`      | `x:Domain`      | `name`                                  |
| `tenant`      | `x:Tenant`      | `name`                                  |
| `role`        | `x:Role`        | `description` (roles have no name)      |
| `oauthClient` | `x:OAuthClient` | `clientId`                              |

Resources, locations, "other" principals and API keys as principals do not exist on 0.16
(API keys are credentials of one's own account). Results are the same `Principal` and `Page`
values the REST area returns; a list page is one request (query and get by back-reference,
with the domains, groups, roles and tenants its rows name fetched alongside), and one more on
a server with more of those than one `/get` returns (`Names.partial`).
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from django.utils.translation import gettext

from .. import errors
from ..changes_types import ListChange, NewPrincipal, PrincipalChange, Quota
from ..types import NO_SECRETS, Page, Principal, SecretsSummary, build_principal
from . import lookup, permissions
from .account import account_credentials
from .client import Call, JmapClient, Results, patch, pointer, ref, set_error
from .ids import id_number
from .wire import entries as _entries
from .wire import obj as _obj


@dataclass(frozen=True, slots=True)
class Spec:
    type: str
    obj: str
    variant: str | None  # @type filter of x:Account
    label: str  # the property the portal uses as the name
    sort: str  # the sort key for name order ("" when the object sorts by id only)
    text: str  # the filter key for a search
    read_only: tuple[str, ...] = ("createdAt", "emailAddress", "usedDiskQuota")


SPECS: dict[str, Spec] = {
    "individual": Spec("individual", "Account", "User", "emailAddress", "name", "text"),
    "group": Spec("group", "Account", "Group", "emailAddress", "name", "text"),
    "list": Spec("list", "MailingList", None, "emailAddress", "", "text"),
    "domain": Spec("domain", "Domain", None, "name", "name", "text"),
    "tenant": Spec("tenant", "Tenant", None, "name", "", "text"),
    "role": Spec("role", "Role", None, "description", "", "description"),
    "oauthClient": Spec("oauthClient", "OAuthClient", None, "clientId", "clientId", "text"),
}

log = logging.getLogger("portal.stalwart")

#: Position in the portal's tenant quota list (<= 0.15: storage, then per principal type) ->
#: the x:Tenant quota (enum TenantStorageQuota).
TENANT_QUOTAS = {
    0: "maxDiskQuota",
    1: "maxAccounts",
    2: "maxGroups",
    6: "maxMailingLists",
    8: "maxDomains",
    10: "maxRoles",
}

#: JMAP property -> the portal's principal field, for errors next to the right form field.
FIELD_MAP = {
    "name": "name",
    "emailAddress": "name",
    "domainId": "name",
    "clientId": "name",
    "description": "description",
    "secret": "secrets",
    "credentials": "secrets",
    "aliases": "emails",
    "quotas": "quota",
    "memberGroupIds": "memberOf",
    "roles": "roles",
    "roleIds": "roles",
    "memberTenantId": "tenant",
    "recipients": "externalMembers",
    "redirectUris": "urls",
    "contacts": "emails",
}


#: Errors of a mailing list's recipients, when an account joins or leaves it.
LIST_FIELD_MAP = {"recipients": "lists", "emailAddress": "lists"}

#: A list's `fields` (the portal's principal fields) -> the x:Account properties `to_principal`
#: reads them from. A list asking for fields reads only those properties, as `fields=` does on
#: <= 0.15; `members` and `lists` come from other objects (never read by a list).
ACCOUNT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "name": (),
    "description": ("description",),
    "emails": ("aliases",),
    "quota": ("quotas",),
    "usedQuota": ("usedDiskQuota",),
    "memberOf": ("memberGroupIds",),
    "roles": ("roles",),
    "enabledPermissions": ("permissions",),
    "disabledPermissions": ("permissions",),
    "tenant": (),
    "secrets": ("credentials",),
    "members": (),
    "lists": (),
}
#: Read whatever the fields: the kind, the name and the tenant (which also tells an
#: administrator of a tenant from one of the whole server).
ACCOUNT_ALWAYS = ("@type", "emailAddress", "memberTenantId")


def _storage(quota: Quota | None) -> int:
    """The storage part of a quota (a tenant's list starts with it)."""
    if quota is None:
        return 0
    return quota if isinstance(quota, int) else (quota[0] if quota else 0)


def _wire_quota(quota: Quota | None) -> int | builtins.list[int]:
    if quota is None:
        return 0
    return quota if isinstance(quota, int) else list(quota)


def spec_for(principal_type: str) -> Spec:
    spec = SPECS.get(principal_type)
    if spec is None:
        raise errors.Unsupported(
            gettext("Stalwart 0.16 has no %(type)s principals.") % {"type": principal_type},
            body={"error": "unsupported", "details": principal_type},
        )
    return spec


def _keys(value: Any) -> tuple[str, ...]:
    """A JMAP set (`{"a": true}`) as a tuple of its members."""
    if isinstance(value, dict):
        return tuple(str(key) for key, on in value.items() if on)
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return ()


@dataclass(slots=True)
class Names:
    """Names of the objects a principal refers to by id; `lists` and `recipients` (read only
    where needed: a mailing list's address and recipients by id) say which lists an account
    is in, since 0.16 keeps that on the list (`x:MailingList.recipients`)."""

    domains: dict[str, str]
    groups: dict[str, str]
    roles: dict[str, str]
    tenants: dict[str, str]
    lists: dict[str, str] = dataclasses.field(default_factory=dict)
    recipients: dict[str, frozenset[str]] = dataclasses.field(default_factory=dict)
    #: the tables that may lack names: the server gave as many as one `/get` returns
    #: (`maxObjectsInGet`), so it may have more (`JmapPrincipals._complete`, `_named`)
    partial: frozenset[str] = frozenset()

    def lists_of(self, addresses: Iterable[str]) -> tuple[str, ...]:
        """The addresses of the lists that have one of `addresses` among their recipients."""
        wanted = {address.lower() for address in addresses if address}
        found = (self.lists[key] for key, members in self.recipients.items() if key in self.lists and members & wanted)
        return tuple(sorted(found))

    @classmethod
    def empty(cls) -> Names:
        return cls({}, {}, {}, {})


#: The tables of `Names` that can be read by id or found by name: the object and the property
#: that is its name (`x:Account` holds the groups; `_named` knows each one's `/query` filter).
TABLES: dict[str, tuple[str, str]] = {
    "domains": ("Domain", "name"),
    "groups": ("Account", "emailAddress"),
    "roles": ("Role", "description"),
    "tenants": ("Tenant", "name"),
}


def _referred(item: Mapping[str, Any]) -> dict[str, set[str]]:
    """The ids of domains, groups, roles and tenants an object names, by table."""
    found: dict[str, set[str]] = {key: set() for key in TABLES}
    aliases = item.get("aliases")
    if isinstance(aliases, (dict, list)):
        found["domains"] |= {str(alias.get("domainId")) for alias in _entries(aliases) if alias.get("domainId")}
    found["groups"] |= set(_keys(item.get("memberGroupIds")))
    roles = _obj(item.get("roles"))
    if roles.get("@type") == "Custom":
        found["roles"] |= set(_keys(roles.get("roleIds")))
    found["roles"] |= set(_keys(item.get("roleIds")))
    if tenant := item.get("memberTenantId"):
        found["tenants"].add(str(tenant))
    return found


def _domains(*addresses: str) -> set[str]:
    """The domains of these e-mail addresses."""
    return {address.rpartition("@")[2] for address in addresses if "@" in address}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@functools.cache
def _rule_names() -> frozenset[str]:
    """The portal's rule names (<= 0.15 spelling), which 0.16 permissions are translated into."""
    from portal.permissions import PERMISSIONS, version_permissions

    from .signin import VERSION

    return frozenset({*PERMISSIONS, *version_permissions(VERSION)})


def _as_rules(held: Iterable[str], *, any_of: bool) -> tuple[str, ...]:
    """0.16 permission names as the portal's rule names. For what is granted a rule name counts
    when one of the 0.16 permissions that replaced it is held (`any_of`: the rank rule errs on
    the side of "holds more"); for what is taken away, only when all of them are."""
    return _rules_of(frozenset(held), any_of)


@functools.lru_cache(maxsize=256)
def _rules_of(held: frozenset[str], any_of: bool) -> tuple[str, ...]:
    # Accounts share a handful of permission sets: a list page maps each set once.
    return tuple(sorted(permissions.as_rest(held, (), _rule_names(), any_of=any_of)))


def _granted(perms: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """An account's own `permissions` (x:Permissions: Inherit, Merge, Replace) as enabled and
    disabled rule names."""
    if perms.get("@type") not in ("Merge", "Replace"):
        return (), ()
    enabled = _as_rules(_keys(perms.get("enabledPermissions")), any_of=True)
    return enabled, _as_rules(_keys(perms.get("disabledPermissions")), any_of=False)


def _account_secrets(value: Any) -> SecretsSummary:
    """An x:Account's `credentials` (masked) as the portal's summary; NO_SECRETS without any."""
    credentials = _entries(value) if value else []
    if not credentials:
        return NO_SECRETS
    return SecretsSummary(
        has_password=any(c.get("@type") == "Password" for c in credentials),
        otp_enabled=any(c.get("@type") == "Password" and c.get("otpAuth") for c in credentials),
        app_passwords=(),
        credentials=account_credentials(value),
    )


def _role_names(roles: Mapping[str, Any], tenant_id: Any, names: Names) -> tuple[str, ...]:
    """An account's `roles` (x:UserRoles / x:GroupRoles) as the portal's role names."""
    role_type = roles.get("@type")
    if role_type == "User":
        return ("user",)
    if role_type == "Admin":
        return ("tenant-admin",) if tenant_id else ("admin",)
    if role_type == "Custom":
        return tuple(names.roles.get(rid, rid) for rid in _keys(roles.get("roleIds")))
    return ()


def _account(item: Mapping[str, Any], names: Names) -> Principal:
    # A list page maps many of these: what an account does not have costs nothing here.
    get = item.get
    tenant_id = get("memberTenantId")
    address = str(get("emailAddress") or "")
    aliases: tuple[str, ...] = ()
    if found := get("aliases"):
        domains = names.domains
        aliases = tuple(
            f"{alias.get('name')}@{domains[str(alias.get('domainId'))]}"
            for alias in _entries(found)
            if str(alias.get("domainId")) in domains and alias.get("name")
        )
    emails = (address, *aliases) if address else aliases
    perms = get("permissions")
    enabled, disabled = _granted(perms) if isinstance(perms, dict) else ((), ())
    quotas = get("quotas")
    groups = get("memberGroupIds")
    return build_principal(  # every field, in the class's order
        id_number(get("id")),
        "group" if get("@type") == "Group" else "individual",
        address,  # name
        str(get("description") or ""),
        emails,
        _int(quotas.get("maxDiskQuota")) if isinstance(quotas, dict) else 0,  # quota
        (),  # quota_limits
        _int(get("usedDiskQuota")),
        tuple(names.groups.get(gid, gid) for gid in _keys(groups)) if groups else (),  # member_of
        (),  # members
        None,  # member_count
        names.lists_of(emails) if names.recipients else (),  # lists
        _role_names(_obj(get("roles")), tenant_id, names),
        enabled,
        disabled,
        names.tenants.get(str(tenant_id), "") if tenant_id else "",  # tenant
        "",  # picture
        (),  # urls
        (),  # external_members
        _account_secrets(get("credentials")),
    )


def to_principal(spec: Spec, item: Mapping[str, Any], names: Names) -> Principal:
    if spec.obj == "Account":
        return _account(item, names)
    get = item.get
    ident = id_number(get("id"))
    tenant = names.tenants.get(str(get("memberTenantId") or ""), "")
    description = str(get("description") or "")
    if spec.obj == "MailingList":
        address = str(get("emailAddress") or "")
        return Principal(
            id=ident,
            type="list",
            name=address,
            description=description,
            emails=(address,) if address else (),
            external_members=_keys(get("recipients")),
            tenant=tenant,
        )
    if spec.obj == "OAuthClient":
        return Principal(
            id=ident,
            type="oauthClient",
            name=str(get("clientId") or ""),
            description=description,
            emails=_keys(get("contacts")),
            urls=_keys(get("redirectUris")),
            tenant=tenant,
        )
    if spec.obj == "Role":
        return Principal(
            id=ident,
            type="role",
            name=description,
            description=description,
            roles=tuple(names.roles.get(rid, rid) for rid in _keys(get("roleIds"))),
            enabled_permissions=_as_rules(_keys(get("enabledPermissions")), any_of=True),
            disabled_permissions=_as_rules(_keys(get("disabledPermissions")), any_of=False),
            tenant=tenant,
        )
    quotas = _obj(get("quotas"))
    limits: tuple[int, ...] = ()
    if spec.obj == "Tenant":
        limits = tuple(_int(quotas.get(TENANT_QUOTAS.get(i, ""))) for i in range(max(TENANT_QUOTAS) + 1))
    return Principal(
        id=ident,
        type=spec.type,
        name=str(get("name") or ""),
        description=description,
        quota=_int(quotas.get("maxDiskQuota")),
        quota_limits=limits,
        used_quota=_int(get("usedDiskQuota")),
        tenant=tenant if spec.type != "tenant" else "",
    )


def list_properties(spec: Spec, fields: Iterable[str]) -> builtins.list[str] | None:
    """The properties an x:Account list reads for these `fields` (None: all of them, also for
    no fields, a field without a mapping, or another object)."""
    wanted = builtins.list(fields)
    if spec.obj != "Account" or not wanted or any(field not in ACCOUNT_PROPERTIES for field in wanted):
        return None
    properties = dict.fromkeys(ACCOUNT_ALWAYS)
    for field in wanted:
        properties.update(dict.fromkeys(ACCOUNT_PROPERTIES[field]))
    return builtins.list(properties)


def tenant_quotas(quota: Any) -> dict[str, int]:
    """The portal's tenant quota (a number, or the <= 0.15 list: storage, then counts per
    principal type) as x:Tenant `quotas`; 0 means no limit and is left out."""
    values = quota if isinstance(quota, list) else [quota]
    quotas = {TENANT_QUOTAS[i]: _int(v) for i, v in enumerate(values) if i in TENANT_QUOTAS and _int(v)}
    return quotas


# --- permissions in the server's own names ----------------------------------------------
#: A permission name as the server's enum writes them (camelCase letters and digits).
_PERMISSION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,79}$")
CATALOGUE_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class NativePermissions:
    """What a principal is given in 0.16 permission names, and what it inherits.

    `mode` is the x:Permissions type of an account or tenant (`Inherit`, `Merge`, `Replace`),
    or `Role` for an x:Role (whose own sets always count). `inherited` is the union of its
    roles' sets (recursively, built-in roles through x:Authentication's default role ids), as
    (enabled, disabled); `unreadable` names roles that could not be read.
    """

    mode: str
    enabled: frozenset[str]
    disabled: frozenset[str]
    inherited: tuple[frozenset[str], frozenset[str]]
    unreadable: tuple[str, ...] = ()

    def effective(self, enabled: Iterable[str], disabled: Iterable[str]) -> frozenset[str]:
        """What it would hold with these own sets (crates/common/src/auth/permissions.rs:
        own and role sets are united, then the disabled ones removed; `Replace` ignores roles).
        A tenant's ceiling on its members is not applied here."""
        on, off = set(enabled), set(disabled)
        if self.mode != "Replace":
            on |= self.inherited[0]
            off |= self.inherited[1]
        return frozenset(on - off)


def _catalogue(schema: Any) -> tuple[tuple[str, str], ...]:
    entries = schema.get("enums", {}).get("Permission") if isinstance(schema, dict) else None
    if not isinstance(entries, list):
        return ()
    found = []
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if not isinstance(name, str) or not _PERMISSION_NAME.match(name):
            continue  # not a name the portal can put in a form field: left out
        label = entry.get("label") if isinstance(entry, dict) else ""
        found.append((name, str(label or "")[:200]))
    return tuple(found)


class _PermissionMixin:
    """The permission editor's calls (0.16 names), for `JmapPrincipals`."""

    _client: JmapClient

    async def permission_catalogue(self) -> tuple[tuple[str, str], ...]:
        """The server's permission enum with its labels (`/api/schema`, kept per schema hash)."""
        from django.core.cache import cache

        from ..transport import api_url, failure, json_or_none, shared_client
        from .signin import SCHEMA_PATH

        headers = {"Authorization": self._client.authorization, "Accept": "application/json"}
        operation = f"GET {SCHEMA_PATH}"
        try:
            response = await shared_client().get(api_url(SCHEMA_PATH, {}), headers=headers)
            location = response.headers.get("location", "") if response.status_code in (301, 302, 303, 307) else ""
            key = ""
            if location.startswith("/api/schema/"):
                key = "jmap-permission-catalogue:" + hashlib.sha256(location.encode()).hexdigest()[:32]
                known = await cache.aget(key)
                if isinstance(known, tuple):
                    return known
                response = await shared_client().get(api_url(location, {}), headers=headers)
        except httpx.HTTPError as exc:
            raise failure(exc, operation) from exc
        if response.status_code >= 300:
            raise errors.status_error(response.status_code, json_or_none(response), operation=operation)
        catalogue = _catalogue(json_or_none(response))
        if key and catalogue:
            await cache.aset(key, catalogue, timeout=CATALOGUE_SECONDS)
        return catalogue

    async def own_permissions(self) -> frozenset[str]:
        """What the signed-in person holds, in 0.16 names (`GET /api/account`)."""
        data = await self._client._http("GET", "/api/account")
        held = data.get("permissions")
        return frozenset(str(name) for name in held) if isinstance(held, list) else frozenset()

    async def native_permissions(self, item: Mapping[str, Any], spec: Spec) -> NativePermissions:
        """The permissions of the object `item` (an x:Account, x:Tenant or x:Role as read),
        with every role's sets and the default role ids read in one request."""
        roles_id, auth_id = self._client.next_id(), self._client.next_id()
        calls = [
            Call(
                "x:Role/get",
                {"ids": None, "properties": ["enabledPermissions", "disabledPermissions", "roleIds"]},
                roles_id,
            ),
            Call("x:Authentication/get", {"ids": ["singleton"]}, auth_id),
        ]
        results = await self._client.call(calls)
        try:
            roles = {str(r.get("id")): r for r in results[roles_id].get("list") or [] if isinstance(r, dict)}
        except errors.StalwartError:
            roles = {}
        try:
            found = results[auth_id].get("list") or []
            auth = found[0] if found and isinstance(found[0], dict) else {}
        except errors.StalwartError:
            auth = {}
        builtin = ""  # the built-in role the account has, when it has one
        if spec.obj == "Role":
            mode = "Role"
            enabled, disabled = _keys(item.get("enabledPermissions")), _keys(item.get("disabledPermissions"))
            start = list(_keys(item.get("roleIds")))
        else:
            perms = _obj(item.get("permissions"))
            mode = str(perms.get("@type") or "Inherit")
            if mode in ("Merge", "Replace"):
                enabled, disabled = _keys(perms.get("enabledPermissions")), _keys(perms.get("disabledPermissions"))
            else:
                mode, enabled, disabled = "Inherit", (), ()
            given = _obj(item.get("roles"))
            kind = given.get("@type")
            if kind == "Custom":
                start = list(_keys(given.get("roleIds")))
            elif kind == "Admin":
                default = "defaultTenantRoleIds" if item.get("memberTenantId") else "defaultAdminRoleIds"
                start, builtin = list(_keys(auth.get(default))), "admin"
            elif kind == "User":
                start, builtin = list(_keys(auth.get("defaultUserRoleIds"))), "user"
            elif spec.obj == "Account":  # a group's Default
                start, builtin = list(_keys(auth.get("defaultGroupRoleIds"))), "default"
            else:
                start = []
        on: set[str] = set()
        off: set[str] = set()
        seen: set[str] = set()
        unreadable: list[str] = []
        if builtin and not start and mode != "Replace":
            unreadable.append(builtin)  # the built-in role names no role the server lets us read
        while start:
            role_id = start.pop()
            if role_id in seen:
                continue
            seen.add(role_id)
            role = roles.get(role_id)
            if role is None:
                unreadable.append(role_id)
                continue
            on |= set(_keys(role.get("enabledPermissions")))
            off |= set(_keys(role.get("disabledPermissions")))
            start += list(_keys(role.get("roleIds")))
        return NativePermissions(
            mode=mode,
            enabled=frozenset(enabled),
            disabled=frozenset(disabled),
            inherited=(frozenset(on), frozenset(off)),
            unreadable=tuple(unreadable),
        )

    async def set_native_permissions(
        self, item: Mapping[str, Any], spec: Spec, mode: str, enabled: Iterable[str], disabled: Iterable[str]
    ) -> None:
        """Write the own sets of an account, tenant (x:Permissions; `Inherit` when both are
        empty, `Replace` kept) or role."""
        on = {name: True for name in sorted(set(enabled))}
        off = {name: True for name in sorted(set(disabled))}
        if spec.obj == "Role":
            update: dict[str, Any] = {"enabledPermissions": on, "disabledPermissions": off}
        elif not on and not off and mode != "Replace":
            update = {"permissions": {"@type": "Inherit"}}
        else:
            kind = "Replace" if mode == "Replace" else "Merge"
            update = {"permissions": {"@type": kind, "enabledPermissions": on, "disabledPermissions": off}}
        await self._client.set(spec.obj, update={str(item["id"]): update}, field_map=FIELD_MAP)


def _conditions(types: Iterable[str], filter: str) -> tuple[Spec, dict[str, Any]]:
    """The object of the first type and the `/query` filter of a search."""
    kinds = list(types) or ["individual"]
    spec = spec_for(kinds[0])
    conditions: dict[str, Any] = {}
    if spec.variant and not (spec.obj == "Account" and {"individual", "group"} <= set(kinds)):
        conditions["@type"] = spec.variant
    if filter.strip():
        conditions[spec.text] = filter.strip()
    return spec, conditions


class JmapPrincipals(_PermissionMixin):
    """`principals.list/get/create/update/delete` for a 0.16+ server (see the module's docstring)."""

    def __init__(self, client: JmapClient) -> None:
        self._client = client

    # --- reading ----------------------------------------------------------------------------
    def _lookups(
        self,
        calls: list[Call],
        *,
        domains: bool,
        accounts: bool,
        lists: bool = False,
        roles: bool = True,
        max_get: int,
    ) -> dict[str, str]:
        """Add the calls that name the objects rows refer to; returns their call ids. Each
        brings at most `max_get` names (`_complete` and `_named` fetch the others)."""
        ids: dict[str, str] = {}
        wanted: dict[str, tuple[str, builtins.list[str]]] = {}
        if roles:
            wanted["roles"] = ("Role", ["description"])
        wanted["tenants"] = ("Tenant", ["name"])
        if domains:
            wanted["domains"] = ("Domain", ["name"])
        if lists:
            wanted["lists"] = ("MailingList", ["emailAddress", "recipients"])
        if accounts:
            ids["groups_q"] = self._client.next_id()
            groups = {"filter": {"@type": "Group"}, "limit": max_get}  # more ids would be too many for one /get
            calls.append(Call("x:Account/query", groups, ids["groups_q"]))
            ids["groups"] = self._client.next_id()
            calls.append(
                Call(
                    "x:Account/get",
                    {"#ids": ref(ids["groups_q"], "x:Account/query"), "properties": ["emailAddress"]},
                    ids["groups"],
                )
            )
        for key, (obj, properties) in wanted.items():
            ids[key] = self._client.next_id()
            calls.append(Call(f"x:{obj}/get", {"ids": None, "properties": properties}, ids[key]))
        return ids

    @staticmethod
    def _names(results: Results, ids: Mapping[str, str], max_get: int) -> Names:
        partial: set[str] = set()

        def table(key: str, label: str) -> dict[str, str]:
            if key not in ids:
                return {}
            try:
                found = results[ids[key]].get("list") or []
            except (errors.Forbidden, errors.StalwartError):
                return {}  # not allowed to read those (or no Enterprise): ids stay as they are
            if len(found) >= max_get:
                partial.add(key)
            return {str(item.get("id")): str(item.get(label) or "") for item in found if isinstance(item, dict)}

        recipients: dict[str, frozenset[str]] = {}
        if "lists" in ids:
            try:
                found = results[ids["lists"]].get("list") or []
            except (errors.Forbidden, errors.StalwartError):
                found = []
            for item in found:
                if isinstance(item, dict):
                    members = frozenset(member.lower() for member in _keys(item.get("recipients")))
                    recipients[str(item.get("id"))] = members
        return Names(
            domains=table("domains", "name"),
            groups=table("groups", "emailAddress"),
            roles=table("roles", "description"),
            tenants=table("tenants", "name"),
            lists=table("lists", "emailAddress"),
            recipients=recipients,
            partial=frozenset(partial),
        )

    async def _complete(self, names: Names, items: Iterable[Mapping[str, Any]]) -> Names:
        """`names` with the domains, groups, roles and tenants `items` name that a partial
        table lacks, read by id in one more request (none when no table is partial)."""
        partial = names.partial & TABLES.keys()
        if not partial:
            return names
        wanted: dict[str, set[str]] = {key: set() for key in partial}
        for item in items:
            for key, found in _referred(item).items():
                if key in wanted:
                    wanted[key] |= found - getattr(names, key).keys()
        limits = await self._client.limits()
        gets: builtins.list[tuple[str, Call]] = []
        for key, missing in wanted.items():
            obj, label = TABLES[key]
            ordered = sorted(missing)
            for start in range(0, len(ordered), limits.max_get):
                chunk = ordered[start : start + limits.max_get]
                gets.append((key, Call(f"x:{obj}/get", {"ids": chunk, "properties": [label]}, self._client.next_id())))
        return await self._merged(names, [call for _key, call in gets], gets)

    async def _named(self, names: Names, **wanted: Iterable[str]) -> Names:
        """`names` with the objects called by the names in `wanted` (by table: `domains`,
        `groups`, `roles`, `tenants`) that a partial table lacks, found by name in one more
        request (none when no table is partial or all are known)."""
        calls: list[Call] = []
        gets: builtins.list[tuple[str, Call]] = []
        for key, labels in wanted.items():
            if key not in names.partial:
                continue
            known = {label.lower() for label in getattr(names, key).values()}
            if key == "roles":
                known |= {"user", "admin", "tenant-admin"}  # built in, not x:Role objects
            obj, label = TABLES[key]
            for name in sorted({n.lower() for n in labels if n and n.lower() not in known}):
                if key == "domains":
                    condition: dict[str, Any] = {"name": name}
                elif key == "groups":
                    condition = {"@type": "Group", "name": name.rsplit("@", 1)[0] if "@" in name else name}
                elif key == "roles":
                    condition = {"description": name}
                else:
                    condition = {"text": name}
                query_id = self._client.next_id()
                by_ref = {"#ids": ref(query_id, f"x:{obj}/query"), "properties": [label]}
                get = Call(f"x:{obj}/get", by_ref, self._client.next_id())
                calls += [Call(f"x:{obj}/query", {"filter": condition}, query_id), get]
                gets.append((key, get))
        return await self._merged(names, calls, gets)

    async def _merged(self, names: Names, calls: builtins.list[Call], gets: builtins.list[tuple[str, Call]]) -> Names:
        """`names` with what the `/get`s among `calls` (sent here, none when empty) brought
        added to their tables (`gets`: table, call)."""
        results = await self._client.call(calls) if calls else Results()
        added: dict[str, dict[str, str]] = {}
        for key, call in gets:
            label = TABLES[key][1]
            try:
                found = results[call.call_id].get("list") or []
            except errors.StalwartError:
                continue  # as in the first request: what cannot be read keeps its id
            table = added.setdefault(key, dict(getattr(names, key)))
            table.update({str(i.get("id")): str(i.get(label) or "") for i in found if isinstance(i, dict)})
        if not added:
            return names
        return dataclasses.replace(
            names,
            domains=added.get("domains", names.domains),
            groups=added.get("groups", names.groups),
            roles=added.get("roles", names.roles),
            tenants=added.get("tenants", names.tenants),
        )

    async def _all_lists(self, names: Names) -> Names:
        """`names` with every mailing list's address and recipients, read page by page, when the
        first request's were as many as one `/get` returns."""
        if "lists" not in names.partial:
            return names
        found = await self._client.every("MailingList", properties=["emailAddress", "recipients"])
        lists = {str(item.get("id")): str(item.get("emailAddress") or "") for item in found}
        recipients = {
            str(item.get("id")): frozenset(m.lower() for m in _keys(item.get("recipients"))) for item in found
        }
        return dataclasses.replace(names, lists=lists, recipients=recipients, partial=names.partial - {"lists"})

    async def list(
        self,
        *,
        types: Iterable[str] = (),
        filter: str = "",
        page: int = 1,
        limit: int = 25,
        fields: Iterable[str] = (),
        tenant: str = "",
        ascending: bool = True,
    ) -> Page[Principal]:
        """One page, ordered by name where the object can be (by id, newest first, otherwise)."""
        if page < 1 or limit < 1:
            raise ValueError("page and limit start at 1.")
        spec, conditions = _conditions(types, filter)
        query: dict[str, Any] = {
            "filter": conditions,
            "position": (page - 1) * limit,
            "limit": limit,
            "calculateTotal": True,
        }
        if spec.sort:
            query["sort"] = [{"property": spec.sort, "isAscending": ascending}]
        query_id, get_id = self._client.next_id(), self._client.next_id()
        by_ref: dict[str, Any] = {"#ids": ref(query_id, f"x:{spec.obj}/query")}
        properties = list_properties(spec, fields)
        if properties is not None:
            by_ref["properties"] = properties  # what the page shows, not every credential and setting
        calls = [Call(f"x:{spec.obj}/query", query, query_id), Call(f"x:{spec.obj}/get", by_ref, get_id)]
        # Only the names the rows show: alias domains, groups and roles when those are read.
        reads = frozenset(properties) if properties is not None else None
        account = spec.obj == "Account"
        limits = await self._client.limits()
        lookups = self._lookups(
            calls,
            domains=account and (reads is None or "aliases" in reads),
            accounts=account and (reads is None or "memberGroupIds" in reads),
            roles=reads is None or "roles" in reads,
            max_get=limits.max_get,
        )
        results = await self._client.call(calls)
        total = _int(results[query_id].get("total"))
        found = results[get_id].get("list") or []
        names = await self._complete(self._names(results, lookups, limits.max_get), found)
        items = [to_principal(spec, item, names) for item in found]
        order = {value: index for index, value in enumerate(results[query_id].get("ids") or [])}
        ranked = sorted(zip(found, items, strict=True), key=lambda pair: order.get(pair[0].get("id"), 0))
        return Page(items=tuple(item for _, item in ranked), total=total)

    async def list_descending(
        self, *, types: Iterable[str] = (), filter: str = "", page: int = 1, limit: int = 25, fields: Iterable[str] = ()
    ) -> Page[Principal]:
        return await self.list(types=types, filter=filter, page=page, limit=limit, fields=fields, ascending=False)

    async def count(self, *, types: Iterable[str] = (), filter: str = "") -> int:
        return (await self.list(types=types, filter=filter, page=1, limit=1)).total

    async def _find(self, name: str) -> tuple[Spec, dict[str, Any], Names]:
        """The object called `name` (any type), with the names it refers to; one request."""
        name = name.strip()
        calls: list[Call] = []
        candidates: list[tuple[Spec, str, str]] = []
        limits = await self._client.limits()

        def look(spec: Spec, condition: dict[str, Any]) -> None:
            # At most what one /get may ask for: a local part can be shared by more accounts.
            query = {"filter": condition, "limit": limits.max_get, "calculateTotal": True}
            query_id, get_id = self._client.next_id(), self._client.next_id()
            calls.append(Call(f"x:{spec.obj}/query", query, query_id))
            calls.append(Call(f"x:{spec.obj}/get", {"#ids": ref(query_id, f"x:{spec.obj}/query")}, get_id))
            candidates.append((spec, query_id, get_id))

        if "@" in name:
            local = name.rsplit("@", 1)[0]
            look(SPECS["individual"], {"name": local})
            look(SPECS["list"], {"text": local})
        else:
            look(SPECS["individual"], {"name": name})  # a bare login: the one account of that local part
            look(SPECS["domain"], {"name": name})
            look(SPECS["oauthClient"], {"clientId": name})
            look(SPECS["tenant"], {"text": name})
            look(SPECS["role"], {"description": name})
        # Mailing lists with their recipients, for the lists an account is in (0.16 keeps
        # that on the list).
        lookups = self._lookups(calls, domains=True, accounts=True, lists="@" in name, max_get=limits.max_get)
        results = await self._client.call(calls)

        async def found_it(spec: Spec, item: dict[str, Any]) -> tuple[Spec, dict[str, Any], Names]:
            if spec.obj == "Account":
                spec = SPECS["group" if item.get("@type") == "Group" else "individual"]
            names = await self._complete(self._names(results, lookups, limits.max_get), [item])
            return spec, item, await self._all_lists(names)

        refused: errors.StalwartError | None = None
        cut = False  # more accounts of this local part than the query gave
        for spec, query_id, get_id in candidates:
            try:
                found = results[get_id].get("list") or []
                answer = results[query_id]
            except errors.Forbidden as exc:
                refused = refused or exc
                continue
            except (errors.BadRequest, errors.ItemNotFound, errors.UnknownMethod):
                continue
            if spec.obj == "Account":
                cut = _int(answer.get("total")) > len(answer.get("ids") or [])
            if spec.obj == "Account" and "@" not in name:
                found = found if len(found) == 1 else []  # ambiguous across domains: not this way
                label = "name"
            else:
                label = spec.label
            for item in found:
                if isinstance(item, dict) and str(item.get(label) or "").lower() == name.lower():
                    return await found_it(spec, item)
        if cut and "@" in name:
            again = (await lookup.by_domain(self._client, [name], properties=None)).get(name.lower())
            if again is not None:
                return await found_it(SPECS["individual"], again)
        if refused is not None and len(candidates) == 1:
            raise refused
        raise errors.ItemNotFound(
            gettext("%(item)s was not found.") % {"item": name}, body={"error": "notFound", "item": name}
        )

    async def get(self, name: str) -> Principal:
        spec, item, names = await self._find(name)
        principal = to_principal(spec, item, names)
        if spec.type == "group":
            # Groups keep no member list: the members are the users naming the group.
            members = await self._members(str(item["id"]))
            principal = dataclasses.replace(principal, members=tuple(members.values()))
        elif spec.type in {"domain", "tenant"}:
            # Nor do domains and tenants keep a count: the accounts and groups of the domain
            # (of the tenant), counted by the server in one more request.
            condition = {"domainId" if spec.type == "domain" else "memberTenantId": str(item["id"])}
            principal = dataclasses.replace(principal, member_count=await self._count("Account", condition))
        return principal

    async def _count(self, obj: str, condition: Mapping[str, Any]) -> int | None:
        """How many `x:<obj>` match (None: the person may not query them)."""
        query_id = self._client.next_id()
        query = {"filter": dict(condition), "position": 0, "limit": 1, "calculateTotal": True}
        try:
            answer = (await self._client.call([Call(f"x:{obj}/query", query, query_id)]))[query_id]
        except errors.Forbidden:
            return None
        return _int(answer.get("total"))

    async def _members(self, group_id: str) -> dict[str, str]:
        """id -> e-mail address of the users that are members of the group, by address (the
        server answers in id order, which is the order they were created in)."""
        found = await self._client.every("Account", {"memberGroupIds": group_id}, properties=["emailAddress"])
        members = {str(item.get("id")): str(item.get("emailAddress") or "") for item in found}
        return dict(sorted(members.items(), key=lambda member: member[1].lower()))

    async def _account_ids(self, addresses: Iterable[str]) -> dict[str, str]:
        """e-mail address (lower case) -> id of those accounts, in one request for most."""
        wanted = [address for address in dict.fromkeys(a.lower() for a in addresses) if "@" in address]
        found = await lookup.find_accounts(self._client, wanted)
        missing = [address for address in wanted if address not in found]
        if missing:
            raise errors.ItemNotFound(
                gettext("%(item)s was not found.") % {"item": missing[0]},
                body={"error": "notFound", "item": missing[0], "field": "members"},
            )
        return {address: str(item["id"]) for address, item in found.items()}

    # --- writing ----------------------------------------------------------------------------
    async def _directory(self, *, lists: bool = False) -> Names:
        calls: list[Call] = []
        limits = await self._client.limits()
        lookups = self._lookups(calls, domains=True, accounts=True, lists=lists, max_get=limits.max_get)
        return await self._all_lists(self._names(await self._client.call(calls), lookups, limits.max_get))

    @staticmethod
    def _domain_id(names: Names, domain: str) -> str:
        for ident, label in names.domains.items():
            if label.lower() == domain.lower():
                return ident
        raise errors.ItemNotFound(
            gettext("The domain %(domain)s does not exist.") % {"domain": domain},
            body={"error": "notFound", "item": domain, "field": "name"},
        )

    @staticmethod
    def _ids(table: Mapping[str, str], wanted: Iterable[str], field: str) -> dict[str, bool]:
        """The ids of these names; a name without a domain (`sales`) stands for the one address
        of that local part (`sales@example.org`), as a bare login does."""
        inverse = {label.lower(): ident for ident, label in table.items()}
        locals_: dict[str, list[str]] = {}
        for address, number in inverse.items():
            if "@" in address:
                locals_.setdefault(address.rsplit("@", 1)[0], []).append(number)
        ids: dict[str, bool] = {}
        for label in wanted:
            ident = inverse.get(label.lower())
            if ident is None and "@" not in label and len(locals_.get(label.lower(), [])) == 1:
                ident = locals_[label.lower()][0]
            if ident is None:
                raise errors.ItemNotFound(
                    gettext("%(item)s was not found.") % {"item": label},
                    body={"error": "notFound", "item": label, "field": field},
                )
            ids[ident] = True
        return ids

    def _address(self, names: Names, address: str) -> dict[str, str]:
        local, _, domain = address.partition("@")
        if not domain:
            raise errors.OtherError(
                gettext("On Stalwart 0.16 a name is an e-mail address (name@domain)."),
                body={"error": "other", "field": "name", "details": "", "reason": ""},
            )
        return {"name": local, "domainId": self._domain_id(names, domain)}

    def _roles(self, spec: Spec, names: Names, roles: Iterable[str]) -> dict[str, Any]:
        wanted = [role for role in roles if role]
        if spec.type == "group":
            custom = [role for role in wanted if role not in ("user", "admin", "tenant-admin")]
            if not custom:
                return {"@type": "Default"}
            return {"@type": "Custom", "roleIds": self._ids(names.roles, custom, "roles")}
        if "admin" in wanted or "tenant-admin" in wanted:
            return {"@type": "Admin"}
        custom = [role for role in wanted if role != "user"]
        if not custom:
            return {"@type": "User"}
        return {"@type": "Custom", "roleIds": self._ids(names.roles, custom, "roles")}

    async def create(self, principal: NewPrincipal) -> int:
        """Create from the portal's typed principal; returns the new object's id number. The
        lists an account is to be in get it as a recipient right after (0.16 keeps membership
        on the list)."""
        spec = spec_for(principal.type)
        names = await self._directory(lists=bool(principal.lists) and spec.obj == "Account")
        emails = [e for e in principal.emails if e]
        names = await self._named(
            names,
            domains=_domains(principal.name, *emails),
            groups=principal.member_of,
            roles=principal.roles,
            tenants=[principal.tenant],
        )
        value: dict[str, Any] = {}
        description = principal.description.strip()
        address = principal.name
        if spec.obj in ("Account", "MailingList"):
            raw = principal.name
            address = raw if "@" in raw else (emails[0] if emails else raw)
            value.update(self._address(names, address))
            aliases = [e for e in emails if e.lower() != address.lower()]
            if aliases:
                value["aliases"] = {str(i): self._address(names, e) for i, e in enumerate(aliases)}
            if spec.obj == "Account":
                value["@type"] = spec.variant
                if principal.secret and spec.variant == "User":
                    value["credentials"] = {"0": {"@type": "Password", "secret": principal.secret}}
                quota = _storage(principal.quota)
                if quota:
                    value["quotas"] = {"maxDiskQuota": quota}
                value["roles"] = self._roles(spec, names, principal.roles)
                groups = [g for g in principal.member_of if g]
                if groups and spec.variant == "User":
                    value["memberGroupIds"] = self._ids(names.groups, groups, "memberOf")
            else:
                members = [*principal.members, *principal.external_members]
                value["recipients"] = {m: True for m in members if m}
        elif spec.obj == "OAuthClient":
            value["clientId"] = principal.name
            value["redirectUris"] = {u: True for u in principal.urls if u}
            value["contacts"] = {e: True for e in emails}
        elif spec.obj == "Role":
            description = description or principal.name
        else:
            value["name"] = principal.name
            quotas = tenant_quotas(_wire_quota(principal.quota))
            if spec.obj == "Tenant" and quotas:
                value["quotas"] = quotas
        if description and spec.obj != "Tenant":  # tenants have no description on 0.16
            value["description"] = description
        if principal.tenant and spec.obj != "Tenant":
            value["memberTenantId"] = next(iter(self._ids(names.tenants, [principal.tenant], "tenant")))
        joins = self._list_patch(names, address, ListChange(added=principal.lists)) if spec.obj == "Account" else {}
        try:
            result = await self._client.set(
                spec.obj, create={"new": value}, field_map=FIELD_MAP, labels={"new": address}
            )
        except errors.FieldAlreadyExists as exc:
            exc.body["value"] = principal.name  # what the person typed, for the message
            raise
        if joins:
            await self._client.set("MailingList", update=joins, field_map=LIST_FIELD_MAP, labels=self._labels(names))
        created = result["created"].get("new") or {}
        return id_number(created.get("id")) or 0

    @staticmethod
    def _labels(names: Names) -> dict[str, str]:
        return dict(names.lists)

    def _list_patch(
        self, names: Names, address: str, change: ListChange, *, known: Iterable[str] = ()
    ) -> dict[str, dict[str, Any]]:
        """The x:MailingList updates that put `address` on the lists `change` adds and take
        the account's addresses (`known`, `address` too) off the lists it removes."""
        updates: dict[str, dict[str, Any]] = {}
        for key in self._ids(names.lists, change.added, "lists") if change.added else {}:
            updates.setdefault(key, {})[pointer("recipients", address.lower())] = True
        mine = {item.lower() for item in (*known, address) if item}
        for key in self._ids(names.lists, change.removed, "lists") if change.removed else {}:
            for member in sorted(names.recipients.get(key, frozenset()) & mine):
                updates.setdefault(key, {})[pointer("recipients", member)] = None
        return updates

    async def update(self, name: str, change: PrincipalChange) -> None:
        """Apply the portal's typed change as one JMAP PatchObject per object written, all in
        one request (the account, and the mailing lists whose recipients it joins or leaves)."""
        if not change:
            return
        spec, item, names = await self._find(name)
        current = to_principal(spec, item, names)
        names = await self._named(
            names,
            domains=_domains(*(change.emails.after if change.emails is not None else ()), change.name or ""),
            groups=change.member_of.added,
            roles=change.roles.added,
        )
        update: dict[str, Any] = {}
        others = change.enabled_permissions or ListChange(
            removed=tuple(p for p in change.disabled_permissions.removed if p != "authenticate"),
            added=tuple(p for p in change.disabled_permissions.added if p != "authenticate"),
        )
        if others:
            raise errors.Unsupported(
                gettext("On Stalwart 0.16 permissions are changed on the permissions page."),
                body={"error": "unsupported", "details": "permissions"},
            )
        if change.description is not None and spec.obj != "Tenant":
            text = change.description.strip()
            update["description"] = text or (None if spec.obj != "Role" else current.description)
        if change.quota is not None and spec.obj == "Tenant":
            update["quotas"] = tenant_quotas(_wire_quota(change.quota))
        elif change.quota is not None and spec.obj == "Account":
            update[pointer("quotas", "maxDiskQuota")] = _storage(change.quota) or None
        sign_in = change.sign_in
        if "authenticate" in change.disabled_permissions.added:
            sign_in = False
        elif "authenticate" in change.disabled_permissions.removed:
            sign_in = True
        if spec.obj == "Account":
            if change.password is not None and change.password.secret:
                update[pointer("credentials", "0", "secret")] = change.password.secret
            if change.member_of:
                before = set(current.member_of)
                after = set(change.member_of.applied(current.member_of))
                for group, on in [(g, True) for g in after - before] + [(g, None) for g in before - after]:
                    for key in self._ids(names.groups, [group], "memberOf"):
                        update[pointer("memberGroupIds", key)] = on
            if change.roles:
                update["roles"] = self._roles(spec, names, change.roles.applied(current.roles))
            if sign_in is not None:
                perms = _obj(item.get("permissions"))
                if perms.get("@type") in ("Merge", "Replace"):
                    update[pointer("permissions", "disabledPermissions", "authenticate")] = None if sign_in else True
                elif not sign_in:
                    update["permissions"] = {
                        "@type": "Merge",
                        "enabledPermissions": {},
                        "disabledPermissions": {"authenticate": True},
                    }
        elif change.lists or change.password is not None or sign_in is not None:
            raise errors.Unsupported(
                gettext("Stalwart 0.16 has no such setting for %(type)s principals.") % {"type": spec.type},
                body={"error": "unsupported", "details": spec.type},
            )
        primary = current.name
        kept = current.emails  # the addresses it has after the change
        if spec.obj in ("Account", "MailingList") and (change.emails is not None or change.name is not None):
            emails = list(change.emails.after) if change.emails is not None else list(current.emails)
            primary = change.name if change.name is not None else (emails[0] if emails else current.name)
            if primary.lower() != current.name.lower():
                update.update(self._address(names, primary))
            aliases = [e for e in emails if e.lower() != primary.lower()]
            update["aliases"] = {str(i): self._address(names, e) for i, e in enumerate(aliases)}
            kept = (primary, *aliases)
        if spec.obj == "MailingList" and (change.members or change.external_members):
            after = set(change.external_members.applied(change.members.applied(current.external_members)))
            for address in after - set(current.external_members):
                update[pointer("recipients", address)] = True
            for address in set(current.external_members) - after:
                update[pointer("recipients", address)] = None
        if spec.obj == "OAuthClient" and change.urls:
            update["redirectUris"] = {u: True for u in change.urls.applied(current.urls)}
        if spec.type == "group" and change.members:
            # Membership is written on the users (memberGroupIds), all in one call.
            before = {m.lower() for m in (await self._members(str(item["id"]))).values()}
            after = {m.lower() for m in change.members.applied(before)}
            ids = await self._account_ids((after - before) | (before - after))
            key = pointer("memberGroupIds", str(item["id"]))
            members = {ids[m]: {key: True} for m in after - before} | {ids[m]: {key: None} for m in before - after}
            if members:
                labels = {account_id: member for member, account_id in ids.items()}
                await self._client.set("Account", update=members, field_map=FIELD_MAP, labels=labels)
        joins: dict[str, dict[str, Any]] = {}
        if spec.obj == "Account" and change.lists:
            joins = self._list_patch(names, primary, change.lists, known=current.emails)
        if spec.obj == "Account":
            self._follow_to_lists(names, joins, current.emails, kept, primary, left=change.lists.removed)
        update = patch(update, spec.read_only)
        parts: list[tuple[str, dict[str, Any], Mapping[str, str]]] = []
        if update:
            parts.append((spec.obj, {str(item["id"]): update}, FIELD_MAP))
        if joins:
            parts.append(("MailingList", joins, LIST_FIELD_MAP))
        await self._set_together(parts, labels={str(item["id"]): name, **self._labels(names)})

    def _follow_to_lists(
        self,
        names: Names,
        joins: dict[str, dict[str, Any]],
        before: Iterable[str],
        after: Iterable[str],
        primary: str,
        *,
        left: Iterable[str],
    ) -> None:
        """Add to `joins` the updates that keep a renamed account on its lists: a list's
        recipients are addresses, which Stalwart leaves as they are when an account's change,
        so each address the account no longer has is replaced by its (new) primary one. Lists
        it is leaving (`left`) are `_list_patch`'s."""
        gone = {address.lower() for address in before} - {address.lower() for address in after}
        if not gone:
            return
        leaving = {label.lower() for label in left}
        for key, members in names.recipients.items():
            lost = members & gone
            if not lost or names.lists.get(key, "").lower() in leaving:
                continue
            moves = joins.setdefault(key, {})
            for address in sorted(lost):
                moves[pointer("recipients", address)] = None
            moves[pointer("recipients", primary.lower())] = True

    async def _set_together(
        self, parts: Iterable[tuple[str, dict[str, Any], Mapping[str, str]]], *, labels: Mapping[str, str]
    ) -> None:
        """Several objects' updates in one request; the first SetError is raised (next to the
        form field of its object's field map)."""
        calls: builtins.list[tuple[Call, Mapping[str, str]]] = []
        for obj, update, field_map in parts:
            calls += [(call, field_map) for call in await self._client.set_calls(obj, update=update)]
        if not calls:
            return
        results = await self._client.call([call for call, _map in calls], labels=labels)
        for call, field_map in calls:
            for failed in (results[call.call_id].get("notUpdated") or {}).values():
                if isinstance(failed, dict):
                    raise set_error(failed, field_map=field_map, operation=call.name)

    async def delete(self, name: str) -> None:
        """Destroy the object; an account's addresses are then taken off its mailing lists
        (`_off_lists`)."""
        spec, item, names = await self._find(name)
        await self._client.set(spec.obj, destroy=[str(item["id"])], field_map=FIELD_MAP, labels={str(item["id"]): name})
        if spec.obj == "Account":
            await self._off_lists(names, to_principal(spec, item, names).emails, name)

    async def _off_lists(self, names: Names, addresses: Iterable[str], what: str) -> None:
        """Take the addresses of deleted accounts off the mailing lists that have them: a list's
        recipients are addresses, which Stalwart leaves there to bounce. The deletion has
        happened, so this stops short of failing it: a list that cannot be changed keeps the
        address, as Stalwart itself would, and the audit trail records the refusal."""
        mine = {address.lower() for address in addresses}
        updates = {
            key: {pointer("recipients", member): None for member in sorted(members & mine)}
            for key, members in names.recipients.items()
            if members & mine
        }
        if updates:
            try:
                await self._set_together([("MailingList", updates, LIST_FIELD_MAP)], labels=self._labels(names))
            except errors.StalwartError as exc:
                log.warning("deleted %s; %d mailing lists keep an address of it: %s", what, len(updates), exc)

    async def delete_matching(self, principal_type: str, filter: str = "") -> bool:
        """Destroy everything a search matches (0.16 has no bulk delete): per request, a `/query`
        of at most `maxObjectsInSet` ids and a `/set` destroying them by back-reference, until
        the search finds nothing more. The first SetError stops it (and is raised)."""
        spec, conditions = _conditions([principal_type], filter)
        limits = await self._client.limits()
        name = f"x:{spec.obj}"
        rounds = 0
        gone: builtins.list[dict[str, Any]] = []  # the accounts destroyed, as read just before
        try:
            while True:
                query_id, get_id, set_id = self._client.next_id(), self._client.next_id(), self._client.next_id()
                step = min(limits.max_set, limits.max_get) if spec.obj == "Account" else limits.max_set
                query = {"filter": conditions, "position": 0, "limit": step, "calculateTotal": True}
                calls = [Call(f"{name}/query", query, query_id)]
                if spec.obj == "Account":  # their addresses, for their mailing lists
                    by_ref = {"#ids": ref(query_id, f"{name}/query"), "properties": ["emailAddress", "aliases"]}
                    calls.append(Call(f"{name}/get", by_ref, get_id))
                calls.append(Call(f"{name}/set", {"#destroy": ref(query_id, f"{name}/query")}, set_id))
                results = await self._client.call(calls)
                found = results[query_id].get("ids") or []
                answer = results[set_id]
                destroyed = {str(ident) for ident in answer.get("destroyed") or []}
                if spec.obj == "Account":
                    try:
                        read = results[get_id].get("list") or []
                    except errors.StalwartError:
                        read = []  # not readable: their lists keep their addresses, as Stalwart leaves them
                    gone += [item for item in read if isinstance(item, dict) and str(item.get("id")) in destroyed]
                for item in (answer.get("notDestroyed") or {}).values():
                    if isinstance(item, dict):
                        raise set_error(item, field_map=FIELD_MAP, operation=f"{name}/set")
                rounds += 1
                remaining = _int(results[query_id].get("total")) - len(destroyed)
                if not found or remaining <= 0 or rounds > 1000:
                    return True
        finally:
            if gone:
                await self._off_lists_of(gone)

    async def _off_lists_of(self, accounts: builtins.list[dict[str, Any]]) -> None:
        """`_off_lists` for accounts destroyed by a search (their addresses as read before)."""
        try:
            names = await self._complete(await self._directory(lists=True), accounts)
        except errors.StalwartError as exc:
            log.warning("deleted %d accounts; their mailing lists could not be read: %s", len(accounts), exc)
            return
        addresses = [address for item in accounts for address in _account(item, names).emails]
        await self._off_lists(names, addresses, f"{len(accounts)} accounts")

    async def find_raw(self, name: str) -> tuple[Spec, dict[str, Any]]:
        """The object called `name` as the server sends it (for the permission editor)."""
        spec, item, _names = await self._find(name)
        return spec, item
