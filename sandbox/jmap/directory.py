"""x:MailingList, x:Tenant, x:Role and x:OAuthClient (objects.md §2, §4, §5, §11)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from ..model import Principal
from ..permissions import BUILTIN_ROLE_NAMES
from . import ids
from .errors import SetError
from .objects import (
    _TENANT_QUOTAS,
    ACCOUNT,
    MASK,
    Kind,
    _mapped,
    _no_empty_strings,
    _old_numbers,
    destroy_unlinked,
    jid,
    new_permissions,
    pset,
)
from .ops import RUNNERS
from .permissions import permission_ids
from .store import address_of, domain_id_of, jmap_state, split_address, utc

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _set_patch(current: dict, key: str, value, prop: str) -> dict:
    """Apply ``prop`` (whole set) or ``prop/<member>`` (true/null) to a set value."""
    if key == prop:
        if not isinstance(value, dict):
            raise SetError.invalid_patch(key, "Invalid value for property.")
        return {k: True for k, v in value.items() if v}
    member = unescape(key.split("/", 1)[1])
    out = dict(current)
    if value:
        out[member] = True
    else:
        out.pop(member, None)
    return out


def unescape(member: str) -> str:
    """A JSON-pointer path element: ``~1`` is ``/`` and ``~0`` is ``~`` (RFC 6901)."""
    return member.replace("~1", "/").replace("~0", "~")


def _unique_name(sb, base: str) -> str:
    base = re.sub(r"[^a-z0-9._-]+", "-", base.lower()).strip("-") or "object"
    name, n = base, 1
    while name in sb.by_name:
        n += 1
        name = f"{base}-{n}"
    return name


# ------------------------------------------------------------------------------- lists
class MailingListKind(Kind):
    name = "MailingList"
    prefix = "sysMailingList"
    types = ("list",)
    properties = ("aliases", "description", "domainId", "emailAddress", "memberTenantId", "name", "recipients")
    server_set = ("emailAddress",)
    filters = ("text", "memberTenantId")
    sorts = ("id", "memberTenantId")
    _settable = ("aliases", "description", "domainId", "memberTenantId", "name", "recipients")

    def view(self, sb, caller, p) -> dict:
        address = address_of(sb, p)
        local, domain = split_address(address)
        aliases = {}
        for i, email in enumerate(p.emails[1:]):
            a_local, a_domain = split_address(email)
            aliases[str(i)] = {"name": a_local, "domainId": domain_id_of(sb, a_domain), "enabled": True,
                               "description": None}
        return {"name": local, "domainId": domain_id_of(sb, domain), "emailAddress": address,
                "description": p.description, "aliases": aliases, "recipients": self.recipients(sb, p),
                "memberTenantId": jid(p.tenant) if p.tenant is not None else None}

    def recipients(self, sb, p) -> dict:
        out = {}
        for mid in sb.member_ids(p.id):
            m = sb.principals.get(mid)
            if m is not None:
                out[address_of(sb, m)] = True
        for ext in p.external_members:
            out[ext] = True
        return out

    def text_of(self, sb, p) -> list:
        return [split_address(address_of(sb, p))[0], p.description or "", *p.emails, *self.recipients(sb, p)]

    def filter_value(self, sb, p, prop: str):
        if prop == "memberTenantId":
            return jid(p.tenant) if p.tenant is not None else None
        return super().filter_value(sb, p, prop)

    def create(self, sb, caller, obj: dict):
        self.check_patch_keys(obj, self._settable)
        _no_empty_strings(obj)
        missing = [k for k in ("domainId", "name") if not obj.get(k)]
        if missing:
            raise SetError.required(*missing)
        tenant_id = self.tenant_for_new(sb, caller, obj)
        self.check_tenant_quota(sb, tenant_id, "maxMailingLists", ("list",))
        domain = self.resolve_domain(sb, caller, obj["domainId"])
        address = f"{str(obj['name']).strip().lower()}@{domain.name}"
        self.address_clash(sb, address, None)
        p = Principal(sb.allocate_id(), "list", _unique_name(sb, address))
        p.emails = [address]
        p.tenant = tenant_id
        recipients = {}
        for key, value in obj.items():
            if key == "description":
                p.description = value
            elif key == "aliases":
                aliases = ACCOUNT.patch_aliases(sb, caller, [], [], value)
                for alias in aliases:
                    self.address_clash(sb, alias, None)
                p.emails = [address, *aliases]
            elif key == "recipients":
                recipients = _set_patch({}, key, value, "recipients")
        members = self.split_recipients(sb, p, recipients)
        sb.insert(p)
        for mid in members:
            sb.add_membership(mid, p.id)
        jmap_state(sb).extras_of(p.id)["createdAt"] = sb.now()
        return p.id, {"emailAddress": address}

    def split_recipients(self, sb, p, recipients: dict) -> list[int]:
        """Local accounts become members of the list, other addresses external members."""
        members, external = [], []
        for address in recipients:
            if not _EMAIL.match(address):
                raise SetError.invalid_patch("recipients", "Invalid value for property.")
            pid = sb.emails.get(address.lower())
            if pid is not None and sb.principals[pid].type in ("individual", "group"):
                members.append(pid)
            else:
                external.append(address)
        p.external_members = external
        return members

    def update(self, sb, caller, p, patch: dict):
        self.check_patch_keys(patch, self._settable)
        _no_empty_strings(patch)
        new = p.clone()
        address = address_of(sb, p)
        local, domain = split_address(address)
        aliases = list(p.emails[1:])
        recipients = None
        for key, value in patch.items():
            top = key.split("/", 1)[0]
            if key == "name":
                local = str(value).strip().lower()
            elif key == "domainId":
                domain = self.resolve_domain(sb, caller, value).name
            elif key == "description":
                new.description = value
            elif top == "aliases":
                aliases = ACCOUNT.patch_aliases(sb, caller, aliases, key.split("/")[1:], value)
            elif top == "recipients":
                recipients = _set_patch(self.recipients(sb, p) if recipients is None else recipients, key, value,
                                        "recipients")
            elif key == "memberTenantId":
                if caller.tenant_id is not None:
                    raise SetError.invalid_patch(key, "Invalid property")
                new.tenant = self.tenant_for_new(sb, caller, {"memberTenantId": value})
            else:
                raise SetError.invalid_patch(key, "Invalid property")
        new_address = f"{local}@{domain}"
        for candidate in (new_address, *aliases):
            self.address_clash(sb, candidate, p.id)
        new.emails = [new_address, *[a for a in aliases if a != new_address]]
        members = None if recipients is None else self.split_recipients(sb, new, recipients)
        sb.replace(new)
        if members is not None:
            for mid in sb.member_ids(p.id):
                if mid not in members:
                    sb.remove_membership(mid, p.id)
            for mid in members:
                sb.add_membership(mid, p.id)
        return None


# ------------------------------------------------------------------------------- tenants
class TenantKind(Kind):
    name = "Tenant"
    prefix = "sysTenant"
    types = ("tenant",)
    tenant_scoped = False
    properties = ("createdAt", "logo", "name", "permissions", "quotas", "roles", "usedDiskQuota")
    server_set = ("createdAt", "usedDiskQuota")
    filters = ("text",)
    _settable = ("logo", "name", "permissions", "quotas", "roles")

    def view(self, sb, caller, p) -> dict:
        quota = p.quota if isinstance(p.quota, list) else []
        quotas = {k: quota[i] for k, i in _TENANT_QUOTAS.items() if i < len(quota) and quota[i]}
        quotas.update(jmap_state(sb).extras.get(p.id, {}).get("quotas", {}))
        custom = [r for r in p.member_of if sb.type_of(r) == "role" and r not in BUILTIN_ROLE_NAMES]
        return {"name": p.name, "logo": p.picture, "createdAt": jmap_state(sb).created_at(p),
                "permissions": new_permissions(p, sb), "quotas": quotas,
                "roles": {"@type": "Custom", "roleIds": pset(jid(r) for r in custom)} if custom else {
                    "@type": "Default"},
                "usedDiskQuota": p.used_quota}

    def text_of(self, sb, p) -> list:
        return [p.name]

    def apply(self, sb, caller, p, patch: dict) -> None:
        from ..permissions import BUILTIN_ROLE_IDS

        for key, value in patch.items():
            top = key.split("/", 1)[0]
            if key == "name":
                if not isinstance(value, str) or not value.strip():
                    raise SetError.required("name")
                name = value.strip().lower()
                other = sb.by_name.get(name)
                if other is not None and other != p.id:
                    raise SetError.primary_key(["name"], "Tenant", jid(other))
                p.name = name
            elif key == "logo":
                p.picture = value
            elif top == "quotas":
                current = self.view(sb, caller, p)["quotas"] if p.id in sb.principals else {}
                quotas = value if key == "quotas" else {**current, key.split("/", 1)[1]: value}
                if not isinstance(quotas, dict):
                    raise SetError.invalid_patch(key, "Invalid value for property.")
                quota = [0] * 13
                for name, number in quotas.items():
                    if name not in _TENANT_QUOTAS and name not in ("maxDkimKeys", "maxDnsServers",
                                                                  "maxDirectories", "maxAcmeProviders"):
                        raise SetError.invalid_patch(key, "Invalid value for property.")
                    if number is not None and (not isinstance(number, int) or number < 0):
                        raise SetError.invalid_patch(key, "Invalid value for property.")
                    if name in _TENANT_QUOTAS:
                        quota[_TENANT_QUOTAS[name]] = number or 0
                p.quota = quota
            elif key == "roles":
                if not isinstance(value, dict) or value.get("@type") not in ("Default", "Custom"):
                    raise SetError.invalid_patch(key, "Invalid value for property.")
                roles = [BUILTIN_ROLE_IDS["tenant-admin"], BUILTIN_ROLE_IDS["user"]]
                if value["@type"] == "Custom":
                    roles = []
                    for rid in value.get("roleIds") or {}:
                        number = ids.decode(rid)
                        if number is None or sb.type_of(number) != "role" or number in BUILTIN_ROLE_NAMES:
                            raise SetError.foreign_key("Role", str(rid))
                        roles.append(number)
                p.member_of = sorted(set(roles))
            elif key == "permissions":
                ACCOUNT.apply_permissions(sb, caller, p, value)
            else:
                raise SetError.invalid_patch(key, "Invalid property")

    def create(self, sb, caller, obj: dict):
        self.check_patch_keys(obj, self._settable)
        _no_empty_strings(obj)
        if not obj.get("name"):
            raise SetError.required("name")
        from ..permissions import BUILTIN_ROLE_IDS

        p = Principal(sb.allocate_id(), "tenant", "")
        p.member_of = [BUILTIN_ROLE_IDS["tenant-admin"], BUILTIN_ROLE_IDS["user"]]
        self.apply(sb, caller, p, obj)
        sb.insert(p)
        jmap_state(sb).extras_of(p.id)["createdAt"] = sb.now()
        return p.id, {"createdAt": utc(sb.now())}

    def update(self, sb, caller, p, patch: dict):
        self.check_patch_keys(patch, self._settable)
        _no_empty_strings(patch)
        new = p.clone()
        self.apply(sb, caller, new, patch)
        sb.replace(new)
        return None

    def destroy(self, sb, caller, p) -> None:
        destroy_unlinked(self, sb, caller, p)


# ------------------------------------------------------------------------------- roles
class RoleKind(Kind):
    name = "Role"
    prefix = "sysRole"
    types = ("role",)
    properties = ("description", "disabledPermissions", "enabledPermissions", "memberTenantId", "roleIds")
    server_set = ()
    filters = ("description", "memberTenantId")
    sorts = ("id", "memberTenantId")
    _settable = properties

    def view(self, sb, caller, p) -> dict:
        extra = jmap_state(sb).extras.get(p.id, {})
        return {"description": p.description or p.name,
                "enabledPermissions": extra.get("enabledPermissions", _mapped(p.enabled_permissions)),
                "disabledPermissions": extra.get("disabledPermissions", _mapped(p.disabled_permissions)),
                "roleIds": pset(jid(r) for r in p.member_of if sb.type_of(r) == "role" and r not in
                                BUILTIN_ROLE_NAMES),
                "memberTenantId": jid(p.tenant) if p.tenant is not None else None}

    def matches(self, sb, caller, p, prop, op, value) -> bool:
        if prop == "description":
            hay = (p.description or p.name).lower()
            return all(w in hay for w in str(value).lower().split())
        return super().matches(sb, caller, p, prop, op, value)

    def filter_value(self, sb, p, prop: str):
        if prop == "memberTenantId":
            return jid(p.tenant) if p.tenant is not None else None
        return super().filter_value(sb, p, prop)

    def apply(self, sb, caller, p, patch: dict) -> dict:
        """Returns the 0.16 permission sets to keep next to the principal."""
        view = self.view(sb, caller, p) if p.id in sb.principals else {
            "enabledPermissions": {}, "disabledPermissions": {}, "roleIds": {}}
        sets = {k: dict(view[k]) for k in ("enabledPermissions", "disabledPermissions", "roleIds")}
        for key, value in patch.items():
            top = key.split("/", 1)[0]
            if key == "description":
                if not isinstance(value, str) or not value.strip():
                    raise SetError.required("description")
                p.description = value
            elif top in sets:
                sets[top] = _set_patch(sets[top], key, value, top)
            elif key == "memberTenantId":
                if caller.tenant_id is not None:
                    raise SetError.invalid_patch(key, "Invalid property")
                p.tenant = self.tenant_for_new(sb, caller, {"memberTenantId": value})
            else:
                raise SetError.invalid_patch(key, "Invalid property")
        known = permission_ids()
        for name in (*sets["enabledPermissions"], *sets["disabledPermissions"]):
            if name not in known:
                raise SetError.invalid_patch("enabledPermissions", "Invalid value for property.")
        lacking = sorted(n for n in sets["enabledPermissions"] if not caller.has(n))
        if lacking:
            raise SetError("forbidden", "You are not authorized to grant permissions: " + ", ".join(lacking))
        roles = []
        for rid in sets["roleIds"]:
            number = ids.decode(rid)
            r = sb.principals.get(number) if number is not None else None
            if r is None or r.type != "role" or number == p.id or not self.visible(sb, caller, r):
                raise SetError.foreign_key("Role", str(rid))
            roles.append(number)
        builtin = [r for r in p.member_of if r in BUILTIN_ROLE_NAMES]
        p.member_of = sorted(set(builtin) | set(roles))
        p.enabled_permissions = _old_numbers(sb, list(sets["enabledPermissions"]))
        p.disabled_permissions = _old_numbers(sb, list(sets["disabledPermissions"]))
        return {"enabledPermissions": sets["enabledPermissions"],
                "disabledPermissions": sets["disabledPermissions"]}

    def create(self, sb, caller, obj: dict):
        self.check_patch_keys(obj, self._settable)
        _no_empty_strings(obj)
        if not obj.get("description"):
            raise SetError.required("description")
        tenant_id = self.tenant_for_new(sb, caller, obj)
        self.check_tenant_quota(sb, tenant_id, "maxRoles", ("role",))
        p = Principal(sb.allocate_id(), "role", _unique_name(sb, str(obj["description"])))
        p.tenant = tenant_id
        sets = self.apply(sb, caller, p, {k: v for k, v in obj.items() if k != "memberTenantId"})
        sb.insert(p)
        extras = jmap_state(sb).extras_of(p.id)
        extras.update(sets)
        extras["createdAt"] = sb.now()
        return p.id, {}

    def update(self, sb, caller, p, patch: dict):
        self.check_patch_keys(patch, self._settable)
        _no_empty_strings(patch)
        new = p.clone()
        sets = self.apply(sb, caller, new, patch)
        sb.replace(new)
        jmap_state(sb).extras_of(p.id).update(sets)
        return None

    def destroy(self, sb, caller, p) -> None:
        destroy_unlinked(self, sb, caller, p)


# ------------------------------------------------------------------------------- OAuth clients
class OAuthClientKind(Kind):
    name = "OAuthClient"
    prefix = "sysOAuthClient"
    types = ("oauthClient",)
    properties = ("clientId", "contacts", "createdAt", "description", "expiresAt", "logo", "memberTenantId",
                  "redirectUris", "secret")
    filters = ("text", "clientId", "memberTenantId")
    sorts = ("id", "clientId", "memberTenantId")
    _settable = ("clientId", "contacts", "description", "expiresAt", "logo", "memberTenantId", "redirectUris",
                 "secret")

    def view(self, sb, caller, p) -> dict:
        return {"clientId": p.name, "description": p.description, "contacts": pset(p.emails),
                "redirectUris": pset(p.urls), "secret": MASK if p.secrets else None, "logo": p.picture,
                "expiresAt": jmap_state(sb).extras.get(p.id, {}).get("expiresAt"),
                "createdAt": jmap_state(sb).created_at(p),
                "memberTenantId": jid(p.tenant) if p.tenant is not None else None}

    def filter_value(self, sb, p, prop: str):
        if prop == "clientId":
            return p.name
        if prop == "memberTenantId":
            return jid(p.tenant) if p.tenant is not None else None
        return super().filter_value(sb, p, prop)

    def text_of(self, sb, p) -> list:
        return [p.description or "", *p.emails]

    def apply(self, sb, caller, p, patch: dict) -> None:
        from ..passwords import sha512_crypt_hash

        for key, value in patch.items():
            top = key.split("/", 1)[0]
            if key == "clientId":
                client_id = str(value).strip()
                other = sb.by_name.get(client_id.lower())
                if other is not None and other != p.id:
                    raise SetError.primary_key(["clientId"], "OAuthClient", jid(other))
                p.name = client_id.lower()
            elif key in ("description", "logo"):
                setattr(p, "description" if key == "description" else "picture", value)
            elif top == "contacts":
                contacts = _set_patch(pset(p.emails), key, value, "contacts")
                if any(not _EMAIL.match(c) for c in contacts):
                    raise SetError.invalid_patch(key, "Invalid value for property.")
                p.emails = [c.lower() for c in contacts]
            elif top == "redirectUris":
                p.urls = list(_set_patch(pset(p.urls), key, value, "redirectUris"))
            elif key == "secret":
                p.secrets = [] if value is None else [
                    value if str(value).startswith(("$", "{")) else sha512_crypt_hash(str(value))]
            elif key == "expiresAt":
                jmap_state(sb).extras_of(p.id)["expiresAt"] = value
            elif key == "memberTenantId":
                if caller.tenant_id is not None:
                    raise SetError.invalid_patch(key, "Invalid property")
                p.tenant = self.tenant_for_new(sb, caller, {"memberTenantId": value})
            else:
                raise SetError.invalid_patch(key, "Invalid property")

    def create(self, sb, caller, obj: dict):
        self.check_patch_keys(obj, self._settable)
        _no_empty_strings(obj)
        if not obj.get("clientId"):
            raise SetError.required("clientId")
        tenant_id = self.tenant_for_new(sb, caller, obj)
        self.check_tenant_quota(sb, tenant_id, "maxOauthClients", ("oauthClient",))
        p = Principal(sb.allocate_id(), "oauthClient", "")
        p.tenant = tenant_id
        try:
            self.apply(sb, caller, p, {k: v for k, v in obj.items() if k != "memberTenantId"})
        except SetError:
            jmap_state(sb).extras.pop(p.id, None)
            raise
        sb.insert(p)
        jmap_state(sb).extras_of(p.id)["createdAt"] = sb.now()
        return p.id, {"createdAt": utc(sb.now())}

    def update(self, sb, caller, p, patch: dict):
        self.check_patch_keys(patch, self._settable)
        _no_empty_strings(patch)
        new = p.clone()
        self.apply(sb, caller, new, patch)
        sb.replace(new)
        return None


MAILING_LIST = MailingListKind()
TENANT = TenantKind()
ROLE = RoleKind()
OAUTH_CLIENT = OAuthClientKind()


# ------------------------------------------------------------------------------- DKIM signatures
@dataclass
class SignatureRec:
    """One DKIM key of the settings (``signature.<sid>.*``, the same keys ``/api/dkim`` writes)."""

    id: int
    sid: str
    domain: Principal


_DKIM_TYPES = {"Rsa": "Dkim1RsaSha256", "Ed25519": "Dkim1Ed25519Sha256"}
_DKIM_ALGORITHMS = {v: k for k, v in _DKIM_TYPES.items()}


def signature_number(sid: str) -> int:
    """A stable id for a settings key group (40 bits of its hash: no counter to keep)."""
    return int.from_bytes(hashlib.sha256(sid.encode()).digest()[:5], "big")


def signatures(sb) -> list[tuple[str, str]]:
    """(signature id, domain name) of every key in the settings, in key order."""
    out = []
    for key in sorted(k for k in sb.settings if k.startswith("signature.") and k.endswith(".domain")):
        out.append((key[len("signature.") : -len(".domain")], sb.settings[key]))
    return out


def expand_selector(sb, template: str, algorithm: str) -> str:
    """``generate_dkim_selector`` for the variables the default template uses."""
    now = dt.datetime.fromtimestamp(sb.now(), dt.UTC)
    short = "rsa" if algorithm == "Rsa" else "ed25519"
    out = template.replace("{version}", "1").replace("{algorithm}", short)
    out = re.sub(r"\{date-([^}]*)\}", lambda m: now.strftime(m.group(1)), out)
    out = out.replace("{epoch}", str(int(sb.now()))).replace("{hash}", hashlib.sha256(out.encode()).hexdigest()[:8])
    return out.lower()


class DkimSignatureKind(Kind):
    """x:DkimSignature over the sandbox's DKIM settings (objects.md §17): the seeded keys, those
    of ``POST /api/dkim`` on a ≤0.15 sandbox and those the ``DkimManagement`` task makes."""

    name = "DkimSignature"
    prefix = "sysDkimSignature"
    properties = ("@type", "auid", "canonicalization", "createdAt", "domainId", "expire", "headers",
                  "memberTenantId", "nextTransitionAt", "privateKey", "publicKey", "report", "selector", "stage",
                  "thirdParty", "thirdPartyHash")
    filters = ("domainId", "memberTenantId")
    sorts = ("id", "domainId", "memberTenantId")

    def records(self, sb, caller) -> dict:
        out = {}
        for sid, domain in signatures(sb):
            d = sb.principals.get(sb.by_name.get(domain, -1))
            if d is None or d.type != "domain" or not self.visible(sb, caller, d):
                continue
            number = signature_number(sid)
            out[number] = SignatureRec(number, sid, d)
        return out

    def view(self, sb, caller, rec) -> dict:
        from ..dkim import public_key

        base = f"signature.{rec.sid}."
        algorithm = _algorithm(sb.settings.get(base + "algorithm"))
        try:
            public = public_key(algorithm, sb.settings.get(base + "private-key", "")) if algorithm else None
        except Exception:  # the server leaves an unreadable key's public key out
            public = None
        headers = {v: True for k, v in sb.settings.items() if k.startswith(base + "headers.")}
        created = sb.settings.get(base + "created-at")
        return {
            "@type": _DKIM_TYPES.get(algorithm or "", "Dkim1RsaSha256"),
            "domainId": jid(rec.domain.id),
            "selector": sb.settings.get(base + "selector"),
            "stage": sb.settings.get(base + "stage", "active"),
            "privateKey": {"@type": "Text", "secret": MASK},
            "publicKey": public,
            "canonicalization": sb.settings.get(base + "canonicalization", "relaxed/relaxed"),
            "headers": headers,
            "report": sb.settings.get(base + "report") == "true",
            "auid": None, "expire": None, "nextTransitionAt": None, "thirdParty": None, "thirdPartyHash": None,
            "createdAt": utc(int(created)) if created else None,
            "memberTenantId": jid(rec.domain.tenant) if rec.domain.tenant is not None else None,
        }

    def filter_value(self, sb, rec, prop: str):
        if prop == "domainId":
            return jid(rec.domain.id)
        if prop == "memberTenantId":
            return jid(rec.domain.tenant) if rec.domain.tenant is not None else None
        return None

    def sort_key(self, sb, rec, prop):
        value = rec.id if prop == "id" else self.filter_value(sb, rec, prop)
        return (value is None, value if value is not None else "", rec.id)

    def create(self, sb, caller, obj: dict):
        from ..dkim import public_key, store_signature
        from ..errors import ManagementError

        allowed = ("@type", "domainId", "selector", "privateKey", "stage", "canonicalization", "headers", "report",
                   "auid", "expire", "thirdParty", "thirdPartyHash", "memberTenantId")
        self.check_patch_keys(obj, allowed)
        algorithm = _DKIM_ALGORITHMS.get(obj.get("@type"))
        if algorithm is None:
            raise SetError.invalid_patch("@type", "Invalid value for property.")
        if not obj.get("domainId"):
            raise SetError.required("domainId")
        if not obj.get("selector"):
            raise SetError.required("selector")
        domain = self.resolve_domain(sb, caller, obj["domainId"])
        key = obj.get("privateKey") or {}
        secret = key.get("secret") if isinstance(key, dict) and key.get("@type") == "Text" else ""
        try:
            public_key(algorithm, secret or "")
        except ManagementError as exc:
            reason = exc.body.get("reason") or exc
            raise SetError("invalidProperties", f"Failed to validate DKIM signature: {reason}") from None
        sid = new_signature_id(sb, algorithm, domain.name)
        store_signature(sb, sid, algorithm, domain.name, str(obj["selector"]), secret)
        sb.settings[f"signature.{sid}.created-at"] = str(int(sb.now()))
        return signature_number(sid), {"createdAt": utc(sb.now()), "publicKey": public_key(algorithm, secret)}

    def destroy(self, sb, caller, rec) -> None:
        for key in [k for k in sb.settings if k.startswith(f"signature.{rec.sid}.")]:
            del sb.settings[key]


def _algorithm(value) -> str | None:
    from ..dkim import parse_algorithm

    return parse_algorithm(value)


def new_signature_id(sb, algorithm: str, domain: str) -> str:
    base = f"{'rsa' if algorithm == 'Rsa' else 'ed25519'}-{domain}"
    sid, n = base, 1
    while f"signature.{sid}.domain" in sb.settings:
        n += 1
        sid = f"{base}-{n}"
    return sid


def dkim_management(sb, domain_id) -> None:
    """The ``DkimManagement`` task (services/src/task_manager/dkim.rs): with automatic DKIM
    management, a new key for each configured algorithm that has no active one."""
    from ..dkim import new_private_key, store_signature
    from .objects import DOMAIN

    number = ids.decode(domain_id) if isinstance(domain_id, str) else None
    d = sb.principals.get(number) if number is not None else None
    if d is None or d.type != "domain":
        return
    settings = DOMAIN.view(sb, None, d).get("dkimManagement") or {}
    if settings.get("@type") != "Automatic":
        return  # "Domain is not set to automatic DKIM management"
    active = {_algorithm(sb.settings.get(f"signature.{sid}.algorithm")) for sid, name in signatures(sb)
              if name == d.name and sb.settings.get(f"signature.{sid}.stage", "active") == "active"}
    for kind in settings.get("algorithms") or {}:
        algorithm = _DKIM_ALGORITHMS.get(kind)  # DKIM2 keys are not emulated
        if algorithm is None or algorithm in active:
            continue
        selector = expand_selector(sb, str(settings.get("selectorTemplate") or "v{version}-{algorithm}"), algorithm)
        sid = new_signature_id(sb, algorithm, d.name)
        store_signature(sb, sid, algorithm, d.name, selector, new_private_key(algorithm))
        sb.settings[f"signature.{sid}.created-at"] = str(int(sb.now()))


DKIM_SIGNATURE = DkimSignatureKind()
RUNNERS["DkimManagement"] = lambda sb, task: dkim_management(sb, task.get("domainId"))
