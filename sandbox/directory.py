"""Principal store semantics (the server's ``manage.rs``): input parsing, create, update,
delete, list and output shapes (spec §5). HTTP-independent: ``principals.py`` wires it up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ManagementError, ProblemError
from .model import INPUT_TYPES, TYPE_DISPLAY, TYPE_IDS, Principal, tokenize
from .permissions import BUILTIN_ROLE_IDS, BUILTIN_ROLE_NAMES, role_permission_masks

MAX_STRING_LEN = 512

#: Every ``PrincipalField`` wire name.
FIELDS = (
    "name",
    "type",
    "quota",
    "usedQuota",
    "description",
    "secrets",
    "emails",
    "memberOf",
    "members",
    "tenant",
    "roles",
    "lists",
    "enabledPermissions",
    "disabledPermissions",
    "picture",
    "urls",
    "externalMembers",
)
#: v0.13 adds ``locale``.
FIELDS_V013 = (*FIELDS, "locale")
_LIST_FIELDS = (
    "secrets",
    "emails",
    "memberOf",
    "members",
    "roles",
    "lists",
    "enabledPermissions",
    "disabledPermissions",
    "urls",
    "externalMembers",
)

# --------------------------------------------------------------------------- values


class Bad(Exception):
    """Input that serde would reject (becomes PP 400)."""


def _str_ok(value: str) -> bool:
    return len(value.encode("utf-8", errors="surrogatepass")) <= MAX_STRING_LEN


@dataclass
class PV:
    """A ``PrincipalValue``: kind is S (string), SL (string list), I (int) or IL (int list)."""

    kind: str
    value: Any

    def debug(self) -> str:
        """Rust ``{:?}`` form, e.g. ``String("x")`` or ``Integer(5)``."""
        if self.kind == "S":
            return f"String({rust_debug_str(self.value)})"
        if self.kind == "I":
            return f"Integer({self.value})"
        if self.kind == "SL":
            return "StringList([" + ", ".join(rust_debug_str(v) for v in self.value) + "])"
        return "IntegerList([" + ", ".join(str(v) for v in self.value) + "])"


def rust_debug_str(value: str) -> str:
    """Quote a string like Rust's ``{:?}``."""
    out = ['"']
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\0":
            out.append("\\0")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or 0x80 <= ord(ch) < 0xA0:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _is_uint(v: Any) -> bool:
    return type(v) is int and 0 <= v < 2**64


def parse_value(v: Any) -> PV:
    """Deserialize a ``PrincipalValue`` (null reads as "")."""
    if v is None:
        return PV("S", "")
    if type(v) is str:
        if not _str_ok(v):
            raise Bad("string too long")
        return PV("S", v)
    if _is_uint(v):
        return PV("I", v)
    if type(v) is list:
        strings, ints = [], []
        for item in v:
            if type(item) is str:
                if not _str_ok(item):
                    raise Bad("string too long")
                strings.append(item)
            elif _is_uint(item):
                ints.append(item)
            else:
                raise Bad("invalid item")
        if strings and ints:
            raise Bad("invalid principal value")
        return PV("IL", ints) if ints else PV("SL", strings)
    raise Bad("invalid value")


@dataclass
class NewPrincipal:
    type: str
    fields: dict


def fields_of(sb) -> tuple[str, ...]:
    """The ``PrincipalField`` names the emulated version knows."""
    return FIELDS_V013 if sb.at_least((0, 13)) else FIELDS


def parse_principal(obj: Any, fields: tuple[str, ...] = FIELDS) -> NewPrincipal:
    """Deserialize a principal object for create (§5.2 input rules). Raises PP 400."""
    try:
        return _parse_principal(obj, fields)
    except Bad:
        raise ProblemError.json_failed() from None


def _parse_principal(obj: Any, known: tuple[str, ...] = FIELDS) -> NewPrincipal:
    if type(obj) is not dict:
        raise Bad("not a map")
    typ = "individual"
    fields: dict[str, Any] = {}
    for key, value in obj.items():
        if key == "id" or key == "usedQuota":
            continue
        if key not in known:
            raise Bad(f"invalid principal field: {key}")
        if key == "name":
            if type(value) is not str or not _str_ok(value):
                raise Bad("name")
            fields["name"] = value
        elif key in ("description", "tenant", "picture", "locale"):
            if value is None:
                continue
            if type(value) is not str or not _str_ok(value):
                raise Bad(key)
            fields[key] = value
        elif key == "type":
            if type(value) is not str or value not in INPUT_TYPES:
                raise Bad("invalid principal type")
            typ = INPUT_TYPES[value]
        elif key == "quota":
            fields["quota"] = parse_value(value)
        else:  # string-or-many list fields
            if type(value) is str:
                if not _str_ok(value):
                    raise Bad("string too long")
                fields[key] = [value]
            elif type(value) is list:
                if any(type(item) is not str for item in value):
                    raise Bad("a string or a sequence of strings")
                if value:
                    fields[key] = list(value)
            else:
                raise Bad("a string or a sequence of strings")
    return NewPrincipal(typ, fields)


@dataclass
class Change:
    action: str  # set | addItem | removeItem
    field: str
    value: PV


def parse_changes(obj: Any, fields: tuple[str, ...] = FIELDS) -> list[Change]:
    """Deserialize a PATCH body (array of ``{action, field, value}``). Raises PP 400."""
    if type(obj) is not list:
        raise ProblemError.json_failed()
    changes = []
    try:
        for item in obj:
            if type(item) is not dict:
                raise Bad("not a map")
            if not {"action", "field", "value"} <= item.keys():
                raise Bad("missing field")
            action, field = item["action"], item["field"]
            if action not in ("set", "addItem", "removeItem"):
                raise Bad("action")
            if field not in fields:
                raise Bad("field")
            changes.append(Change(action, field, parse_value(item["value"])))
    except Bad:
        raise ProblemError.json_failed() from None
    return changes


# --------------------------------------------------------------------------- helpers


def has_tenant_access(p: Principal, tenant_id: int | None) -> bool:
    if tenant_id is None:
        return True
    return p.tenant == tenant_id or (p.type == "tenant" and p.id == tenant_id)


def _nth1(value: str, sep: str = "@") -> str | None:
    parts = value.split(sep)
    return parts[1] if len(parts) > 1 else None


def is_otp_auth(secret: str) -> bool:
    return secret.startswith("otpauth://")


def is_app_password(secret: str) -> bool:
    return secret.startswith("$app$")


def is_password(secret: str) -> bool:
    return not is_otp_auth(secret) and not is_app_password(secret)


def _secrets_v014(secrets: list[str]) -> list[str]:
    """v0.14+ keeps the first password only and stores secrets sorted: TOTP secrets, the
    password, then app passwords, each group by value (``PrincipalData`` order)."""
    password = next((s for s in secrets if is_password(s)), None)
    otp = sorted(s for s in secrets if is_otp_auth(s))
    apps = sorted(s for s in secrets if is_app_password(s))
    return list(dict.fromkeys(otp + ([password] if password is not None else []) + apps))


def _err_other(details: str, reason: str | None = None) -> ManagementError:
    return ManagementError.other(details, reason)


def role_grant_check(sb, names, caller_tenant: int | None, caller_mask: int) -> None:
    """The caller must hold every effective permission of each role it grants (§5.3 step 5)."""
    for name in names:
        p = sb.get(name)
        if p is not None and p.type == "role" and has_tenant_access(p, caller_tenant):
            rid = p.id
        elif name in BUILTIN_ROLE_IDS:
            rid = BUILTIN_ROLE_IDS[name]
        else:
            continue
        enabled, disabled = role_permission_masks(sb, rid)
        role_mask = enabled & ~disabled
        if role_mask & ~caller_mask:
            raise _err_other("Invalid role", f"Your account cannot grant the {rust_debug_str(name)} role")


def _permission_ids(sb, field: str, names, allowed_mask: int | None) -> list[int]:
    ids: list[int] = []
    for name in names:
        pid = sb.perms.id_of(name)
        if pid is None:
            raise _err_other(f"Invalid {field} value", f"Permission {rust_debug_str(name)} is invalid")
        if pid in ids:
            continue
        if field == "disabledPermissions" or allowed_mask is None or allowed_mask >> pid & 1:
            ids.append(pid)
        else:
            raise _err_other(
                "Invalid permission",
                f"Your account cannot grant the {rust_debug_str(name)} permission",
            )
    return ids


# Public-suffix approximation for externalMembers (no PSL database offline): any two-letter
# country code plus the common generic TLDs.
_GENERIC_TLDS = set(
    """com net org edu gov mil int info biz name pro aero coop museum mobi asia tel travel
    jobs cat post app dev io ai page blog shop online site store tech xyz club top email
    cloud live digital agency solutions company systems network software services media news
    group global world today one zone space website life studio design art center support
    team tools works host link click help social marketing consulting finance law health
    """.split()
)


def sanitize_email(email: str) -> str | None:
    result = []
    found_local = found_domain = False
    last_ch = "\0"
    for ch in email:
        if ch.isspace():
            continue
        if ch == "@":
            if result and not found_local:
                found_local = True
            else:
                return None
        elif ch == ".":
            if not (last_ch.isalnum() or last_ch in "-_"):
                return None
            elif found_local:
                found_domain = True
        last_ch = ch
        result.append(ch.lower())
    out = "".join(result)
    if not found_domain or last_ch == ".":
        return None
    tld = out.rsplit(".", 1)[-1]
    if not ((len(tld) == 2 and tld.isalpha() and tld.isascii()) or tld in _GENERIC_TLDS):
        return None
    return out


# --------------------------------------------------------------------------- create


def create_principal(sb, new: NewPrincipal, caller_tenant: int | None, allowed_mask: int | None):
    """Steps 6-14 of §5.3 (the caller checked JSON, permission, Enterprise and roles).

    Returns the new principal.
    """
    fields = new.fields
    typ = new.type
    name = fields.get("name", "").lower()
    if not name:
        raise ManagementError.field_missing("name")
    valid_domains: set[str] = set()
    tenant_id = caller_tenant

    # Tenant quotas (type_id + 1 in the tenant's quota array)
    if tenant_id is not None:
        tenant = sb.principals.get(tenant_id)
        if tenant is None:
            raise ManagementError.not_found("")
        if isinstance(tenant.quota, list):
            idx = TYPE_IDS[typ] + 1
            limit = tenant.quota[idx] if idx < len(tenant.quota) else 0
            if isinstance(limit, int) and limit > 0:
                total = sum(1 for p in sb.principals.values() if p.type == typ and has_tenant_access(p, tenant_id))
                if total >= limit:
                    raise ProblemError.tenant_quota()

    if name in sb.by_name:
        raise ManagementError.field_already_exists("name", name)

    if "tenant" in fields and tenant_id is None:
        tname = fields["tenant"]
        t = sb.get(tname)
        if t is None or t.type != "tenant":
            raise ManagementError.not_found(tname)
        tenant_id = t.id

    if tenant_id is not None:
        if typ == "tenant":
            raise _err_other("Invalid field", "Tenants cannot contain a tenant field")
        if typ not in ("tenant", "domain"):
            domain = _nth1(name)
            if domain is not None:
                d = sb.get(domain)
                if d is not None and d.type == "domain" and has_tenant_access(d, tenant_id):
                    valid_domains.add(domain)
            if not valid_domains:
                raise _err_other(
                    "Invalid principal name",
                    "Principal name must include a valid domain assigned to the tenant",
                )

    # Map member names
    members: list[int] = []
    member_of: list[int] = []
    for field, expected in (
        ("members", None),
        ("memberOf", "group"),
        ("lists", "list"),
        ("roles", "role"),
    ):
        for mname in fields.get(field, ()):
            if field == "roles" and mname in BUILTIN_ROLE_IDS:
                mid = BUILTIN_ROLE_IDS[mname]
            else:
                m = sb.get(mname)
                if m is None or (expected is not None and m.type != expected) or not has_tenant_access(m, tenant_id):
                    raise ManagementError.not_found(mname)
                mid = m.id
            target = members if field == "members" else member_of
            if mid not in target:
                target.append(mid)

    enabled = _permission_ids(sb, "enabledPermissions", fields.get("enabledPermissions", ()), allowed_mask)
    disabled = _permission_ids(sb, "disabledPermissions", fields.get("disabledPermissions", ()), allowed_mask)

    emails = list(fields.get("emails", ()))
    if typ != "oauthClient":
        emails = [e.lower() for e in emails]
        for email in emails:
            if email in sb.emails:
                raise ManagementError.field_already_exists("emails", email)
            domain = _nth1(email)
            if domain is not None and domain not in valid_domains:
                valid_domains.add(domain)
                d = sb.get(domain)
                if d is None or d.type != "domain" or not has_tenant_access(d, tenant_id):
                    raise ManagementError.not_found(domain)

    p = Principal(sb.allocate_id(), typ, name)
    p.description = fields.get("description")
    p.picture = fields.get("picture")
    p.locale = fields.get("locale")
    quota = fields.get("quota")
    if quota is not None:
        p.quota = _store_quota(quota)
    p.secrets = list(fields.get("secrets", ()))
    if sb.at_least((0, 14)):
        p.secrets = _secrets_v014(p.secrets)
    p.emails = emails
    p.urls = list(fields.get("urls", ()))
    p.external_members = list(fields.get("externalMembers", ()))
    p.enabled_permissions = enabled
    p.disabled_permissions = disabled
    p.tenant = tenant_id
    p.member_of = sorted(member_of)
    sb.insert(p)
    for mid in members:
        if mid in sb.principals:
            sb.add_membership(mid, p.id)
    return p


def _store_quota(value: PV):
    """Values with one entry are stored as a scalar (so a one-item array reads back as int)."""
    if value.kind in ("IL", "SL"):
        if not value.value:
            return None
        if len(value.value) == 1:
            return value.value[0]
        return list(value.value)
    return value.value


# --------------------------------------------------------------------------- update

_ALLOWED_MEMBER_TYPES = {
    "group": ("individual", "group"),
    "resource": ("resource",),
    "location": ("location", "resource", "individual", "group", "other"),
    "list": ("individual", "group"),
    "role": ("role",),
}


def _validate_member_of(field: str, typ: str, member_type: str, member_name: str) -> None:
    expected: tuple[str, ...] = ()
    if field == "memberOf" and typ == "individual":
        expected = ("group", "individual")
    elif field == "memberOf" and typ == "group":
        expected = ("group",)
    elif field == "lists" and typ in ("individual", "group"):
        expected = ("list",)
    elif field == "roles" and typ in ("individual", "tenant", "role"):
        expected = ("role",)
    if not expected or member_type not in expected:
        if expected:
            reason = (
                f"Principal {rust_debug_str(member_name)} is not a "
                + ", ".join(TYPE_DISPLAY[t] for t in expected)
                + "."
            )
        else:
            reason = f"Principal {rust_debug_str(member_name)} cannot be added as a member."
        raise _err_other(f"Invalid {field} value", reason)


def validate_email(sb, email: str, tenant_id: int | None) -> None:
    if email in sb.emails:
        raise ManagementError.field_already_exists("emails", email)
    domain = _nth1(email)
    if domain is None:
        raise _err_other("Invalid email", "Email address is invalid")
    d = sb.get(domain)
    if d is None or d.type != "domain" or not has_tenant_access(d, tenant_id):
        raise ManagementError.not_found(domain)


def update_principal(sb, p: Principal, changes: list[Change], tenant_id: int | None, allowed_mask: int | None) -> None:
    """Apply PATCH changes in order and atomically (§5.5). Errors leave nothing changed."""
    w = p.clone()
    typ = p.type
    validate_emails = typ != "oauthClient"
    member_of: list[int] = list(p.member_of)
    members: list[int] = sb.member_ids(p.id)
    allowed_member_types = _ALLOWED_MEMBER_TYPES.get(typ, ())
    valid_domains: set[str] = set()
    quota_moves: list[tuple[int, int]] = []  # (tenant id, delta)

    def invalid(change: Change):
        return _err_other("Invalid parameter", f"Invalid value {change.value.debug()} for {change.field}")

    def resolve_member_of(field: str, mname: str) -> tuple[int, str]:
        if field == "roles" and mname in BUILTIN_ROLE_IDS:
            return BUILTIN_ROLE_IDS[mname], "role"
        m = sb.get(mname)
        if m is None or not has_tenant_access(m, tenant_id):
            raise ManagementError.not_found(mname)
        return m.id, m.type

    for change in changes:
        action, field, kind, value = change.action, change.field, change.value.kind, change.value.value

        if action == "set" and field == "name" and kind == "S":
            new_name = value.lower()
            if w.name != new_name:
                if tenant_id is not None and typ not in ("tenant", "domain"):
                    domain = _nth1(new_name)
                    if domain is not None:
                        d = sb.get(domain)
                        if d is not None and d.type == "domain" and has_tenant_access(d, tenant_id):
                            valid_domains.add(domain)
                    if not valid_domains:
                        raise _err_other(
                            "Invalid principal name",
                            "Principal name must include a valid domain assigned to the tenant",
                        )
                if new_name in sb.by_name:
                    raise ManagementError.field_already_exists("name", new_name)
                w.name = new_name

        elif action == "set" and field == "tenant" and kind == "S" and tenant_id is None:
            if value:
                t = sb.get(value)
                if t is None:
                    raise ManagementError.not_found(value)
                if t.type != "tenant":
                    raise _err_other("Not a tenant", f"Principal {rust_debug_str(value)} is not a tenant")
                if w.tenant == t.id:
                    continue
                if p.used_quota > 0:
                    if w.tenant is not None:
                        quota_moves.append((w.tenant, -p.used_quota))
                    quota_moves.append((t.id, p.used_quota))
                w.tenant = t.id
            elif w.tenant is not None:
                if p.used_quota > 0:
                    quota_moves.append((w.tenant, -p.used_quota))
                w.tenant = None

        elif action == "set" and field == "secrets" and kind in ("S", "SL"):
            w.secrets = [value] if kind == "S" else list(value)
            if sb.at_least((0, 14)):
                w.secrets = _secrets_v014(w.secrets)
        elif action == "addItem" and field == "secrets" and kind == "S" and sb.at_least((0, 14)):
            # One password and one TOTP secret: adding either replaces the one held.
            if value not in w.secrets:
                if is_otp_auth(value):
                    w.secrets = [s for s in w.secrets if not is_otp_auth(s)]
                elif is_password(value):
                    w.secrets = [s for s in w.secrets if not is_password(s)]
                w.secrets = _secrets_v014(w.secrets + [value])
        elif action == "removeItem" and field == "secrets" and kind == "S" and not value and sb.at_least((0, 14)):
            # v0.14+: the empty string removes app passwords and TOTP secrets, not the password.
            w.secrets = [s for s in w.secrets if is_password(s)]
        elif action == "addItem" and field == "secrets" and kind == "S":
            if value not in w.secrets:
                if is_otp_auth(value):
                    w.secrets.insert(0, value)
                else:
                    w.secrets.append(value)
        elif action == "removeItem" and field == "secrets" and kind == "S":
            if is_app_password(value) or is_otp_auth(value):
                w.secrets = [s for s in w.secrets if s != value and not s.startswith(value)]
            elif value:
                w.secrets = [s for s in w.secrets if s != value]
            else:
                w.secrets = [s for s in w.secrets if not is_password(s)]

        elif action == "set" and field in ("description", "picture", "locale") and kind == "S":
            setattr(w, field, value if value else None)

        elif action == "set" and field == "quota" and kind == "I" and typ in ("individual", "group", "tenant"):
            w.quota = value
        elif (
            action == "set"
            and field == "quota"
            and kind == "S"
            and typ in ("individual", "group", "tenant")
            and value == ""
        ):
            w.quota = None
        elif action == "set" and field == "quota" and kind == "IL" and typ == "tenant" and len(value) <= 13:
            w.quota = _store_quota(change.value)

        elif action == "set" and field == "emails" and kind == "SL":
            emails = [e.lower() for e in value]
            for email in emails:
                if email not in w.emails and validate_emails:
                    validate_email(sb, email, tenant_id)
            w.emails = emails
        elif action == "addItem" and field == "emails" and kind == "S":
            email = value.lower()
            if email not in w.emails:
                if validate_emails:
                    validate_email(sb, email, tenant_id)
                w.emails.append(email)
        elif action == "removeItem" and field == "emails" and kind == "S":
            email = value.lower()
            if email in w.emails:
                w.emails = [e for e in w.emails if e != email]

        elif action == "set" and field in ("memberOf", "lists", "roles") and kind == "SL":
            new_member_of: list[int] = []
            for mname in value:
                mid, mtype = resolve_member_of(field, mname)
                _validate_member_of(field, typ, mtype, mname)
                if mid not in new_member_of:
                    new_member_of.append(mid)
            member_of = new_member_of
        elif action == "addItem" and field in ("memberOf", "lists", "roles") and kind == "S":
            mid, mtype = resolve_member_of(field, value)
            if mid not in member_of:
                _validate_member_of(field, typ, mtype, value)
                member_of.append(mid)
        elif action == "removeItem" and field in ("memberOf", "lists", "roles") and kind == "S":
            m = sb.get(value)
            mid = m.id if m is not None else (BUILTIN_ROLE_IDS.get(value) if field == "roles" else None)
            if mid is not None and mid in member_of:
                member_of.remove(mid)

        elif action == "set" and field == "members" and kind == "SL":
            new_members: list[int] = []
            for mname in value:
                m = sb.get(mname)
                if m is None or not has_tenant_access(m, tenant_id):
                    raise ManagementError.not_found(mname)
                if m.type not in allowed_member_types:
                    raise _members_type_error(mname, allowed_member_types)
                if m.id not in new_members:
                    new_members.append(m.id)
            members = new_members
        elif action == "addItem" and field == "members" and kind == "S":
            m = sb.get(value)
            if m is None or not has_tenant_access(m, tenant_id):
                raise ManagementError.not_found(value)
            if m.id not in members:
                if m.type not in allowed_member_types:
                    raise _members_type_error(value, allowed_member_types)
                members.append(m.id)
        elif action == "removeItem" and field == "members" and kind == "S":
            m = sb.get(value)
            if m is not None and m.id in members:
                members.remove(m.id)

        elif action == "set" and field in ("enabledPermissions", "disabledPermissions") and kind == "SL":
            ids = _permission_ids(sb, field, value, allowed_mask)
            _set_perm_list(w, field, ids)
        elif action == "addItem" and field in ("enabledPermissions", "disabledPermissions") and kind == "S":
            ids = _permission_ids(sb, field, [value], allowed_mask)
            current = _get_perm_list(w, field)
            if ids[0] not in current:
                _set_perm_list(w, field, current + ids)
        elif action == "removeItem" and field in ("enabledPermissions", "disabledPermissions") and kind == "S":
            pid = sb.perms.id_of(value)
            if pid is None:
                raise _err_other(f"Invalid {field} value", f"Permission {rust_debug_str(value)} is invalid")
            _set_perm_list(w, field, [x for x in _get_perm_list(w, field) if x != pid])

        elif action == "set" and field in ("urls", "externalMembers") and kind == "SL":
            items = list(value)
            if field == "externalMembers":
                items = [_sanitize_external(item) for item in items]
            _set_str_list(w, field, items)
        elif action == "addItem" and field in ("urls", "externalMembers") and kind == "S":
            item = _sanitize_external(value) if field == "externalMembers" else value
            current = _get_str_list(w, field)
            if item not in current:
                _set_str_list(w, field, current + [item])
        elif action == "removeItem" and field in ("urls", "externalMembers") and kind == "S":
            _set_str_list(w, field, [x for x in _get_str_list(w, field) if x != value])

        else:
            raise invalid(change)

    # Commit
    w.member_of = sorted(set(member_of))
    old_members = set(sb.member_ids(p.id))
    sb.replace(w)
    new_members_set = set(members)
    for mid in old_members - new_members_set:
        sb.remove_membership(mid, p.id)
    for mid in members:
        if mid not in old_members and mid in sb.principals:
            sb.add_membership(mid, p.id)
    for tid, delta in quota_moves:
        t = sb.principals.get(tid)
        if t is not None:
            t.used_quota += delta


def _members_type_error(name: str, allowed) -> ManagementError:
    return _err_other(
        "Invalid members value",
        f"Principal {rust_debug_str(name)} is not one of " + ", ".join(TYPE_DISPLAY[t] for t in allowed) + ".",
    )


def _sanitize_external(item: str) -> str:
    clean = sanitize_email(item)
    if clean is None:
        raise _err_other("Invalid email address", f"Invalid value {rust_debug_str(item)} for externalMembers")
    return clean


def _get_perm_list(p: Principal, field: str) -> list[int]:
    return p.enabled_permissions if field == "enabledPermissions" else p.disabled_permissions


def _set_perm_list(p: Principal, field: str, ids: list[int]) -> None:
    if field == "enabledPermissions":
        p.enabled_permissions = list(ids)
    else:
        p.disabled_permissions = list(ids)


def _get_str_list(p: Principal, field: str) -> list[str]:
    return p.urls if field == "urls" else p.external_members


def _set_str_list(p: Principal, field: str, items: list[str]) -> None:
    if field == "urls":
        p.urls = list(items)
    else:
        p.external_members = list(items)


# --------------------------------------------------------------------------- delete

_TENANT_MEMBER_TYPES = ("individual", "group", "role", "list", "resource", "other", "location", "domain", "apiKey")
_DOMAIN_MEMBER_TYPES = ("individual", "group", "role", "list", "resource", "other", "location")


def _found_message(prefix: str, names: list[str]) -> str:
    message = prefix + ", ".join(names)
    if len(names) > 5:
        message += f" and {len(names) - 5} others"
    return message


def delete_principal(sb, p: Principal) -> None:
    """Delete one principal (§5.5 DELETE rules)."""
    if p.type in ("individual", "group"):
        if p.tenant is not None and p.used_quota > 0:
            t = sb.principals.get(p.tenant)
            if t is not None:
                t.used_quota -= p.used_quota
    elif p.type == "tenant":
        names = [
            name for name in sb.sorted_names if (m := sb.get(name)).type in _TENANT_MEMBER_TYPES and m.tenant == p.id
        ]
        if names:
            raise _err_other(
                "Tenant has members",
                _found_message("Tenant must have no members to be deleted: Found: ", names),
            )
    elif p.type == "domain" and p.tenant is not None:
        lname = p.name.lower()
        names = []
        for name in sb.sorted_names:
            m = sb.get(name)
            if m.type in _DOMAIN_MEMBER_TYPES and m.tenant == p.tenant and "@" in m.name:
                if m.name.rsplit("@", 1)[1].lower() == lname:
                    names.append(m.name)
        if names:
            raise _err_other(
                "Domain has members",
                _found_message("Domains must have no members to be deleted: Found: ", names),
            )
    sb.remove(p.id)


# --------------------------------------------------------------------------- listing

def _find_str(p: Principal, term: str) -> bool:
    """v0.11 filter term: a substring of some string field (lowercased)."""
    for value in (p.name, p.description, p.picture):
        if value and term in value.lower():
            return True
    if isinstance(p.quota, str) and term in p.quota.lower():
        return True
    for values in (p.secrets, p.emails, p.urls, p.external_members):
        for value in values:
            if term in value.lower():
                return True
    return False


def select_principals(sb, filter_: str | None, tenant_id: int | None, types: list[str]) -> list[Principal]:
    """Principals matching types, tenant and filter, in name order."""
    type_set = set(types)
    if sb.at_least((0, 12)):
        candidates = None
        if filter_ is not None and filter_.strip():
            candidates = None
            words = tokenize(filter_)
            if not words:
                return []
            for word in words:
                ids = sb.word_index.get(word, set())
                candidates = set(ids) if candidates is None else candidates & ids
                if not candidates:
                    return []
        out = []
        for name in sb.sorted_names:
            p = sb.principals[sb.by_name[name]]
            if type_set and p.type not in type_set:
                continue
            if not has_tenant_access(p, tenant_id):
                continue
            if candidates is not None and p.id not in candidates:
                continue
            out.append(p)
        return out
    terms = [t.lower() for t in filter_.split()] if filter_ else []
    out = []
    for name in sb.sorted_names:
        p = sb.principals[sb.by_name[name]]
        if type_set and p.type not in type_set:
            continue
        if not has_tenant_access(p, tenant_id):
            continue
        if terms and not all(_find_str(p, t) for t in terms):
            continue
        out.append(p)
    return out


def list_principals(
    sb,
    filter_: str | None,
    tenant_id: int | None,
    types: list[str],
    fields: list[str],
    page: int,
    limit: int,
) -> dict:
    """``{items, total}`` for GET /api/principal (§5.4)."""
    offset = max(page - 1, 0) * limit
    v012 = sb.at_least((0, 12))
    no_filter = not filter_ or (v012 and not filter_.strip()) or (not v012 and not filter_.split())
    if no_filter and tenant_id is None:
        # Fast path: totals from per-type counters, items from the start of the name index.
        wanted = set(types)
        if wanted:
            total = sum(sb.type_counts.get(t, 0) for t in wanted)
        else:
            total = len(sb.principals)
        items = []
        if limit == 0 or offset < total:
            skip = offset
            for name in sb.sorted_names:
                p = sb.principals[sb.by_name[name]]
                if wanted and p.type not in wanted:
                    continue
                if skip:
                    skip -= 1
                    continue
                items.append(p)
                if limit and len(items) >= limit:
                    break
    else:
        matches = select_principals(sb, filter_ if not no_filter else None, tenant_id, types)
        total = len(matches)
        items = matches[offset : offset + limit] if limit else matches[offset:]
    return {"items": [principal_json(sb, p, fields) for p in items], "total": total}


# --------------------------------------------------------------------------- output


def _domain_counts(sb) -> dict[str, int]:
    cache = getattr(sb, "_domain_count_cache", None)
    if cache is not None and cache[0] == sb.revision:
        return cache[1]
    counts: dict[str, int] = {}
    for email in sb.emails:
        if "@" in email:
            domain = email.rsplit("@", 1)[1]
            counts[domain] = counts.get(domain, 0) + 1
    sb._domain_count_cache = (sb.revision, counts)
    return counts


def principal_json(sb, p: Principal, fields: list[str] | tuple = ()) -> dict:
    """The JSON object of a principal for the configured version (§5.2 output)."""
    want = (lambda f: True) if not fields else (lambda f: f in fields)
    v012 = sb.at_least((0, 12))
    v014 = sb.at_least((0, 14))
    out: dict[str, Any] = {"id": p.id, "type": p.type}

    def multi(field: str, values: list[str]):
        if not want(field):
            return
        if v014:
            # Built from one entry per item: nothing when there is none.
            if values:
                out[field] = [values[0], *sorted(values[1:])] if field == "emails" else list(values)
        elif v012:
            if field in ("secrets", "emails") or values:
                out[field] = list(values)
        elif len(values) == 1:
            out[field] = values[0]
        elif values:
            out[field] = list(values)

    if want("name"):
        out["name"] = p.name
    if p.description is not None and want("description"):
        out["description"] = p.description
    if p.quota is not None and want("quota"):
        out["quota"] = _quota_json(p.quota, v012)
        if out["quota"] is None:
            del out["quota"]
    multi("secrets", p.secrets)
    multi("emails", p.emails)
    multi("urls", p.urls)
    multi("externalMembers", p.external_members)
    if p.picture is not None and want("picture"):
        out["picture"] = p.picture
    if p.locale is not None and want("locale"):
        out["locale"] = p.locale

    groups, lists, roles = [], [], []
    for mid in p.member_of:
        if mid in BUILTIN_ROLE_NAMES:
            roles.append(BUILTIN_ROLE_NAMES[mid])
            continue
        m = sb.principals.get(mid)
        if m is None:
            continue
        if m.type == "list":
            lists.append(m.name)
        elif m.type == "role":
            roles.append(m.name)
        else:
            groups.append(m.name)
    for field, values in (("memberOf", groups), ("lists", lists), ("roles", roles)):
        if values and want(field):
            out[field] = values

    if want("members"):
        if p.type in ("group", "list", "role"):
            names = [sb.principals[mid].name for mid in sb.member_ids(p.id) if mid in sb.principals]
            if names:
                out["members"] = names
        elif p.type == "domain":
            out["members"] = _domain_counts(sb).get(p.name, 0)
        elif p.type == "tenant":
            out["members"] = sum(1 for m in sb.principals.values() if m.type == "individual" and m.tenant == p.id)

    if p.tenant is not None and want("tenant"):
        t = sb.principals.get(p.tenant)
        if t is not None:
            out["tenant"] = t.name
    if p.type in ("individual", "group", "tenant") and p.used_quota > 0 and want("usedQuota"):
        out["usedQuota"] = p.used_quota
    for field, ids in (
        ("enabledPermissions", p.enabled_permissions),
        ("disabledPermissions", p.disabled_permissions),
    ):
        if ids and want(field):
            out[field] = [sb.perms.names[i] for i in ids if i < sb.perms.count]
    return out


def _quota_json(quota, v012: bool):
    if not v012:
        return quota
    if isinstance(quota, list):
        ints = [q if isinstance(q, int) else 0 for q in quota]
        if any(ints[1:]):
            return (ints + [0] * 13)[:13]
        return ints[0] if ints and ints[0] else None
    if isinstance(quota, str):
        return int(quota) if quota.isdigit() else None
    return quota
