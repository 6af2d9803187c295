"""Settings singletons and collections of the 0.16 front-end, driven by the server's own
schema (``schema.json.gz``, see ``schema.py``): every ``x:`` object of type ``singleton`` or
``object`` that no other module emulates (``x:SystemSettings``, ``x:Security``,
``x:DataRetention``, ``x:NetworkListener``, ``x:SpamRule``, ``x:MtaRoute``, …).

* Singletons: ``/get`` with ``"singleton"`` returns the schema defaults overlaid with what was
  saved (with ``ids: null`` only saved singletons are listed); ``/set`` ``update`` (or
  ``create``) on ``"singleton"``; destroy → ``singleton``.
* Collections: server-assigned ids, ``/query`` with ``text`` (any string value) and equality
  on top-level properties, sort on ``id`` or any top-level property.
* Validation follows the schema's property types (jmap-management.md §3.6): an unknown property,
  a wrong JSON type, a bad enum value, ``""``, a server-set property or (on update) an
  immutable one → ``invalidPatch``; a value of the right type failing its format (e-mail
  address, IP address or network, URI) → ``invalidProperties``; ``min``/``max``/``maxLength``/
  ``minItems`` → ``validationFailed`` (``MinValue``/``MaxValue``/``MaxLength``/``MinLength``); a
  non-nullable id or string without default missing on create → ``validationFailed``
  ``Required``. Every error names the property (its patch path).
* Secrets (``secret``/``secretText`` formats) read back as ``"****"``; sending ``"****"`` keeps
  the stored value.

The values live in ``ops_state(sb)`` (the ≤0.15 key/value settings have no one-to-one mapping
onto these objects); ``x:SystemSettings`` starts from the REST configuration's host name and
default domain."""

from __future__ import annotations

import copy
import functools
import ipaddress
import re
from dataclasses import dataclass

from . import ids
from .errors import SetError
from .objects import Kind
from .ops import ops_state
from .schema import schema
from .store import default_domain, parse_utc

MASK = "****"
SKIP = {
    # emulated elsewhere, or self-service / account-scoped objects with their own semantics
    "Action", "DkimSignature", "AccountSettings", "PublicKey", "MaskedEmail", "SieveUserScript",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")
_PRINCIPAL_TYPES = {"x:Domain": ("domain",), "x:Account": ("individual", "group"), "x:Tenant": ("tenant",),
                    "x:Role": ("role",), "x:MailingList": ("list",)}


def _fields(schema_name: str | None) -> dict:
    if schema_name is None:
        return {"properties": {}, "defaults": {}}
    return schema()["fields"].get(schema_name) or {"properties": {}, "defaults": {}}


def _variants(object_name: str) -> dict[str, str | None] | None:
    """``@type`` name → schema name of a polymorphic object, or None for a single one."""
    entry = schema()["schemas"].get(object_name) or {"type": "single", "schemaName": object_name}
    if entry["type"] != "multiple":
        return None
    return {v["name"]: v.get("schemaName") for v in entry["variants"]}


def _single_schema(object_name: str) -> str:
    entry = schema()["schemas"].get(object_name) or {}
    return entry.get("schemaName", object_name)


def _bad(path: str, description: str = "Invalid value for property.") -> SetError:
    return SetError.invalid_patch(path, description)


def _limits(t: dict, value, path: str) -> None:
    if "min" in t and value < t["min"]:
        raise SetError("validationFailed", validationErrors=[
            {"type": "MinValue", "property": path, "value": value, "required": t["min"]}])
    if "max" in t and value > t["max"]:
        raise SetError("validationFailed", validationErrors=[
            {"type": "MaxValue", "property": path, "value": value, "required": t["max"]}])


def check_value(sb, t: dict, value, path: str, stored=None):
    """The value checked against schema type ``t`` (normalised), or a SetError naming ``path``."""
    if value is None:
        if t.get("nullable"):
            return None
        raise _bad(path)
    kind = t["type"]
    if kind == "string":
        if not isinstance(value, str) or value == "":
            raise _bad(path)
        fmt = t.get("format")
        if fmt in ("secret", "secretText") and value == MASK:
            return stored
        if "maxLength" in t and len(value) > t["maxLength"]:
            raise SetError("validationFailed", validationErrors=[
                {"type": "MaxLength", "property": path, "value": len(value), "required": t["maxLength"]}])
        if fmt == "emailAddress" and not _EMAIL.match(value):
            raise SetError.invalid_properties([path], "Invalid e-mail address.")
        if fmt in ("ipAddress", "ipNetwork"):
            try:
                (ipaddress.ip_address if fmt == "ipAddress" else ipaddress.ip_network)(value)
            except ValueError:
                raise SetError.invalid_properties([path], "Invalid IP address.") from None
        if fmt == "uri" and not _URI.match(value):
            raise SetError.invalid_properties([path], "Invalid URI.")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(path)
        fmt = t.get("format")
        if fmt != "float":
            if isinstance(value, float) and not value.is_integer():
                raise _bad(path)
            value = int(value)
            if fmt in ("unsignedInteger", "size", "duration") and value < 0:
                raise _bad(path)
            if fmt == "duration" and value == 0:
                raise _bad(path)
        _limits(t, value, path)
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _bad(path)
        return value
    if kind == "enum":
        names = {e["name"] for e in schema()["enums"].get(t["enumName"], [])}
        if value not in names:
            raise _bad(path)
        return value
    if kind == "objectId":
        number = ids.decode(value) if isinstance(value, str) else None
        if number is None:
            raise _bad(path)
        types = _PRINCIPAL_TYPES.get(t.get("objectName"))
        if types is not None:
            p = sb.principals.get(number)
            if p is None or p.type not in types:
                raise SetError.foreign_key(t["objectName"].removeprefix("x:"), value)
        return value
    if kind == "utcDateTime":
        if parse_utc(value) is None:
            raise _bad(path)
        return value
    if kind == "blobId":
        if not isinstance(value, str) or not value:
            raise _bad(path)
        return value
    if kind == "set":
        if not isinstance(value, dict) or any(v is not True for v in value.values()):
            raise _bad(path)
        out = {}
        for member in value:
            if member == "":
                raise _bad(path, "Invalid key for object property")
            out[check_value(sb, t["class"], member, f"{path}/{member}")] = True
        if len(out) < t.get("minItems", 0):
            raise SetError("validationFailed", validationErrors=[
                {"type": "MinLength", "property": path, "value": len(out), "required": t["minItems"]}])
        return out
    if kind == "map":
        if not isinstance(value, dict):
            raise _bad(path)
        return {check_value(sb, t["keyClass"], k, f"{path}/{k}"): check_value(sb, t["valueClass"], v, f"{path}/{k}")
                for k, v in value.items()}
    if kind == "objectList":
        if not isinstance(value, dict) or not all(k.isdigit() for k in value):
            raise _bad(path)
        # keys are kept as sent (a u32 each), in their order (types/list.rs: no renumbering, so
        # `list/2: null` leaves `0`, `1`, `3`)
        return {str(int(k)): check_object(sb, t["objectName"], value[k], f"{path}/{k}")
                for k in sorted(value, key=int)}
    if kind == "object":
        return check_object(sb, t["objectName"], value, path)
    raise _bad(path)


def check_object(sb, object_name: str, value, path: str, stored: dict | None = None) -> dict:
    if not isinstance(value, dict):
        raise _bad(path)
    variants = _variants(object_name)
    out: dict = {}
    if variants is not None:
        variant = value.get("@type")
        if variant not in variants:
            raise _bad(f"{path}/@type" if path else "@type")
        out["@type"] = variant
        fields = _fields(variants[variant])
    else:
        fields = _fields(_single_schema(object_name))
    for key, item in value.items():
        if key == "@type" and variants is not None:
            continue
        spec = fields["properties"].get(key)
        where = f"{path}/{key}" if path else key
        if spec is None:
            raise _bad(where, "Invalid property")
        out[key] = check_value(sb, spec["type"], item, where, (stored or {}).get(key))
    return out


def defaults_of(object_name: str, variant: str | None = None) -> dict:
    variants = _variants(object_name)
    if variants is not None:
        variant = variant or next(iter(variants))
        fields = _fields(variants[variant])
        base = {"@type": variant}
    else:
        fields = _fields(_single_schema(object_name))
        base = {}
    out = dict(base)
    for key, spec in fields["properties"].items():
        if key in fields.get("defaults", {}):
            out[key] = copy.deepcopy(fields["defaults"][key])
        elif spec["type"]["type"] in ("set", "map", "objectList"):
            out[key] = {}
        else:
            out[key] = None
    return out


def _mask(object_name: str, value: dict) -> dict:
    """Secrets read back as "****", also inside nested objects (the `x:Secret*` wrappers:
    a DKIM key reads `{"@type": "Text", "secret": "****"}`, objects.md). Sent back, a masked
    wrapper is not the stored secret: there is no pass-through inside them."""
    variants = _variants(object_name)
    fields = _fields(variants[value.get("@type")] if variants and value.get("@type") in variants
                     else _single_schema(object_name))
    out = dict(value)
    for key, spec in fields["properties"].items():
        t, item = spec["type"], out.get(key)
        if item is None:
            continue
        if t.get("format") in ("secret", "secretText"):
            out[key] = MASK
        elif t["type"] == "object" and isinstance(item, dict):
            out[key] = _mask(t["objectName"], item)
        elif t["type"] == "objectList" and isinstance(item, dict):
            out[key] = {k: _mask(t["objectName"], v) if isinstance(v, dict) else v for k, v in item.items()}
    return out


def _child_type(t: dict | None, node, part: str) -> dict | None:
    """The schema type of `part` inside a value of type `t` (None: unknown)."""
    if t is None:
        return None
    if t["type"] == "map":
        return t["valueClass"]
    if t["type"] == "objectList":
        return {"type": "object", "objectName": t["objectName"]}
    if t["type"] == "object":
        variants = _variants(t["objectName"])
        if variants is not None:
            variant = node.get("@type") if isinstance(node, dict) else None
            schema_name = variants.get(variant) if isinstance(variant, str) else None
        else:
            schema_name = _single_schema(t["objectName"])
        spec = _fields(schema_name)["properties"].get(part)
        return spec["type"] if spec else None
    return None


def _apply_patch(current: dict, key: str, value, t: dict | None = None) -> tuple[str, object]:
    """Apply one PatchObject entry; returns the top-level property and its new value. A null
    removes an entry of a map or a list; on an object's property it is the value patched
    (checked next: a property that may not be null is refused, as patch.rs does)."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in key.split("/")]
    top = parts[0]
    if len(parts) == 1:
        return top, value
    root = copy.deepcopy(current.get(top))
    if not isinstance(root, dict):
        raise _bad(key)
    node = root
    for part in parts[1:-1]:
        if not isinstance(node.get(part), dict):
            raise _bad(key)
        t = _child_type(t, node, part)
        node = node[part]
    if value is None and (t is None or t["type"] in ("map", "objectList")):
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value
    return top, root


@dataclass
class Rec:
    id: int
    values: dict


class SettingsKind(Kind):
    tenant_scoped = False
    sorts = None

    def __init__(self, object_name: str, entry: dict):
        self.object_name = object_name
        self.name = object_name.removeprefix("x:")
        self.prefix = entry["permissionPrefix"]
        self.singleton = entry["type"] == "singleton"
        self.enterprise_only = self.name == "Enterprise"
        variants = _variants(object_name)
        names = set()
        for schema_name in (variants.values() if variants else [_single_schema(object_name)]):
            names.update(_fields(schema_name)["properties"])
        self.properties = tuple(sorted(names | ({"@type"} if variants else set())))
        self.filters = ("text", *self.properties)

    # ---- storage
    def _store(self, sb) -> dict[int, dict]:
        return ops_state(sb).collections.setdefault(self.name, {})

    def _singleton(self, sb) -> dict:
        saved = ops_state(sb).singletons.get(self.name)
        base = defaults_of(self.object_name, (saved or {}).get("@type"))
        if self.name == "SystemSettings":
            pid = sb.by_name.get(default_domain(sb))
            base["defaultDomainId"] = ids.encode(pid) if pid is not None else None
            base["defaultHostname"] = sb.settings.get("server.hostname", "mail.example.org")
        merged = {**base, **(saved or {})}
        if self.name == "OidcProvider":  # one state with the sign-in code (auth.py)
            merged["requireClientRegistration"] = sb.settings.get("oauth.require-client-registration") == "true"
        return merged

    create_updates_singleton = True

    def singleton_saved(self, sb, caller) -> bool:
        return self.name in ops_state(sb).singletons

    def records(self, sb, caller) -> dict:
        if self.singleton:
            number = ids.decode(ids.SINGLETON)
            return {number: Rec(number, self._singleton(sb))}
        return {k: Rec(k, v) for k, v in self._store(sb).items()}

    def view(self, sb, caller, rec) -> dict:
        values = rec.values
        if not self.singleton:
            values = {**defaults_of(self.object_name, values.get("@type")), **values}
        return _mask(self.object_name, values)

    def matches(self, sb, caller, rec, prop, op, value) -> bool:
        if prop == "text":
            needle = str(value).lower()
            return any(isinstance(v, str) and needle in v.lower() for v in rec.values.values())
        return rec.values.get(prop) == value

    def sort_key(self, sb, rec, prop):
        if prop == "id":
            return rec.id
        value = rec.values.get(prop)
        return (value is None, str(value) if value is not None else "")

    # ---- set
    def _validated(self, sb, current: dict, patch: dict, *, creating: bool) -> dict:
        variants = _variants(self.object_name)
        result = copy.deepcopy(current)
        if variants is not None and "@type" in patch:
            if patch["@type"] not in variants:
                raise _bad("@type")
            if patch["@type"] != result.get("@type"):
                result = defaults_of(self.object_name, patch["@type"])
        variant = result.get("@type") if variants is not None else None
        fields = _fields(variants[variant] if variants is not None else _single_schema(self.object_name))
        changed: dict = {}
        for key, value in patch.items():
            if key == "@type" and variants is not None:
                continue
            if key in ("id",):
                raise _bad(key, "Cannot modify server set property")
            first = key.split("/", 1)[0].replace("~1", "/").replace("~0", "~")
            top_spec = fields["properties"].get(first)
            top, new = _apply_patch(result, key, value, top_spec["type"] if top_spec else None)
            spec = fields["properties"].get(top)
            if spec is None:
                raise _bad(key, "Invalid property")
            if spec.get("update") == "serverSet":
                raise _bad(key, "Cannot modify server set property")
            if spec.get("update") == "immutable" and not creating:
                raise _bad(key, "Cannot modify read-only property")
            if spec.get("enterprise") and not sb.enterprise:
                raise SetError("forbidden", f"{top} is an Enterprise feature.")
            try:
                result[top] = check_value(sb, spec["type"], new, top, current.get(top))
            except SetError as exc:
                if exc.value.get("properties") == [top] and key != top:
                    exc.value["properties"] = [key]
                raise
            changed[top] = result[top]
        if creating:
            missing = [k for k, spec in fields["properties"].items()
                       if result.get(k) is None and not spec["type"].get("nullable")
                       and spec.get("update") != "serverSet"
                       and spec["type"]["type"] in ("objectId", "string")]
            if missing:
                raise SetError.required(*missing)
        return result

    def create(self, sb, caller, obj: dict):
        if self.singleton:
            raise SetError("singleton")
        variants = _variants(self.object_name)
        if variants is not None and obj.get("@type") not in variants:
            raise _bad("@type")
        values = self._validated(sb, defaults_of(self.object_name, obj.get("@type")), obj, creating=True)
        st = ops_state(sb)
        number = st.new_id()
        self._store(sb)[number] = values
        return number, {}

    def update(self, sb, caller, rec, patch: dict):
        values = self._validated(sb, rec.values, patch, creating=False)
        if self.singleton:
            ops_state(sb).singletons[self.name] = values
            if self.name == "OidcProvider":
                sb.settings["oauth.require-client-registration"] = (
                    "true" if values.get("requireClientRegistration") else "false")
        else:
            self._store(sb)[rec.id] = values
        return None

    def destroy(self, sb, caller, rec) -> None:
        self._store(sb).pop(rec.id, None)


@functools.cache
def settings_kinds(taken: frozenset[str]) -> tuple[SettingsKind, ...]:
    out = []
    for object_name, entry in schema()["objects"].items():
        name = object_name.removeprefix("x:")
        if not object_name.startswith("x:") or "/" in object_name or entry["type"] not in ("singleton", "object"):
            continue
        if name in taken or name in SKIP or "permissionPrefix" not in entry:
            continue
        out.append(SettingsKind(object_name, entry))
    return tuple(out)
