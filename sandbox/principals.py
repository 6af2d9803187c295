"""``/api/principal`` (spec §5.3–§5.6)."""

from __future__ import annotations

from . import directory
from .directory import (
    fields_of,
    has_tenant_access,
    list_principals,
    parse_changes,
    parse_principal,
    principal_json,
    role_grant_check,
    select_principals,
)
from .errors import ManagementError, ProblemError
from .http import data_response, decode_path_element
from .model import INPUT_TYPES
from .permissions import principal_permission
from .routing import api_module, path_element

#: Types whose -list permission is required when no types are given (all nine groups).
_ALL_LIST_TYPES = (
    "individual",
    "group",
    "list",
    "domain",
    "tenant",
    "role",
    "other",
    "apiKey",
    "oauthClient",
)


def _parse_types(value: str | None) -> list[str]:
    types: list[str] = []
    for item in (value or "").split(","):
        typ = INPUT_TYPES.get(item)
        if typ is not None and typ not in types:
            types.append(typ)
    return types


def _parse_fields(sb, value: str | None) -> list[str]:
    known = fields_of(sb)
    fields: list[str] = []
    for item in (value or "").split(","):
        if item in known and item not in fields:
            fields.append(item)
    return fields


def _tenant_param(sb, access, params) -> int | None:
    """The tenant restriction of list and bulk delete (Enterprise, callers without a tenant)."""
    tenant = access.tenant_id
    if sb.enterprise and tenant is None:
        name = params.get("tenant")
        if name is not None:
            t = sb.get(name)
            tenant = t.id if t is not None and t.type == "tenant" else None
    return tenant


@api_module("principal")
def handle_principal(sb, req):
    access = req.access
    name_element = path_element(req, 1)
    method = req.method

    if (name_element is None or (name_element == "deploy" and sb.at_least((0, 13)))) and method == "POST":
        # v0.13+: /deploy creates even where the directory is external (the sandbox's never is)
        return _create(sb, req, access)
    if name_element is None and method == "GET":
        return _list(sb, req, access)
    if name_element is None and method == "DELETE":
        return _bulk_delete(sb, req, access)
    if name_element is None:
        raise ProblemError.not_found()

    name = decode_path_element(name_element)
    p = sb.get(name)
    if p is None or not has_tenant_access(p, access.tenant_id):
        raise ManagementError.not_found(name)
    if p.type == "tenant" and not sb.enterprise:
        raise ManagementError.enterprise()

    if method == "GET":
        access.require(principal_permission(p.type, "get"))
        return data_response(principal_json(sb, p))
    if method == "DELETE":
        access.require(principal_permission(p.type, "delete"))
        directory.delete_principal(sb, p)
        return data_response(None)
    if method == "PATCH":
        permission = principal_permission(p.type, "update")
        access.require(permission)
        changes = parse_changes(req.json_body(), fields_of(sb))
        for change in changes:
            if change.field == "tenant" and access.tenant_id is not None:
                raise ProblemError.forbidden()
            if change.field == "roles" and change.action in ("set", "addItem"):
                if change.value.kind == "S":
                    names = [change.value.value]
                elif change.value.kind == "SL":
                    names = change.value.value
                else:
                    continue
                role_grant_check(sb, names, access.tenant_id, access.permissions)
        directory.update_principal(sb, p, changes, access.tenant_id, access.permissions)
        return data_response(None)
    raise ProblemError.not_found()


def _create(sb, req, access):
    new = parse_principal(req.json_body(), fields_of(sb))
    access.require(principal_permission(new.type, "create"))
    if (new.type == "tenant" or "tenant" in new.fields) and not sb.enterprise:
        raise ManagementError.enterprise()
    if new.type == "individual" and sb.enterprise and sb.at_least((0, 15)):
        if sb.type_counts.get("individual", 0) + 1 > sb.licensed_accounts:
            raise ManagementError.other(
                "License account limit reached",
                f"Enterprise licensed account limit reached: {sb.licensed_accounts} accounts licensed.",
            )
    role_grant_check(sb, new.fields.get("roles", ()), access.tenant_id, access.permissions)
    set_report_domain = new.type == "domain" and "report.domain" not in sb.settings
    p = directory.create_principal(sb, new, access.tenant_id, access.permissions)
    if set_report_domain:
        sb.settings["report.domain"] = p.name
    return data_response(p.id)


def _list(sb, req, access):
    params = req.params
    filter_ = params.get("filter")
    page = params.get_uint("page") or 0
    limit = params.get_uint("limit") or 0
    count = "count" in params
    types_value = params.get("types")
    if types_value is None:
        types_value = params.get("type")
    types = _parse_types(types_value)
    fields = _parse_fields(sb, params.get("fields"))

    for typ in types or _ALL_LIST_TYPES:
        access.require(principal_permission(typ, "list"))

    tenant = _tenant_param(sb, access, params)
    if not sb.enterprise and "tenant" in types:
        raise ManagementError.enterprise()

    result = list_principals(sb, filter_, tenant, types, fields, page, limit)
    if count:
        result["items"] = []
    return data_response(result)


def _bulk_delete(sb, req, access):
    params = req.params
    typ = INPUT_TYPES.get(params.get("type") or "")
    if typ is None:
        raise ProblemError.bad_parameters("Invalid type")
    if params.get("confirm") != "true":
        raise ProblemError.bad_parameters("Missing confirmation parameter")
    access.require(principal_permission(typ, "delete"))
    tenant = _tenant_param(sb, access, params)
    if not sb.enterprise and typ == "tenant":
        raise ManagementError.enterprise()
    filter_ = params.get("filter")
    if sb.at_least((0, 12)):
        no_filter = not filter_ or not filter_.strip()
    else:
        no_filter = not filter_ or not filter_.split()
    matches = select_principals(sb, None if no_filter else filter_, tenant, [typ])
    # The server deletes in the background and only logs per-principal errors; the sandbox
    # does it before answering so that the outcome is deterministic.
    for p in matches:
        current = sb.principals.get(p.id)
        if current is None:
            continue
        try:
            directory.delete_principal(sb, current)
        except (ManagementError, ProblemError):
            pass
    return data_response(bool(matches))
