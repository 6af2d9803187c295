"""The 0.16 management objects, shown from the sandbox's one directory.

Principals map onto objects like this (jmap-management.md, objects.md):

* ``individual`` → ``x:Account`` ``User``; ``group`` → ``x:Account`` ``Group``. ``name`` is the
  local part and ``domainId`` the domain of the principal's first e-mail address (the login),
  the other addresses are ``aliases``.
* ``list`` → ``x:MailingList`` (``recipients``: the members' addresses and external members).
* ``domain`` → ``x:Domain``, ``tenant`` → ``x:Tenant``, ``role`` → ``x:Role`` (the built-in
  ≤0.15 roles admin/user/tenant-admin are not objects: accounts show them as ``roles``
  ``{"@type":"Admin"}`` / ``{"@type":"User"}``), ``oauthClient`` → ``x:OAuthClient``.
* ``resource``, ``location``, ``other`` and ``apiKey`` principals have no 0.16 object.

Ids are the principal ids written as JMAP ids (``sandbox.jmap.ids``).
"""

from __future__ import annotations

import re

from ..model import Principal
from ..permissions import BUILTIN_ROLE_NAMES
from . import ids
from .errors import SetError
from .permissions import map_name, permission_ids
from .store import (
    address_of,
    addressless,
    default_domain,
    domain_id_of,
    jmap_state,
    password_hash,
    split_address,
    totp_url,
    utc,
)

MASK = "****"
_LOCAL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
_TENANT_QUOTAS = {  # TenantStorageQuota -> position in the ≤0.15 tenant quota list
    "maxDiskQuota": 0, "maxAccounts": 1, "maxGroups": 2, "maxMailingLists": 6, "maxDomains": 8,
    "maxRoles": 10, "maxOauthClients": 12,
}


def jid(pid: int) -> str:
    return ids.encode(pid)


def pset(values) -> dict:
    return {v: True for v in values}


def weak_password(secret: str) -> bool:
    """Approximation of ``passwordMinLength`` 8 + ``passwordMinStrength`` "three" (zxcvbn):
    at least 8 characters, and three character classes or at least 16 characters."""
    if len(secret) < 8 or len(secret) > 128:
        return True
    classes = sum(bool(re.search(rx, secret)) for rx in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
    return classes < 3 and len(secret) < 16


def new_permissions(p, sb=None) -> dict:
    """x:Permissions of a principal: as last set through 0.16, else derived from ≤0.15 lists."""
    if sb is not None:
        stored = jmap_state(sb).extras.get(p.id, {}).get("permissions")
        if stored is not None:
            return stored
    if not p.enabled_permissions and not p.disabled_permissions:
        return {"@type": "Inherit"}
    return {"@type": "Merge", "enabledPermissions": _mapped(p.enabled_permissions),
            "disabledPermissions": _mapped(p.disabled_permissions)}


def _mapped(numbers) -> dict:
    from ..permissions import PERMISSION_NAMES

    out = {}
    for number in numbers:
        if number < len(PERMISSION_NAMES):
            for name in map_name(PERMISSION_NAMES[number]):
                out[name] = True
    return out


class Kind:
    """One object type. Subclasses give the records and how they read and change."""

    name = ""
    prefix = ""
    singleton = False
    tenant_scoped = True
    #: False: ``/query`` answers invalidArguments (x:Action)
    queryable = True
    properties: tuple[str, ...] = ()
    server_set: tuple[str, ...] = ("createdAt",)
    filters: tuple[str, ...] = ()
    sorts: tuple[str, ...] = ("id",)
    types: tuple[str, ...] = ()
    #: /query order when ``sort`` is omitted (descending)
    default_sort = "id"
    #: refused with ``forbidden`` "Enterprise feature" on a Community sandbox
    enterprise_only = False
    #: a kind with its own /query (``custom_query(sb, caller, args, conditions)``), e.g. x:Log
    custom_query = None
    #: a ``create`` on this singleton acts as an update (settings singletons)
    create_updates_singleton = False
    #: properties worked out on reading (``compute``), only when a ``/get`` asks for them
    computed: tuple[str, ...] = ()

    def singleton_saved(self, sb, caller) -> bool:
        """A singleton that was saved is listed by ``/get`` with ``ids: null``."""
        return False

    # ---- records
    def records(self, sb, caller) -> dict[int, object]:
        out = {}
        for pid, p in sb.principals.items():
            if p.type in self.types and self.visible(sb, caller, p):
                out[pid] = p
        return out

    def query_records(self, sb, caller) -> dict[int, object]:
        """What ``/query`` searches (the same as ``/get`` sees, unless a kind says otherwise)."""
        return self.records(sb, caller)

    def prepare_conditions(self, sb, caller, conditions: list) -> list:
        """The parsed filter conditions, as the kind applies them."""
        return conditions

    def check_update(self, sb, caller, patch: dict) -> None:
        """Checks of an update patch made before the object is looked up."""

    def visible(self, sb, caller, p) -> bool:
        return not (self.tenant_scoped and caller.tenant_id is not None and p.tenant != caller.tenant_id)

    def view(self, sb, caller, p) -> dict:
        raise NotImplementedError

    def compute(self, sb, p, prop: str, obj: dict):
        raise NotImplementedError

    def full_view(self, sb, caller, p, properties=None) -> dict:
        obj = self.view(sb, caller, p)
        for prop in self.computed:
            if properties is None or prop in properties:
                obj[prop] = self.compute(sb, p, prop, obj)
        if self.tenant_scoped:
            if caller.tenant_id is not None:
                obj.pop("memberTenantId", None)
        return obj

    # ---- query
    def filter_value(self, sb, p, prop: str):
        return self.view(sb, None, p).get(prop)

    def matches(self, sb, caller, p, prop: str, op: str, value) -> bool:
        if prop == "text":
            words = str(value).lower().split()
            hay = " ".join(str(x) for x in self.text_of(sb, p)).lower()
            return all(w in hay for w in words)
        if prop == "memberTenantId" and caller.tenant_id is not None:
            return True  # ignored for tenant callers
        actual = self.filter_value(sb, p, prop)
        if isinstance(actual, dict):  # a set: membership
            return op == "" and value in actual
        if op == "":
            return actual == value
        if actual is None or value is None:
            return False
        try:
            return {"GreaterThan": actual > value, "GreaterThanOrEqual": actual >= value,
                    "LessThan": actual < value, "LessThanOrEqual": actual <= value}[op]
        except TypeError:
            return False

    def text_of(self, sb, p) -> list:
        return [p.name, p.description or "", *p.emails]

    def sort_key(self, sb, p, prop: str):
        if prop == "id":
            return p.id
        value = self.filter_value(sb, p, prop)
        if isinstance(value, dict):
            value = min(value) if value else ""
        return (value is None, value if value is not None else "")

    # ---- set
    def create(self, sb, caller, obj: dict) -> tuple[int, dict]:
        raise SetError("forbidden", "Not supported by the sandbox.")

    def update(self, sb, caller, p, patch: dict) -> dict | None:
        raise SetError("forbidden", "Not supported by the sandbox.")

    def destroy(self, sb, caller, p) -> None:
        sb.remove(p.id)
        jmap_state(sb).extras.pop(p.id, None)

    # ---- helpers
    def check_patch_keys(self, patch: dict, allowed: tuple[str, ...]) -> None:
        for key in patch:
            top = key.split("/", 1)[0]
            if top in self.server_set or top in ("id", "emailAddress", "usedDiskQuota", "dnsZoneFile"):
                raise SetError.invalid_patch(key, "Cannot modify server set property")
            if top not in allowed:
                raise SetError.invalid_patch(key, "Invalid property")

    def tenant_for_new(self, sb, caller, obj: dict) -> int | None:
        if caller.tenant_id is not None:
            return caller.tenant_id
        tid = obj.get("memberTenantId")
        if tid is None:
            return None
        number = ids.decode(tid)
        t = sb.principals.get(number) if number is not None else None
        if t is None or t.type != "tenant":
            raise SetError.foreign_key("Tenant", str(tid))
        return number

    def check_tenant_quota(self, sb, tenant_id: int | None, quota_name: str, types: tuple[str, ...]) -> None:
        if tenant_id is None:
            return
        tenant = sb.principals.get(tenant_id)
        quota = tenant.quota if tenant is not None and isinstance(tenant.quota, list) else []
        index = _TENANT_QUOTAS[quota_name]
        limit = quota[index] if index < len(quota) else 0
        if limit:
            used = sum(1 for q in sb.principals.values() if q.type in types and q.tenant == tenant_id)
            if used >= limit:
                noun = {"maxAccounts": "accounts", "maxGroups": "groups", "maxDomains": "domains",
                        "maxMailingLists": "mailing lists", "maxRoles": "roles",
                        "maxOauthClients": "OAuth clients"}[quota_name]
                raise SetError("overQuota", f"You have exceeded your quota of {limit} {noun}.")

    def resolve_domain(self, sb, caller, domain_id, prop: str = "domainId") -> Principal:
        number = ids.decode(domain_id) if isinstance(domain_id, str) else None
        d = sb.principals.get(number) if number is not None else None
        if d is None or d.type != "domain" or not DOMAIN.visible(sb, caller, d):
            raise SetError.foreign_key("Domain", str(domain_id))
        return d

    def address_clash(self, sb, address: str, own_id: int | None) -> None:
        pid = sb.emails.get(address)
        if pid is None:
            q = addressless(sb, address)
            pid = q.id if q is not None and q.type in ("individual", "group", "list") else None
        if pid is not None and pid != own_id:
            other = sb.principals[pid]
            obj = "MailingList" if other.type == "list" else "Account"
            raise SetError.primary_key(["name"], obj, jid(pid))


# ------------------------------------------------------------------------------- accounts
class AccountKind(Kind):
    name = "Account"
    prefix = "sysAccount"
    types = ("individual", "group")
    properties = ("@type", "aliases", "createdAt", "credentials", "description", "domainId", "emailAddress",
                  "encryptionAtRest", "locale", "memberGroupIds", "memberTenantId", "name", "permissions",
                  "quotas", "roles", "timeZone", "usedDiskQuota")
    filters = ("text", "@type", "domainId", "memberGroupIds", "memberTenantId", "name")
    sorts = ("id", "@type", "domainId", "memberGroupIds", "memberTenantId", "name")

    def view(self, sb, caller, p) -> dict:
        st = jmap_state(sb)
        extra = st.extras.get(p.id, {})
        address = address_of(sb, p)
        local, domain = split_address(address)
        is_user = p.type == "individual"
        aliases = {}
        for i, email in enumerate(p.emails[1:]):
            a_local, a_domain = split_address(email)
            aliases[str(i)] = {"name": a_local, "domainId": domain_id_of(sb, a_domain), "enabled": True,
                               "description": None}
        obj = {
            "@type": "User" if is_user else "Group",
            "name": local,
            "domainId": domain_id_of(sb, domain),
            "emailAddress": address,
            "description": p.description,
            "aliases": aliases,
            "createdAt": st.created_at(p),
            "locale": extra.get("locale", "en_US"),
            "timeZone": extra.get("timeZone"),
            "memberTenantId": jid(p.tenant) if p.tenant is not None else None,
            "permissions": new_permissions(p, sb),
            "quotas": {"maxDiskQuota": p.quota} if isinstance(p.quota, int) and p.quota else {},
            "usedDiskQuota": p.used_quota,
        }
        builtin = {BUILTIN_ROLE_NAMES[r] for r in p.member_of if r in BUILTIN_ROLE_NAMES}
        custom = [r for r in p.member_of if sb.type_of(r) == "role" and r not in BUILTIN_ROLE_NAMES]
        if is_user:
            if custom:
                obj["roles"] = {"@type": "Custom", "roleIds": pset(jid(r) for r in custom)}
            elif builtin & {"admin", "tenant-admin"}:
                obj["roles"] = {"@type": "Admin"}
            else:
                obj["roles"] = {"@type": "User"}
            obj["memberGroupIds"] = pset(jid(g) for g in p.member_of if sb.type_of(g) == "group")
            obj["credentials"] = self.credentials_view(sb, p)
            obj["encryptionAtRest"] = extra.get("encryptionAtRest", {"@type": "Disabled"})
        else:
            obj["roles"] = {"@type": "Custom", "roleIds": pset(jid(r) for r in custom)} if custom else {
                "@type": "Default"}
        return obj

    def credentials_view(self, sb, p) -> dict:
        creds = {}
        if password_hash(p) is not None:
            creds["0"] = {"@type": "Password", "credentialId": "0", "secret": MASK,
                          "otpAuth": MASK if totp_url(p) else None, "expiresAt": None, "allowedIps": {}}
        for cred in jmap_state(sb).credentials(sb, p):
            creds[str(cred["id"])] = secondary_view(cred, with_type=True)
        return creds

    def text_of(self, sb, p) -> list:
        return [*(split_address(e)[0] for e in p.emails), p.name, p.description or ""]

    def filter_value(self, sb, p, prop: str):
        if prop == "memberGroupIds":
            return pset(jid(g) for g in p.member_of if sb.type_of(g) == "group")
        if prop == "@type":
            return "User" if p.type == "individual" else "Group"
        if prop == "name":
            return split_address(address_of(sb, p))[0]
        if prop == "domainId":
            return domain_id_of(sb, split_address(address_of(sb, p))[1])
        if prop == "memberTenantId":
            return jid(p.tenant) if p.tenant is not None else None
        return super().filter_value(sb, p, prop)

    # ---- create
    def create(self, sb, caller, obj: dict) -> tuple[int, dict]:
        kind = obj.get("@type")
        if kind not in ("User", "Group"):
            raise SetError.invalid_patch("@type", "Invalid value for property.")
        allowed = ("@type", "name", "domainId", "description", "aliases", "credentials", "locale", "timeZone",
                   "memberGroupIds", "memberTenantId", "permissions", "quotas", "roles", "encryptionAtRest")
        if kind == "Group":
            allowed = tuple(a for a in allowed if a not in ("credentials", "memberGroupIds", "encryptionAtRest"))
        self.check_patch_keys(obj, allowed)
        _no_empty_strings(obj)
        missing = [k for k in ("domainId", "name") if not obj.get(k)]
        if missing:
            raise SetError.required(*missing)
        local = str(obj["name"]).strip().lower()
        if not _LOCAL.match(local):
            raise SetError.invalid_patch("name", "Invalid value for property.")
        domain = self.resolve_domain(sb, caller, obj["domainId"])
        address = f"{local}@{domain.name}"
        tenant_id = self.tenant_for_new(sb, caller, obj)
        self.address_clash(sb, address, None)
        self.check_tenant_quota(sb, tenant_id, "maxAccounts" if kind == "User" else "maxGroups",
                                ("individual",) if kind == "User" else ("group",))
        p = Principal(sb.allocate_id(), "individual" if kind == "User" else "group", address)
        p.emails = [address]
        p.tenant = tenant_id
        if kind == "User" and "roles" not in obj:
            from ..permissions import BUILTIN_ROLE_IDS

            p.member_of = [BUILTIN_ROLE_IDS["user"]]  # roles default to {"@type": "User"}
        try:
            self.apply(sb, caller, p, obj, creating=True)
        except SetError:
            sb.free_ids.append(p.id)
            import heapq

            heapq.heapify(sb.free_ids)
            raise
        if sb.get(p.name) is not None:
            p.name = f"{p.name}#{p.id}"
        sb.insert(p)
        jmap_state(sb).extras_of(p.id)["createdAt"] = sb.now()
        return p.id, {"emailAddress": address, "createdAt": utc(sb.now())}

    def update(self, sb, caller, p, patch: dict) -> dict | None:
        allowed = ("name", "domainId", "description", "aliases", "credentials", "locale", "timeZone",
                   "memberGroupIds", "memberTenantId", "permissions", "quotas", "roles", "encryptionAtRest", "@type")
        self.check_patch_keys(patch, allowed)
        _no_empty_strings(patch)
        if "@type" in patch and patch["@type"] != ("User" if p.type == "individual" else "Group"):
            raise SetError.invalid_properties(["@type"], "Account type cannot be changed.")
        new = p.clone()
        before = address_of(sb, p)
        self.apply(sb, caller, new, patch, creating=False)
        sb.replace(new)
        if address_of(sb, new) != before:
            self.leave_old_address_on_lists(sb, new, before)
        return None

    @staticmethod
    def leave_old_address_on_lists(sb, p, old_address: str) -> None:
        """A mailing list's recipients are addresses, not accounts (objects.md: not checked
        against local accounts): renaming an account leaves its old address on its lists. The
        sandbox keeps a local recipient as a membership, so it turns that into the old address."""
        for target in list(p.member_of):
            mailing_list = sb.principals.get(target)
            if mailing_list is not None and mailing_list.type == "list":
                sb.remove_membership(p.id, target)
                if old_address not in mailing_list.external_members:
                    mailing_list.external_members.append(old_address)

    def apply(self, sb, caller, p, patch: dict, *, creating: bool) -> None:
        """Apply a create object or an update patch (JSON-pointer keys) to principal ``p``."""
        st = jmap_state(sb)
        address = address_of(sb, p)
        local, domain = split_address(address)
        new_local, new_domain = local, domain
        aliases = list(p.emails[1:])
        for key, value in patch.items():
            parts = key.split("/")
            top = parts[0]
            if top == "@type":
                continue
            if top == "name" and len(parts) == 1:
                new_local = str(value).strip().lower()
                if not _LOCAL.match(new_local):
                    raise SetError.invalid_patch("name", "Invalid value for property.")
            elif top == "domainId" and len(parts) == 1:
                if value is None:
                    raise SetError.required("domainId")
                new_domain = self.resolve_domain(sb, caller, value).name
            elif top == "description" and len(parts) == 1:
                p.description = value
            elif top == "aliases":
                aliases = self.patch_aliases(sb, caller, aliases, parts[1:], value)
            elif top == "memberGroupIds":
                self.patch_groups(sb, caller, p, parts[1:], value)
            elif top == "quotas":
                quotas = value if len(parts) == 1 else {parts[1]: value}
                if not isinstance(quotas, dict):
                    raise SetError.invalid_patch(key)
                if "maxDiskQuota" in quotas:
                    disk = quotas["maxDiskQuota"]
                    if disk is not None and (not isinstance(disk, int) or disk < 0):
                        raise SetError.invalid_patch(key)
                    p.quota = disk or None
                elif len(parts) == 1:
                    p.quota = None
            elif top == "roles" and len(parts) == 1:
                self.apply_roles(sb, caller, p, value)
            elif top == "permissions" and len(parts) == 1:
                self.apply_permissions(sb, caller, p, value)
            elif top == "memberTenantId" and len(parts) == 1:
                if caller.tenant_id is not None:
                    raise SetError.invalid_patch(key, "Invalid property")
                if not creating:
                    p.tenant = self.tenant_for_new(sb, caller, {"memberTenantId": value})
            elif top == "credentials":
                self.patch_credentials(sb, caller, p, parts[1:], value, creating=creating)
            elif top in ("locale", "timeZone", "encryptionAtRest") and len(parts) == 1:
                st.extras_of(p.id)[top] = value
            else:
                raise SetError.invalid_patch(key, "Invalid property")
        new_address = f"{new_local}@{new_domain}"
        if new_address != address:
            self.address_clash(sb, new_address, p.id)
            if p.name == address:
                p.name = new_address
        for alias in aliases:
            self.address_clash(sb, alias, p.id)
        p.emails = [new_address, *[a for a in aliases if a != new_address]]

    def patch_aliases(self, sb, caller, aliases: list[str], rest: list[str], value) -> list[str]:
        def one(entry) -> str:
            if not isinstance(entry, dict) or not entry.get("name") or not entry.get("domainId"):
                raise SetError.required("name" if not (isinstance(entry, dict) and entry.get("name")) else "domainId")
            d = self.resolve_domain(sb, caller, entry["domainId"])
            return f"{str(entry['name']).strip().lower()}@{d.name}"

        if not rest:
            if not isinstance(value, dict):
                raise SetError.invalid_patch("aliases")
            return [one(v) for _, v in sorted(value.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0)]
        index = rest[0]
        if not index.isdigit():
            raise SetError.invalid_patch("aliases/" + "/".join(rest))
        i = int(index)
        aliases = list(aliases)
        if value is None and len(rest) == 1:
            if i < len(aliases):
                del aliases[i]
        elif len(rest) == 1:
            if i < len(aliases):
                aliases[i] = one(value)
            else:
                aliases.append(one(value))
        return aliases

    def patch_groups(self, sb, caller, p, rest: list[str], value) -> None:
        if p.type != "individual":
            raise SetError.invalid_patch("memberGroupIds", "Invalid property")
        current = [g for g in p.member_of if sb.type_of(g) == "group"]
        if not rest:
            if not isinstance(value, dict):
                raise SetError.invalid_patch("memberGroupIds")
            wanted = [k for k, v in value.items() if v]
        else:
            wanted = [jid(g) for g in current]
            if value:
                wanted.append(rest[0])
            else:
                wanted = [w for w in wanted if w != rest[0]]
        numbers = []
        for gid in wanted:
            number = ids.decode(gid)
            g = sb.principals.get(number) if number is not None else None
            if g is None or g.type != "group" or not self.visible(sb, caller, g):
                raise SetError.foreign_key("Account", str(gid))
            numbers.append(number)
        others = [m for m in p.member_of if sb.type_of(m) != "group"]
        p.member_of = sorted(set(others) | set(numbers))

    def apply_roles(self, sb, caller, p, value) -> None:
        from ..permissions import BUILTIN_ROLE_IDS

        if not isinstance(value, dict) or value.get("@type") not in ("User", "Admin", "Custom", "Default"):
            raise SetError.invalid_patch("roles", "Invalid value for property.")
        kind = value["@type"]
        keep = [m for m in p.member_of if sb.type_of(m) != "role"]
        if kind == "User":
            roles = [BUILTIN_ROLE_IDS["user"]]
        elif kind == "Admin":
            if not caller.has("impersonate") and caller.tenant_id is None:
                raise SetError("forbidden", "You are not authorized to grant permissions: impersonate")
            roles = [BUILTIN_ROLE_IDS["tenant-admin" if p.tenant is not None else "admin"]]
        elif kind == "Default":
            roles = []
        else:
            roles = []
            for rid in (value.get("roleIds") or {}):
                number = ids.decode(rid)
                r = sb.principals.get(number) if number is not None else None
                if r is None or r.type != "role" or not self.visible(sb, caller, r):
                    raise SetError.foreign_key("Role", str(rid))
                roles.append(number)
        p.member_of = sorted(set(keep) | set(roles))

    def apply_permissions(self, sb, caller, p, value) -> None:
        if not isinstance(value, dict) or value.get("@type") not in ("Inherit", "Merge", "Replace"):
            raise SetError.invalid_patch("permissions", "Invalid value for property.")
        if value["@type"] == "Inherit":
            p.enabled_permissions, p.disabled_permissions = [], []
            jmap_state(sb).extras_of(p.id).pop("permissions", None)
            return
        known = permission_ids()
        enabled = [k for k, v in (value.get("enabledPermissions") or {}).items() if v]
        disabled = [k for k, v in (value.get("disabledPermissions") or {}).items() if v]
        for name in enabled + disabled:
            if name not in known:
                raise SetError.invalid_patch("permissions", "Invalid value for property.")
        lacking = [n for n in enabled if not caller.has(n)]
        if lacking:
            raise SetError("forbidden", "You are not authorized to grant permissions: " + ", ".join(sorted(lacking)))
        p.enabled_permissions = _old_numbers(sb, enabled)
        p.disabled_permissions = _old_numbers(sb, disabled)
        jmap_state(sb).extras_of(p.id)["permissions"] = {
            "@type": value["@type"], "enabledPermissions": pset(enabled), "disabledPermissions": pset(disabled)}

    def patch_credentials(self, sb, caller, p, rest: list[str], value, *, creating: bool) -> None:
        if p.type != "individual":
            raise SetError.invalid_patch("credentials", "Invalid property")
        st = jmap_state(sb)
        if not rest:
            entries = value if isinstance(value, dict) else None
            if entries is None:
                raise SetError.invalid_patch("credentials")
            passwords = [e for e in entries.values() if isinstance(e, dict) and e.get("@type") == "Password"]
            if any(isinstance(e, dict) and e.get("@type") in ("AppPassword", "ApiKey") for e in entries.values()):
                raise SetError("forbidden", "Secondary credentials cannot be set directly")
            if len(passwords) > 1:
                raise SetError.invalid_properties(["credentials"], "Only one password credential is allowed.")
            if passwords:
                self.set_password(p, passwords[0].get("secret"))
            elif not creating:
                p.secrets = [s for s in p.secrets if s.startswith("$app$")]
            return
        index = rest[0]
        if index == "0" and len(rest) == 2 and rest[1] == "secret":
            self.set_password(p, value)
            return
        if index == "0" and len(rest) == 1 and isinstance(value, dict):
            if value.get("@type") not in (None, "Password"):
                raise SetError.invalid_properties(["credentials"], "Credential type cannot be changed.")
            self.set_password(p, value.get("secret"))
            return
        if len(rest) == 1 and value is None:
            if index == "0":
                p.secrets = [s for s in p.secrets if s.startswith("$app$")]
                return
            creds = st.credentials(sb, p)
            for cred in list(creds):
                if str(cred["id"]) == index:
                    creds.remove(cred)
                    if cred.get("source") in p.secrets:
                        p.secrets.remove(cred["source"])
            return
        if len(rest) == 2 and rest[1] == "expiresAt" and index == "0":
            return  # the sandbox does not expire passwords
        raise SetError("forbidden", "Secondary credentials cannot be changed through x:Account")

    def set_password(self, p, secret) -> None:
        if secret == MASK:
            return
        if not isinstance(secret, str) or not secret:
            raise SetError.required("secret")
        if not secret.startswith(("$", "{")) and weak_password(secret):
            raise SetError.invalid_properties(["secret"], "Password is too weak.")
        from ..passwords import sha512_crypt_hash

        hashed = secret if secret.startswith(("$", "{")) else sha512_crypt_hash(secret)
        rest = [s for s in p.secrets if s.startswith(("otpauth://", "$app$"))]
        p.secrets = [hashed, *rest]

    def destroy(self, sb, caller, p) -> None:
        if p.type == "group":
            destroy_unlinked(self, sb, caller, p)  # members point at it (memberGroupIds)
        else:
            self.leave_old_address_on_lists(sb, p, address_of(sb, p))  # recipients are addresses
            super().destroy(sb, caller, p)
        jmap_state(sb).creds.pop(p.id, None)


def _old_numbers(sb, names: list[str]) -> list[int]:
    """≤0.15 permission ids standing for 0.16 names (kept on the principal)."""
    from .permissions import map_name as forward

    wanted = set(names)
    out = []
    for number, old in enumerate(sb.perms.names):
        mapped = forward(old)
        if mapped and set(mapped) <= wanted:
            out.append(number)
    return out


def secondary_view(cred: dict, *, with_type: bool) -> dict:
    obj = {"description": cred["description"], "createdAt": utc(cred["createdAt"]),
           "expiresAt": utc(cred.get("expiresAt")), "allowedIps": dict(cred.get("allowedIps") or {}),
           "permissions": cred.get("permissions") or {"@type": "Inherit"}, "secret": MASK}
    if with_type:
        obj = {"@type": cred["@type"], "credentialId": str(cred["id"]), **obj}
    return obj


def _no_empty_strings(obj: dict) -> None:
    for key, value in obj.items():
        if value == "":
            raise SetError.invalid_patch(key, "Invalid value for property.")


# ------------------------------------------------------------------------------- domains
class DomainKind(Kind):
    name = "Domain"
    prefix = "sysDomain"
    types = ("domain",)
    properties = ("aliases", "allowRelaying", "catchAllAddress", "certificateManagement", "createdAt",
                  "description", "directoryId", "dkimManagement", "dnsManagement", "dnsZoneFile", "isEnabled",
                  "logo", "memberTenantId", "name", "reportAddressUri", "subAddressing")
    filters = ("text", "name", "aliases", "memberTenantId")
    sorts = ("id", "name", "aliases", "memberTenantId")
    _settable = ("aliases", "allowRelaying", "catchAllAddress", "certificateManagement", "description",
                 "directoryId", "dkimManagement", "dnsManagement", "isEnabled", "logo", "memberTenantId", "name",
                 "reportAddressUri", "subAddressing")
    _defaults = {
        "aliases": {},
        "allowRelaying": False,
        "catchAllAddress": None,
        "certificateManagement": {"@type": "Manual"},
        "directoryId": None,
        "dkimManagement": {"@type": "Automatic", "algorithms": {"Dkim1Ed25519Sha256": True, "Dkim1RsaSha256": True},
                           "deleteAfter": 2592000000, "retireAfter": 604800000, "rotateAfter": 7776000000,
                           "selectorTemplate": "v{version}-{algorithm}-{date-%Y%m%d}"},
        "dnsManagement": {"@type": "Manual"},
        "isEnabled": True,
        "reportAddressUri": "mailto:postmaster",
        "subAddressing": {"@type": "Enabled"},
    }

    def view(self, sb, caller, p) -> dict:
        st = jmap_state(sb)
        extra = st.extras.get(p.id, {})
        obj = {"name": p.name, "description": p.description, "createdAt": st.created_at(p),
               "logo": p.picture, "memberTenantId": jid(p.tenant) if p.tenant is not None else None}
        for key, default in self._defaults.items():
            obj[key] = extra.get(key, default)
        return obj

    computed = ("dnsZoneFile",)

    def compute(self, sb, p, prop: str, obj: dict) -> str:
        return self.zone(sb, p, obj)

    def zone(self, sb, p, obj) -> str:
        from ..dkim import parse_algorithm, public_key
        from ..errors import ManagementError

        host = sb.settings.get("server.hostname", "mail.example.org")
        lines = []
        for key in sorted(k for k in sb.settings if k.startswith("signature.") and k.endswith(".domain")):
            if sb.settings[key] != p.name:
                continue  # DKIM first: one TXT per x:DkimSignature of the domain (records.rs)
            base = key[: -len("domain")]
            algorithm = parse_algorithm(sb.settings.get(base + "algorithm"))
            try:
                public = public_key(algorithm, sb.settings.get(base + "private-key", "")) if algorithm else None
            except ManagementError:
                public = None
            if public:
                k = "rsa" if algorithm == "Rsa" else "ed25519"
                selector = sb.settings.get(base + "selector")
                lines.append(f'{selector}._domainkey.{p.name}. IN TXT "v=DKIM1; k={k}; h=sha256; p={public}"')
        if host.endswith("." + p.name):
            lines.append(f'{host}. IN TXT "v=spf1 a -all"')
        lines.append(f'{p.name}. IN TXT "v=spf1 mx -all"')
        lines.append(f"{p.name}. IN MX 10 {host}.")
        report = obj.get("reportAddressUri")
        if report:
            rua = report if "@" in report else f"{report}@{p.name}"
            lines.append(f'_dmarc.{p.name}. IN TXT "v=DMARC1; p=reject; rua={rua}"')
            lines.append(f'_smtp._tls.{p.name}. IN TXT "v=TLSRPTv1; rua={rua}"')
        return "\n".join(lines) + "\n"

    def filter_value(self, sb, p, prop: str):
        if prop == "name":
            return p.name
        if prop == "aliases":
            return jmap_state(sb).extras.get(p.id, {}).get("aliases", {})
        if prop == "memberTenantId":
            return jid(p.tenant) if p.tenant is not None else None
        return super().filter_value(sb, p, prop)

    def text_of(self, sb, p) -> list:
        return [p.name, *jmap_state(sb).extras.get(p.id, {}).get("aliases", {})]

    def check_name(self, sb, name, own_id: int | None, prop: str = "name") -> str:
        if not isinstance(name, str) or not _HOST.match(name.strip().lower()):
            raise SetError.invalid_properties([prop], "Invalid domain name.")
        name = name.strip().lower()
        other = sb.by_name.get(name)
        if other is not None and other != own_id:
            if sb.principals[other].type == "domain":
                raise SetError.primary_key([prop], "Domain", jid(other))
            raise SetError.invalid_properties([prop], "Name is used by another principal.")
        for pid, extra in jmap_state(sb).extras.items():
            if pid != own_id and name in (extra.get("aliases") or {}) and pid in sb.principals:
                raise SetError.primary_key([prop], "Domain", jid(pid))
        return name

    def create(self, sb, caller, obj: dict) -> tuple[int, dict]:
        self.check_patch_keys(obj, self._settable)
        _no_empty_strings(obj)
        if not obj.get("name"):
            raise SetError.required("name")
        name = self.check_name(sb, obj["name"], None)
        tenant_id = self.tenant_for_new(sb, caller, obj)
        self.check_tenant_quota(sb, tenant_id, "maxDomains", ("domain",))
        extras = self._validated_extras(sb, obj, None)
        p = Principal(sb.allocate_id(), "domain", name)
        p.description = obj.get("description")
        p.picture = obj.get("logo")
        p.tenant = tenant_id
        sb.insert(p)
        st = jmap_state(sb)
        st.extras_of(p.id).update(extras)
        st.extras_of(p.id)["createdAt"] = sb.now()
        self.schedule_dkim(sb, p, None)
        return p.id, {"createdAt": utc(sb.now())}

    def schedule_dkim(self, sb, p, before: dict | None) -> None:
        """Switching ``dkimManagement`` to ``Automatic`` (the default on create) schedules a
        ``DkimManagement`` task (mapping/domain.rs ``validate_domain``)."""
        from .ops import new_task

        now = jmap_state(sb).extras.get(p.id, {}).get("dkimManagement", self._defaults["dkimManagement"])
        if (now or {}).get("@type") == "Automatic" and (before or {}).get("@type") != "Automatic":
            new_task(sb, {"@type": "DkimManagement", "domainId": jid(p.id)})

    def _validated_extras(self, sb, patch: dict, own_id: int | None) -> dict:
        out = {}
        for key, value in patch.items():
            if key in ("name", "description", "logo", "memberTenantId"):
                continue
            if key == "aliases":
                if not isinstance(value, dict):
                    raise SetError.invalid_patch(key)
                out[key] = {self.check_name(sb, a, own_id, "aliases"): True for a, v in value.items() if v}
            elif key in ("allowRelaying", "isEnabled"):
                if not isinstance(value, bool):
                    raise SetError.invalid_patch(key, "Invalid value for property.")
                out[key] = value
            elif key in ("catchAllAddress", "reportAddressUri", "directoryId"):
                if value is not None and not isinstance(value, str):
                    raise SetError.invalid_patch(key, "Invalid value for property.")
                if key == "catchAllAddress" and value is not None and "@" not in value:
                    raise SetError.invalid_patch(key, "Invalid value for property.")
                out[key] = value.strip() if isinstance(value, str) else value
            else:
                if not isinstance(value, dict) or "@type" not in value:
                    raise SetError.invalid_patch(key, "Invalid value for property.")
                out[key] = value
        return out

    def update(self, sb, caller, p, patch: dict) -> dict | None:
        self.check_patch_keys(patch, self._settable)
        _no_empty_strings(patch)
        flat = {}
        st = jmap_state(sb)
        current_aliases = dict(st.extras.get(p.id, {}).get("aliases", {}))
        for key, value in patch.items():
            parts = key.split("/")
            if parts[0] == "aliases" and len(parts) == 2:
                if value:
                    current_aliases[parts[1]] = True
                else:
                    current_aliases.pop(parts[1], None)
                flat["aliases"] = current_aliases
            elif len(parts) > 1:
                raise SetError.invalid_patch(key, "Invalid property")
            else:
                flat[key] = value
        new = p.clone()
        if "name" in flat:
            new.name = self.check_name(sb, flat["name"], p.id)
        if "description" in flat:
            new.description = flat["description"]
        if "logo" in flat:
            new.picture = flat["logo"]
        if "memberTenantId" in flat:
            if caller.tenant_id is not None:
                raise SetError.invalid_patch("memberTenantId", "Invalid property")
            new.tenant = self.tenant_for_new(sb, caller, {"memberTenantId": flat["memberTenantId"]})
        extras = self._validated_extras(sb, flat, p.id)
        if new.name != p.name:
            linked = self.linked(sb, p)
            if linked:
                # addresses follow the domain (they are name@domain by reference on 0.16)
                for q in sb.principals.values():
                    if any(split_address(e)[1] == p.name for e in q.emails):
                        moved = q.clone()
                        moved.emails = [f"{split_address(e)[0]}@{new.name}" if split_address(e)[1] == p.name
                                        else e for e in q.emails]
                        if q.name == address_of(sb, q):
                            moved.name = moved.emails[0]
                        sb.replace(moved)
        before = st.extras.get(p.id, {}).get("dkimManagement", self._defaults["dkimManagement"])
        sb.replace(new)
        st.extras_of(p.id).update(extras)
        self.schedule_dkim(sb, new, before)
        return None

    def linked(self, sb, p) -> list[dict]:
        out = []
        for q in sorted(sb.principals.values(), key=lambda q: q.id):
            if q.type in ("individual", "group", "list") and any(split_address(e)[1] == p.name for e in
                                                                  (q.emails or [address_of(sb, q)])):
                out.append({"object": "MailingList" if q.type == "list" else "Account", "id": jid(q.id)})
        if default_domain(sb) == p.name:
            out.append({"object": "SystemSettings", "id": ids.SINGLETON})
        return out

    def destroy(self, sb, caller, p) -> None:
        linked = self.linked(sb, p)
        if linked:
            raise SetError("objectIsLinked", objectId={"object": "Domain", "id": jid(p.id)}, linkedObjects=linked)
        super().destroy(sb, caller, p)


ACCOUNT = AccountKind()
DOMAIN = DomainKind()


# --------------------------------------------------------------------------- links between objects
def linked_to(sb, p) -> list[dict]:
    """Objects whose foreign keys point at ``p`` (memberships, roles, tenant): the registry
    refuses to destroy it while there are any (``objectIsLinked``)."""
    names = {"individual": "Account", "group": "Account", "list": "MailingList", "domain": "Domain",
             "role": "Role", "tenant": "Tenant", "oauthClient": "OAuthClient"}
    out = []
    for q in sorted(sb.principals.values(), key=lambda q: q.id):
        if q.id == p.id or q.type not in names:
            continue
        if q.tenant == p.id or (p.type in ("group", "role") and p.id in q.member_of):
            out.append({"object": names[q.type], "id": jid(q.id)})
    return out


def destroy_unlinked(kind, sb, caller, p) -> None:
    linked = linked_to(sb, p)
    if linked:
        raise SetError("objectIsLinked", objectId={"object": kind.name, "id": jid(p.id)}, linkedObjects=linked)
    Kind.destroy(kind, sb, caller, p)
