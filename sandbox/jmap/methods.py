"""``POST /jmap/``: the request envelope, back-references and the generic
``x:<Object>/get|set|query`` methods (jmap-management.md §3)."""

from __future__ import annotations

import json

from ..errors import ProblemError
from . import ids
from .errors import MethodError, SetError
from .kinds import kinds

CAPABILITIES = frozenset([
    "urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail", "urn:ietf:params:jmap:submission",
    "urn:ietf:params:jmap:vacationresponse", "urn:ietf:params:jmap:contacts", "urn:ietf:params:jmap:calendars",
    "urn:ietf:params:jmap:sieve", "urn:ietf:params:jmap:blob", "urn:ietf:params:jmap:quota",
    "urn:ietf:params:jmap:principals", "urn:ietf:params:jmap:principals:owner", "urn:ietf:params:jmap:filenode",
    "urn:ietf:params:jmap:principals:availability", "urn:ietf:params:jmap:contacts:parse",
    "urn:ietf:params:jmap:calendars:parse", "urn:ietf:params:jmap:mail:share", "urn:stalwart:jmap",
    "urn:ietf:params:jmap:webpush-vapid", "urn:ietf:params:jmap:emailpush", "urn:ietf:params:jmap:websocket",
])
MAX_CALLS = 16
MAX_GET = 500
MAX_SET = 500
MAX_QUERY = 5000
MAX_REQUEST = 10_000_000
_OPS = {"GreaterThanOrEqual", "GreaterThan", "LessThanOrEqual", "LessThan"}


def request_error(type_: str, detail: str, limit: str | None = None) -> ProblemError:
    return ProblemError(400, None, detail, type_=f"urn:ietf:params:jmap:error:{type_}",
                        extra={"limit": limit} if limit else None)


def handle(sb, req, caller) -> dict:
    content_type = (req.header("content-type") or "").split(";", 1)[0].strip().lower()
    if content_type and content_type != "application/json":
        raise request_error("notJSON", "Expected application/json content type.")
    if req.body is None:
        raise request_error("limit", "The request is larger than the server is willing to process.",
                            "maxSizeRequest")
    try:
        body = json.loads(req.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise request_error("notRequest", f"Failed to parse request: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("using"), list) or not isinstance(
            body.get("methodCalls"), list):
        raise request_error("notRequest", "Invalid JMAP request: missing 'using' or 'methodCalls'.")
    for capability in body["using"]:
        if capability not in CAPABILITIES:
            raise request_error("notRequest", f"Unknown capability: {json.dumps(capability)}")
    calls = body["methodCalls"]
    if len(calls) > MAX_CALLS:
        raise request_error("limit", "The request exceeds the maximum number of calls in a single request.",
                            "maxCallsInRequest")
    for entry in calls:
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                and isinstance(entry[1], dict) and isinstance(entry[2], str)):
            raise request_error("notRequest", "Invalid method call.")
    created_ids = dict(body.get("createdIds") or {})
    responses: list = []
    for name, args, call_id in calls:
        try:
            args = resolve_references(args, responses, created_ids)
            result = run_method(sb, caller, name, args, created_ids)
            responses.append([name, result, call_id])
        except MethodError as exc:
            responses.append(["error", exc.body(), call_id])
    answer = {"methodResponses": responses, "sessionState": session_state(sb)}
    if "createdIds" in body:
        answer["createdIds"] = created_ids
    return answer


def session_state(sb) -> str:
    return f"{sb.revision & 0xFFFFFFFF:x}"


# ------------------------------------------------------------------------- back-references
def resolve_references(args: dict, responses: list, created_ids: dict) -> dict:
    out = {}
    for key, value in args.items():
        if key.startswith("#"):
            target = key[1:]
            if target in args:
                raise MethodError("invalidArguments", f"Both {target} and {key} given.")
            if target not in ("ids", "properties", "destroy"):
                raise MethodError("invalidArguments", f"Invalid argument {key}.")
            out[target] = _evaluate(value, responses)
        else:
            out[key] = value
    if isinstance(out.get("ids"), list):
        out["ids"] = [created_ids.get(i[1:], i) if isinstance(i, str) and i.startswith("#") else i
                      for i in out["ids"]]
    return out


def _evaluate(ref, responses: list):
    if not isinstance(ref, dict) or not all(isinstance(ref.get(k), str) for k in ("resultOf", "name", "path")):
        raise MethodError("invalidResultReference", "Invalid result reference.")
    for name, result, call_id in responses:
        if call_id == ref["resultOf"]:
            if name != ref["name"] or "/set" in name:
                raise MethodError("invalidResultReference", "Result reference points to a different method.")
            value = _pointer(result, ref["path"])
            if value is None:
                raise MethodError("invalidResultReference", f"Path {ref['path']} not found.")
            return value
    raise MethodError("invalidResultReference", f"Result reference to {ref['resultOf']} not found.")


def _pointer(value, path: str):
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]] if path.startswith("/") else []
    return _walk(value, parts)


def _walk(value, parts):
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    if head == "*" and isinstance(value, list):
        out = []
        for item in value:
            found = _walk(item, rest)
            if isinstance(found, list):
                out.extend(found)
            elif found is not None:
                out.append(found)
        return out
    if isinstance(value, dict):
        return _walk(value[head], rest) if head in value else None
    if isinstance(value, list) and head.isdigit() and int(head) < len(value):
        return _walk(value[int(head)], rest)
    return None


# ------------------------------------------------------------------------- dispatch
def run_method(sb, caller, name: str, args: dict, created_ids: dict) -> dict:
    if not name.startswith("x:") or "/" not in name:
        raise MethodError("unknownMethod", f"Unknown method: {name}")
    obj_name, op = name[2:].split("/", 1)
    kind = kinds(sb).get(obj_name)
    if kind is None or op not in ("get", "set", "query") or (kind.singleton and op == "query"):
        raise MethodError("unknownMethod", f"Unknown method: {name}")
    if (obj_name == "Tenant" or kind.enterprise_only) and not sb.enterprise:
        raise MethodError("forbidden", "Enterprise feature")
    if op == "set":
        _validate_set(kind, caller, args)
    else:
        permission = kind.prefix + ("Get" if op == "get" else "Query")
        if not caller.has(permission):
            raise MethodError("forbidden", f"You do not have the {permission} permission.")
    _check_account_id(sb, caller, args.get("accountId"))
    from .ops import run_due_tasks

    run_due_tasks(sb)
    response = {"accountId": caller.jmap_id}
    if op == "get":
        response.update(do_get(sb, caller, kind, args))
    elif op == "query":
        if not kind.queryable:
            raise MethodError("invalidArguments", f"{name} is not supported.")
        response.update(do_query(sb, caller, kind, args))
    else:
        response.update(do_set(sb, caller, kind, args, created_ids))
    return response


def _check_account_id(sb, caller, account_id) -> None:
    """An ``accountId`` must be the caller's own, a group the caller belongs to, or the caller
    holds ``impersonate``; an unparsable one means the caller's own."""
    number = ids.decode(account_id) if isinstance(account_id, str) else None
    if number is None or number == caller.account_id or caller.has("impersonate"):
        return
    if number in caller.principal.member_of and sb.type_of(number) == "group":
        return
    raise MethodError("forbidden", f"You are not an owner of account {account_id}.")


def _validate_set(kind, caller, args) -> None:
    if kind.singleton:
        needed = {kind.prefix + "Update"}
        held_any = caller.has(kind.prefix + "Update")
    else:
        ops = {"create": "Create", "update": "Update", "destroy": "Destroy"}
        held_any = any(caller.has(kind.prefix + op) for op in ops.values())
        needed = {kind.prefix + op for key, op in ops.items() if args.get(key)}
    if not held_any:
        raise MethodError("forbidden", f"You do not have permission to modify {kind.name} objects.")
    for permission in sorted(needed):
        if not caller.has(permission):
            raise MethodError("forbidden", f"You do not have the {permission} permission.")


# ------------------------------------------------------------------------- /get
def do_get(sb, caller, kind, args) -> dict:
    wanted = args.get("ids")
    props = args.get("properties")
    if props is not None:
        if not isinstance(props, list) or any(p not in kind.properties and p not in ("id", "@type") for p in props):
            raise MethodError("invalidArguments", "Invalid property in properties.")
    records = kind.records(sb, caller)
    not_found = []
    if wanted is None:
        chosen = [records[k] for k in sorted(records)][:MAX_GET]
        if kind.singleton and not kind.singleton_saved(sb, caller):
            chosen = []  # unsaved singletons are only listed when asked for by id
    else:
        if not isinstance(wanted, list):
            raise MethodError("invalidArguments", "ids must be an array.")
        if len(wanted) > MAX_GET:
            raise MethodError("requestTooLarge", f"You can only request up to {MAX_GET} ids.")
        chosen = []
        for jmap_id in wanted:
            number = ids.decode(jmap_id)
            if number is None or number not in records:
                not_found.append(jmap_id)
            else:
                chosen.append(records[number])
    items = []
    for rec in chosen:
        obj = kind.full_view(sb, caller, rec, props)
        if props is not None:
            obj = {k: v for k, v in obj.items() if k in props or k == "@type" and "@type" in props}
        obj = {"id": ids.encode(rec.id), **obj}
        items.append(obj)
    return {"list": items, "notFound": not_found}


# ------------------------------------------------------------------------- /query
def _conditions(kind, flt) -> list[tuple[str, str, object]]:
    if flt is None:
        return []
    if not isinstance(flt, dict):
        raise MethodError("invalidArguments", "Invalid filter.")
    if "operator" in flt:
        if flt.get("operator") != "AND":
            raise MethodError("unsupportedFilter", f"Unsupported filter operator {flt.get('operator')}.")
        out = []
        for sub in flt.get("conditions") or []:
            out.extend(_conditions(kind, sub))
        return out
    out = []
    for key, value in flt.items():
        prop, op = key, ""
        for suffix in _OPS:
            if key.endswith("Is" + suffix):
                prop, op = key[: -len("Is" + suffix)], suffix
                break
        if prop not in kind.filters:
            raise MethodError("unsupportedFilter", f"Unsupported filter property {key}.")
        out.append((prop, op, value))
    return out


def do_query(sb, caller, kind, args) -> dict:
    conditions = _conditions(kind, args.get("filter"))
    if kind.custom_query is not None:
        return kind.custom_query(sb, caller, args, conditions)
    sort = args.get("sort") or []
    if not isinstance(sort, list):
        raise MethodError("invalidArguments", "Invalid sort.")
    if sort:
        first = sort[0]  # only the first comparator is used
        prop = first.get("property") if isinstance(first, dict) else None
        if kind.sorts is not None and prop not in kind.sorts:
            raise MethodError("unsupportedSort", f"Unsupported sort property {prop}.")
        ascending = first.get("isAscending", True) is not False
    else:
        prop, ascending = kind.default_sort, False  # newest first
    conditions = kind.prepare_conditions(sb, caller, conditions)
    records = kind.query_records(sb, caller)
    matching = [r for r in records.values()
                if all(kind.matches(sb, caller, r, p, op, v) for p, op, v in conditions)]
    position = args.get("position")
    anchor = args.get("anchor")
    anchor_offset = args.get("anchorOffset") or 0
    limit = args.get("limit")
    total = args.get("calculateTotal") is True
    for name, value in (("position", position), ("limit", limit), ("anchorOffset", args.get("anchorOffset"))):
        if value is not None and not isinstance(value, int):
            raise MethodError("invalidArguments", f"Invalid {name}.")
    if limit is not None and limit < 0:
        raise MethodError("invalidArguments", "Invalid limit.")
    effective = MAX_QUERY if limit is None or limit == 0 or limit > MAX_QUERY else limit
    result: dict = {"queryState": "n", "canCalculateChanges": True}

    if prop == "id" and not total and not anchor_offset and (position is None or position > 0):
        # paging pushed into the store: ascending ids, then the page is sorted
        ordered = sorted(matching, key=lambda r: r.id)
        if anchor is not None:
            number = ids.decode(anchor)
            index = next((i for i, r in enumerate(ordered) if r.id == number), None)
            start = len(ordered) if index is None else index + 1
        else:
            start = position or 0
        count = 1 if limit == 0 else effective
        page = ordered[start: start + count]
        page.sort(key=lambda r: r.id, reverse=not ascending)
        result.update({"position": 0, "ids": [ids.encode(r.id) for r in page]})
        return result

    ordered = sorted(matching, key=lambda r: kind.sort_key(sb, r, prop), reverse=not ascending)
    if prop != "id":
        # ties keep id order
        ordered = sorted(ordered, key=lambda r: r.id)
        ordered.sort(key=lambda r: kind.sort_key(sb, r, prop), reverse=not ascending)
    if anchor is not None:
        number = ids.decode(anchor)
        index = next((i for i, r in enumerate(ordered) if r.id == number), None)
        if index is None:
            raise MethodError("anchorNotFound")
        start = max(index + anchor_offset, 0)
    else:
        start = position or 0
        if start < 0:
            start = max(len(ordered) + start, 0)
    if start >= len(ordered):
        page, start = [], 0
    else:
        page = ordered[start: start + effective]
    result.update({"position": start, "ids": [ids.encode(r.id) for r in page]})
    if total:
        result["total"] = len(ordered)
    if limit == 0 and ordered:
        result["limit"] = 0
    elif len(ordered) > effective:
        result["limit"] = effective
    return result


# ------------------------------------------------------------------------- /set
def _replace_creation_ids(value, created_ids: dict):
    if isinstance(value, str) and value.startswith("#") and value[1:] in created_ids:
        return created_ids[value[1:]]
    if isinstance(value, dict):
        return {_replace_creation_ids(k, created_ids): _replace_creation_ids(v, created_ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_creation_ids(v, created_ids) for v in value]
    return value


def do_set(sb, caller, kind, args, created_ids: dict) -> dict:
    create = args.get("create") or {}
    update = args.get("update") or {}
    destroy = args.get("destroy") or []
    if not isinstance(create, dict) or not isinstance(update, dict) or not isinstance(destroy, list):
        raise MethodError("invalidArguments", "Invalid set arguments.")
    if len(create) + len(update) + len(destroy) > MAX_SET:
        raise MethodError("requestTooLarge", f"You can only modify up to {MAX_SET} objects.")
    out: dict = {}
    created, not_created = {}, {}
    for cid, obj in create.items():
        try:
            if not isinstance(obj, dict):
                raise SetError.invalid_patch("", "Invalid object.")
            if kind.singleton and kind.create_updates_singleton:
                (record,) = kind.records(sb, caller).values()
                kind.update(sb, caller, record, _replace_creation_ids(obj, created_ids))
                created_ids[cid] = ids.SINGLETON
                created[cid] = {"id": ids.SINGLETON}
                continue
            if kind.singleton:
                raise SetError("singleton")
            number, extra = kind.create(sb, caller, _replace_creation_ids(obj, created_ids))
            created_ids[cid] = ids.encode(number)
            created[cid] = {"id": ids.encode(number), **extra}
        except SetError as exc:
            not_created[cid] = exc.value
    updated, not_updated = {}, {}
    for jmap_id, patch in update.items():
        jmap_id = _replace_creation_ids(jmap_id, created_ids)
        try:
            if isinstance(patch, dict):
                kind.check_update(sb, caller, patch)
            records = kind.records(sb, caller)
            number = ids.decode(jmap_id)
            if number is None or number not in records or not isinstance(patch, dict):
                raise SetError("notFound")
            updated[jmap_id] = kind.update(sb, caller, records[number], _replace_creation_ids(patch, created_ids))
        except SetError as exc:
            not_updated[jmap_id] = exc.value
    destroyed, not_destroyed = [], {}
    for jmap_id in destroy:
        jmap_id = _replace_creation_ids(jmap_id, created_ids)
        try:
            if kind.singleton:
                raise SetError("singleton")
            records = kind.records(sb, caller)
            number = ids.decode(jmap_id)
            if number is None or number not in records:
                raise SetError("notFound")
            kind.destroy(sb, caller, records[number])
            destroyed.append(jmap_id)
        except SetError as exc:
            not_destroyed[jmap_id] = exc.value
    for key, value in (("created", created), ("notCreated", not_created), ("updated", updated),
                       ("notUpdated", not_updated), ("destroyed", destroyed), ("notDestroyed", not_destroyed)):
        if value:
            out[key] = value
    return out
