"""Settings on Stalwart 0.16+, generated from the server's own schema (`_registry(request)`).

* `index`: the schema's settings navigation (sections, then their objects).
* `page`: a singleton (or a view of one) as a form, or a collection as a paged list.
* `item`, `create`, `delete`: one object of a collection.
* `reload`: the `x:Action` `ReloadSettings`.

Every change shows a preview first (each property's current and new value; secrets only as
"set"), works without JavaScript (the preview carries what was typed, a typed secret sealed),
and saving checks that the values the preview showed are still the server's (a fingerprint of
them travels signed). What the server refuses comes back next to the field its property path
names.

Each page is gated on its object's own 0.16 permission, read from the URL before any upstream
call (`sys<Object>Get` to read, `…Query` too for a collection's list, `…Update` to save,
`…Create` to create, `…Destroy` to delete; the schema's `permissionPrefix` is `sys<Object>`
for every `x:` object, and a page whose schema says otherwise is checked again against it).
The index and the menu need the right to read at least one settings object, and the index
lists only the objects the person may read.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core import signing
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal import responses
from portal.access import require
from portal.auth.vault import seal, unseal
from portal.permissions import SETTINGS_OBJECTS, Access, needs, needs_native
from portal.request import PortalRequest
from portal.stalwart import errors
from portal.stalwart.backend import SettingsRegistryArea
from portal.stalwart.settings_types import (
    SINGLETON_ID,
    Field,
    NavNode,
    Section,
    SetOutcome,
    SettingsPage,
    SettingsSchema,
    slug_of,
)

from .schema_forms import SchemaForm, remove_name, shown

log = logging.getLogger("portal.settings")

FINGERPRINT_SALT = "portal.settings.schema"
PAGE_SIZE = 25
#: What each operation needs on <= 0.15 servers (where these pages say they are not available).
_LEGACY = {
    "Get": ("settings-list",),
    "Query": ("settings-list",),
    "Update": ("settings-list", "settings-update"),
    "Create": ("settings-list", "settings-update"),
    "Destroy": ("settings-list", "settings-delete"),
}


def object_permission(slug: str, operation: str) -> str:
    """The 0.16 permission of an operation on the object a page slug names:
    `object_permission("SystemSettings.NetworkSettings", "Get")` -> "sysSystemSettingsGet"."""
    return f"sys{slug.split('.', 1)[0][:100]}{operation}"


def _gate(operation: str) -> Callable[..., Access]:
    def rule(slug: str = "", **_: Any) -> Access:
        names = [object_permission(slug, operation)]
        if operation != "Get":
            names.append(object_permission(slug, "Get"))  # every page reads the object first
        return needs_native(*names, legacy=_LEGACY[operation])

    return rule


READ = _gate("Get")
UPDATE = _gate("Update")
CREATE = _gate("Create")
DESTROY = _gate("Destroy")


def _registry(request: PortalRequest) -> SettingsRegistryArea:
    """The settings objects of the session's server (only Stalwart 0.16+ has them)."""
    area = getattr(request.stalwart, "registry", None)
    if not isinstance(area, SettingsRegistryArea):
        raise errors.NotOnThisServer(gettext("Only Stalwart 0.16 and later have this page."), operation="registry")
    return area


def _can(request: PortalRequest, page: SettingsPage, operation: str) -> bool:
    """The person may do `operation` (Get, Query, Update, Create, Destroy) on the page's object
    (its slug's and, where the schema names another, the schema's `permissionPrefix`)."""
    user = request.portal_user
    names = {object_permission(page.slug, operation), page.permission_prefix + operation}
    return user.has_native(*names)


def _refusal(request: PortalRequest, page: SettingsPage, *operations: str) -> HttpResponse | None:
    """The 403 page when the person may not do every one of `operations` on the page's object
    as the schema names it (None: allowed)."""
    if all(_can(request, page, op) for op in operations):
        return None
    needed = Access(native=frozenset(page.permission_prefix + op for op in operations))
    return responses.forbidden(request, request.portal_user, needed)


async def _schema_page(
    request: PortalRequest, slug: str, *operations: str
) -> tuple[SettingsSchema, SettingsPage] | HttpResponse:
    """The schema and the page of `slug`, or the 403 page when the person may not do the
    `operations` (and Get) on its object: checked by the URL's name before any upstream call
    (the view's decorator checks only what every method of it needs: a POST that saves also
    needs `…Update`), then as the schema names the object."""
    for operation in operations:
        access = _gate(operation)(slug=slug)
        if not access.allows(request.portal_user):
            return responses.forbidden(request, request.portal_user, access)
    schema = await _registry(request).schema()
    page = schema.page(slug)
    if page is None:
        raise Http404(gettext("The server has no such settings object."))
    refused = _refusal(request, page, "Get", *operations)
    return refused if refused is not None else (schema, page)


def _saving(request: PortalRequest) -> tuple[str, ...]:
    """What a form page's request needs beyond reading: a POST saves."""
    return ("Update",) if request.method == "POST" else ()


def readable(request: PortalRequest, nodes: tuple[NavNode, ...], schema: SettingsSchema) -> tuple[NavNode, ...]:
    """The navigation less the objects the person may not read (and headings left empty)."""
    kept: list[NavNode] = []
    for node in nodes:
        if node.slug:
            page = schema.page(node.slug)
            if page is not None and _can(request, page, "Get"):
                kept.append(node)
        else:
            children = readable(request, node.children, schema)
            if children:
                kept.append(NavNode(node.label, children=children))
    return tuple(kept)


def _page_url(page: SettingsPage) -> str:
    return reverse("config:schema-page", kwargs={"slug": page.slug})


def _item_url(page: SettingsPage, object_id: str) -> str:
    if page.singleton:
        return _page_url(page)
    return reverse("config:schema-item", kwargs={"slug": page.slug, "object_id": object_id})


def _item_link(page: SettingsPage, object_id: str) -> str:
    """The page of an object a server value names ("" for an id no URL can carry)."""
    if not object_id or "/" in object_id or len(object_id) > 100:
        return ""
    return _item_url(page, object_id)


def _references(
    schema: SettingsSchema, page: SettingsPage, fields: dict[str, Field]
) -> dict[str, tuple[str, str]]:
    """The list's id columns: property -> (the collection it points at, the property naming its objects)."""
    found: dict[str, tuple[str, str]] = {}
    for column in page.columns:
        field = fields.get(column.name)
        if field is None or field.type.kind != "objectId":
            continue
        target = field.type.object_name
        if target.startswith("x:") and schema.is_collection(target):
            label = schema.label_property(target)
            if label:
                found[column.name] = (target, label)
    return found


def _targets(schema: SettingsSchema, fields: list[Field]) -> dict[str, str]:
    """The collections the id fields point at, with the property that names their objects."""
    found: dict[str, str] = {}
    for field in fields:
        t = field.type.item if field.type.kind == "set" and field.type.item is not None else field.type
        if t.kind == "objectId" and t.object_name.startswith("x:") and schema.is_collection(t.object_name):
            found[t.object_name] = schema.label_property(t.object_name)
    return found


async def _with_held(
    registry: SettingsRegistryArea,
    schema: SettingsSchema,
    fields: list[Field],
    values: Mapping[str, Any],
    choices: dict[str, tuple[tuple[str, str], ...]],
) -> dict[str, tuple[tuple[str, str], ...]]:
    """`choices` with the objects the id fields hold that they lack (a server gives the first
    `maxObjectsInGet` of a collection), named in one more request. An id the server does not
    name stays a choice under its id, so a form saved unchanged keeps what it held."""
    held: dict[str, set[str]] = {}
    for field in fields:
        t = field.type.item if field.type.kind == "set" and field.type.item is not None else field.type
        if t.kind != "objectId" or t.object_name not in choices:
            continue
        value = values.get(field.name)
        ids = {str(k) for k, on in value.items() if on} if isinstance(value, dict) else set()
        ids |= {str(v) for v in value} if isinstance(value, list) else set()
        if isinstance(value, str) and value:
            ids.add(value)
        if missing := ids - {option for option, _label in choices[t.object_name]}:
            held.setdefault(t.object_name, set()).update(missing)
    if not held:
        return choices
    named = await registry.choices(
        {name: schema.label_property(name) for name in held}, ids={name: sorted(ids) for name, ids in held.items()}
    )
    merged = dict(choices)
    for name, ids in held.items():
        labels = dict(named.get(name, ()))
        extra = [(ident, labels.get(ident, ident)) for ident in sorted(ids)]
        merged[name] = tuple(sorted((*choices[name], *extra), key=lambda option: option[1].lower()))
    return merged


def _fingerprint(values: dict[str, Any], names: list[str]) -> str:
    text = json.dumps({name: values.get(name) for name in sorted(names)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _unseal(form: SchemaForm) -> None:
    """What was typed, with each secret typed on the preview step unsealed (into the bound
    form's own copy of the POST, before it is read)."""
    data = form.data
    if not isinstance(data, QueryDict):
        return
    for name in form.secret_names():
        sealed = data.get("sealed:" + name, "")
        if not data.get(name) and sealed:
            data[name] = unseal(sealed) or ""


def _hidden(form: SchemaForm, data: QueryDict) -> list[tuple[str, str]]:
    """The typed values as hidden inputs of the preview (secrets sealed, never as typed)."""
    pairs: list[tuple[str, str]] = []
    for name, kind in form.kinds.items():
        for value in data.getlist(name):
            if kind == "secret":
                if value:
                    pairs.append(("sealed:" + name, seal(value)))
            else:
                pairs.append((name, value))
    return pairs


def _show_problems(form: SchemaForm, outcome: SetOutcome) -> None:
    for problem in outcome.problems:
        name = form.locate(problem.path) if problem.path else ""
        if name:
            form.add_error(name, problem.message)
        elif problem.path:
            form.add_error(None, f"{problem.path}: {problem.message}")
        else:
            form.add_error(None, problem.message)


def _layout(
    form: SchemaForm, sections: tuple[Section, ...], *, enterprise: bool, editable: bool = True
) -> list[dict[str, Any]]:
    """The form's sections, each field either editable (`bound`) or shown as it is (every
    field, for someone who may not change the object)."""
    layout = []
    for section in sections:
        rows = []
        for field in section.fields:
            if editable and field.name in form.nodes:
                rows.append({"field": field, "nested": form.node_view(form.nodes[field.name])})
                continue
            if editable and field.name in form.manys:
                rows.append({"field": field, "many": form.many_view(form.manys[field.name])})
                continue
            bound = form[field.name] if editable and field.name in form.fields else None
            remove = remove_name(field.name)
            if bound is None and form.creating:
                continue
            rows.append(
                {
                    "field": field,
                    "bound": bound,
                    "remove": form[remove] if bound is not None and remove in form.fields else None,
                    "kind": form.kinds.get(field.name, ""),
                    "shown": shown(form.schema, field, form.current.get(field.name), form.choices),
                    "enterprise": field.enterprise and not enterprise,
                }
            )
        if rows:
            layout.append({"title": section.title, "rows": rows})
    return layout


# --- navigation -------------------------------------------------------------------------
@require_GET
@require(SETTINGS_OBJECTS)
async def index(request: PortalRequest) -> HttpResponse:
    schema = await _registry(request).schema()
    navigation = readable(request, schema.navigation(), schema)
    context = {"navigation": navigation, "can_reload": request.portal_user.has("settings-reload")}
    return render(request, "settings_pages/schema_index.html", context)


# --- a singleton, or a collection's list ------------------------------------------------
@require_http_methods(["GET", "POST"])
@require(READ)
async def page(request: PortalRequest, slug: str) -> HttpResponse:
    found = await _schema_page(request, slug, *_saving(request))
    if isinstance(found, HttpResponse):
        return found
    schema, settings_page = found
    if settings_page.singleton:
        return await _edit(request, schema, settings_page, SINGLETON_ID)
    if request.method == "POST":
        return HttpResponse(status=405)
    refused = _refusal(request, settings_page, "Query")  # a collection's list is a query too
    return refused if refused is not None else await _list(request, schema, settings_page)


async def _list(request: PortalRequest, schema: SettingsSchema, settings_page: SettingsPage) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    try:
        number = max(1, min(int(request.GET.get("page") or 1), 100_000))
    except ValueError:
        number = 1
    properties = {c.name for c in settings_page.columns if not c.name.startswith("@")}
    if settings_page.label_property:
        properties.add(settings_page.label_property)
    if settings_page.variants:
        properties.add("@type")
    fields: dict[str, Field] = {}
    for variant in settings_page.variants or ():
        for name, field in schema.properties(variant.schema_name).items():
            fields.setdefault(name, field)
    if not settings_page.variants:
        fields = schema.properties(schema.schema_name(settings_page))
    references = _references(schema, settings_page, fields)
    found = await _registry(request).list(
        settings_page, text=query, position=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE, properties=properties,
        references=references,
    )
    # the pages of the objects the id columns point at, where the person may read them
    linked = {
        name: target
        for name, (object_name, _) in references.items()
        for target in (schema.page(slug_of(object_name)),)
        if target is not None and not target.singleton and _can(request, target, "Get")
    }
    variant_labels = {v.name: v.label for v in settings_page.variants}
    rows = []
    for item in found.items:
        cells = []
        for column in settings_page.columns:
            value = item.values.get(column.name)
            url = ""
            if column.name == "@type":
                text = variant_labels.get(str(value), str(value or ""))
            elif column.name in references and isinstance(value, str) and value:
                text = item.names.get(column.name) or value
                url = _item_link(linked[column.name], value) if column.name in linked else ""
            elif column.name in fields:
                text = shown(schema, fields[column.name], value)
            else:
                text = "" if value is None else str(value)
            cells.append((column.label, text, url))
        rows.append({"id": item.id, "url": _item_url(settings_page, item.id), "cells": cells})
    pages = max(1, (found.total + PAGE_SIZE - 1) // PAGE_SIZE)

    def link(to: int) -> str:
        params = {key: value for key, value in (("q", query), ("page", to if to > 1 else "")) if value}
        return _page_url(settings_page) + ("?" + urlencode(params) if params else "")

    context = {
        "settings_page": settings_page,
        "rows": rows,
        "total": found.total,
        "query": query,
        "page_number": number,
        "pages": pages,
        "previous_url": link(number - 1) if number > 1 else "",
        "next_url": link(number + 1) if number < pages else "",
        "can_update": _can(request, settings_page, "Create"),
    }
    template = "settings_pages/schema_list.html#results" if request.htmx else "settings_pages/schema_list.html"
    return render(request, template, context)


# --- one object ---------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@require(READ)
async def item(request: PortalRequest, slug: str, object_id: str) -> HttpResponse:
    found = await _schema_page(request, slug, *_saving(request))
    if isinstance(found, HttpResponse):
        return found
    schema, settings_page = found
    if settings_page.singleton:
        return HttpResponseRedirect(_page_url(settings_page))
    return await _edit(request, schema, settings_page, object_id[:100])


async def _edit(
    request: PortalRequest, schema: SettingsSchema, settings_page: SettingsPage, object_id: str
) -> HttpResponse:
    registry = _registry(request)
    # The first read also gives the current variant; a singleton may switch to another one.
    all_fields = [f for s in schema.sections(settings_page) for f in s.fields]
    for option in settings_page.variants:
        all_fields += [f for s in schema.sections(settings_page, option.name) for f in s.fields]
    record = await registry.read(settings_page, object_id, targets=_targets(schema, all_fields))
    current = dict(record.item.values)
    choices = await _with_held(registry, schema, all_fields, current, dict(record.choices))
    variant = str(current.get("@type") or "")
    wanted = request.POST.get("type") or request.GET.get("type") or variant
    switching = bool(settings_page.singleton and settings_page.variant(wanted) and wanted != variant)
    if switching:
        variant = wanted
    sections = schema.sections(settings_page, variant)
    fields = [f for s in sections for f in s.fields]
    base = current if not switching else {"@type": variant, **{f.name: f.default for f in fields}}
    data = request.POST.copy() if request.method == "POST" else None
    form = SchemaForm(
        data,
        schema=schema,
        fields=fields,
        creating=False,
        enterprise=request.portal_user.enterprise,
        choices=choices,
        current=base,
    )
    _unseal(form)
    context: dict[str, Any] = {
        "settings_page": settings_page,
        "sections": sections,
        "form": form,
        "object_id": object_id,
        "variant": variant,
        "variant_label": next((v.label for v in settings_page.variants if v.name == variant), variant),
        "switching": switching,
        "label": _label(settings_page, current, object_id),
        "action": _item_url(settings_page, object_id),
        "layout": _layout(
            form, sections, enterprise=request.portal_user.enterprise, editable=_can(request, settings_page, "Update")
        ),
        "can_update": _can(request, settings_page, "Update"),
        "can_delete": _can(request, settings_page, "Destroy") and not settings_page.singleton,
        "back": reverse("config:schema-index") if settings_page.singleton else _page_url(settings_page),
    }
    if request.method != "POST" or form.adding:  # "Add another": the form again, one row more
        return render(request, "settings_pages/schema_form.html", context)
    if not form.is_valid():
        return render(request, "settings_pages/schema_form.html", context, status=400)
    patch = form.patch()
    if switching:
        patch = {"@type": variant, **patch}
    if not patch:
        context["nothing"] = True
        return render(request, "settings_pages/schema_form.html", context)
    fingerprint = _fingerprint(current, sorted({name.split("/", 1)[0] for name in patch}))
    if request.POST.get("step") != "save" or _previewed(request.POST) != fingerprint:
        stale = request.POST.get("step") == "save"
        context.update(_preview(form, data or QueryDict(), patch, fingerprint, stale=stale))
        return render(request, "settings_pages/schema_preview.html", context)
    try:
        outcome = await registry.update(settings_page, object_id, patch)
    except responses.SUBMIT_FAILURES as exc:
        return responses.form_upstream_failure(
            request, "settings_pages/schema_form.html", context, exc, form=form, secrets=tuple(form.secret_names()),
            idempotent=True, check_url=context["action"],
        )
    if not outcome.ok:
        _show_problems(form, outcome)
        return render(request, "settings_pages/schema_form.html", context, status=400)
    log.info("%s updated %s %s (%s)", request.portal_user.name, settings_page.object_name, object_id, ", ".join(patch))
    messages.success(request, gettext("Saved. Some settings take effect only after the settings are reloaded."))
    return HttpResponseRedirect(context["action"])


def _previewed(post: QueryDict) -> str:
    """The fingerprint of the values the preview showed ("" when missing or altered)."""
    try:
        value = signing.loads(post.get("fingerprint", ""), salt=FINGERPRINT_SALT)
    except signing.BadSignature:
        return ""
    return value if isinstance(value, str) else ""


def _preview(
    form: SchemaForm, data: QueryDict, patch: dict[str, Any], fingerprint: str, *, stale: bool
) -> dict[str, Any]:
    return {
        "changes": form.changes({k: v for k, v in patch.items() if k != "@type"}),
        "hidden": _hidden(form, data),
        "fingerprint": signing.dumps(fingerprint, salt=FINGERPRINT_SALT),
        "stale": stale,
    }


def _label(settings_page: SettingsPage, values: dict[str, Any], object_id: str) -> str:
    if settings_page.singleton:
        return settings_page.title
    value = values.get(settings_page.label_property) if settings_page.label_property else None
    if isinstance(value, dict):
        value = ", ".join(sorted(str(k) for k in value))
    return str(value) if value not in (None, "") else object_id


# --- create -------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@require(CREATE)
async def create(request: PortalRequest, slug: str) -> HttpResponse:
    found = await _schema_page(request, slug, "Create")
    if isinstance(found, HttpResponse):
        return found
    schema, settings_page = found
    if settings_page.singleton:
        return HttpResponseRedirect(_page_url(settings_page))
    variant = request.POST.get("type") or request.GET.get("type") or ""
    context: dict[str, Any] = {"settings_page": settings_page, "back": _page_url(settings_page)}
    if settings_page.variants and settings_page.variant(variant) is None:
        return render(request, "settings_pages/schema_variants.html", context)
    sections = schema.sections(settings_page, variant)
    fields = [f for s in sections for f in s.fields if f.name not in settings_page.static]
    choices = await _registry(request).choices(_targets(schema, fields))
    data = request.POST.copy() if request.method == "POST" else None
    defaults = {f.name: f.default for f in fields}
    form = SchemaForm(
        data, schema=schema, fields=fields, creating=True, enterprise=request.portal_user.enterprise,
        choices=choices, current=defaults,
    )
    _unseal(form)
    action = reverse("config:schema-create", kwargs={"slug": settings_page.slug})
    context.update(
        {
            "layout": _layout(form, sections, enterprise=request.portal_user.enterprise),
            "form": form,
            "creating": True,
            "variant": variant,
            "variant_label": next((v.label for v in settings_page.variants if v.name == variant), ""),
            "action": action,
            "can_update": True,
        }
    )
    if request.method != "POST" or form.adding:  # "Add another": the form again, one row more
        return render(request, "settings_pages/schema_form.html", context)
    if not form.is_valid():
        return render(request, "settings_pages/schema_form.html", context, status=400)
    values = form.patch()
    if variant:
        values = {"@type": variant, **values}
    if request.POST.get("step") != "save":
        context.update(_preview(form, data or QueryDict(), values, "", stale=False))
        return render(request, "settings_pages/schema_preview.html", context)
    try:
        outcome = await _registry(request).create(settings_page, values)
    except responses.SUBMIT_FAILURES as exc:
        return responses.form_upstream_failure(
            request, "settings_pages/schema_form.html", context, exc, form=form, secrets=tuple(form.secret_names()),
            check_url=_page_url(settings_page),
        )
    if not outcome.ok:
        _show_problems(form, outcome)
        return render(request, "settings_pages/schema_form.html", context, status=400)
    log.info("%s created %s %s", request.portal_user.name, settings_page.object_name, outcome.id)
    messages.success(request, gettext("Created."))
    return HttpResponseRedirect(_item_url(settings_page, outcome.id))


# --- delete -------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@require(DESTROY)
async def delete(request: PortalRequest, slug: str, object_id: str) -> HttpResponse:
    found = await _schema_page(request, slug, "Destroy")
    if isinstance(found, HttpResponse):
        return found
    schema, settings_page = found
    if settings_page.singleton:
        return HttpResponseRedirect(_page_url(settings_page))
    object_id = object_id[:100]
    record = await _registry(request).read(settings_page, object_id)
    context: dict[str, Any] = {
        "settings_page": settings_page,
        "label": _label(settings_page, dict(record.item.values), object_id),
        "object_id": object_id,
        "back": _item_url(settings_page, object_id),
        "problems": (),
    }
    if request.method != "POST":
        return render(request, "settings_pages/schema_delete.html", context)
    try:
        outcome = await _registry(request).destroy(settings_page, object_id)
    except responses.SUBMIT_FAILURES as exc:
        return responses.form_upstream_failure(
            request, "settings_pages/schema_delete.html", context, exc, check_url=_page_url(settings_page)
        )
    if not outcome.ok:
        context["problems"] = outcome.problems
        return render(request, "settings_pages/schema_delete.html", context, status=409)
    log.info("%s deleted %s %s", request.portal_user.name, settings_page.object_name, object_id)
    messages.success(request, gettext("Deleted."))
    return HttpResponseRedirect(_page_url(settings_page))


# --- reload -------------------------------------------------------------------------------
@require_POST
@require(needs("settings-reload"))
async def reload(request: PortalRequest) -> HttpResponse:
    back = request.POST.get("back") or ""
    if not (back.startswith("/") and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})):
        back = reverse("config:schema-index")
    try:
        outcome = await _registry(request).reload()
    except responses.SUBMIT_FAILURES as exc:
        return responses.form_upstream_failure(
            request, "settings_pages/schema_reload.html", {"back": back, "problems": ()}, exc, idempotent=True
        )
    log.info("%s reloaded the settings: %d problems", request.portal_user.name, len(outcome.problems))
    if not outcome.ok:
        return render(request, "settings_pages/schema_reload.html", {"back": back, "problems": outcome.problems})
    messages.success(request, gettext("Settings reloaded: the server now runs with the saved settings."))
    return HttpResponseRedirect(back)
