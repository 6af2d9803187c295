"""Settings: browse and search keys, record groups, edit with a diff preview, create, delete,
reveal secrets one at a time, reload.

Every change goes through a confirm step that shows each key's old and new value (secrets as
dots) and works without JavaScript: the preview form carries what was typed, and saving checks
that the values on the server are still the ones the form started from (a fingerprint of each,
never the value, travels in the signed form). Saving uses Stalwart's own operations: editing a
record is `clear <prefix>.<id>.` then `insert`, creating one is `insert` with `assert_empty`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.core import signing
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal import responses
from portal.access import require
from portal.auth.vault import seal, unseal
from portal.permissions import needs
from portal.request import PortalRequest
from portal.stalwart import errors
from portal.stalwart.settings_api import clear_op, insert_op

from .keys import (
    GROUPS,
    GROUPS_BY_SLUG,
    LOCAL_KEYS_PREFIX,
    breadcrumbs,
    fingerprint,
    is_local,
    is_secret,
    local_patterns,
    parent_prefix,
    valid_key,
    valid_record_id,
)

log = logging.getLogger("portal.settings")

PAGE_SIZES = (25, 50, 100)
SNAPSHOT_SALT = "portal.settings.edit"
NEW_ROWS = 3
MASK = "••••••••"


def _int(value: str | None, default: int) -> int:
    try:
        number = int(value or "")
    except ValueError:
        return default
    return number if 1 <= number <= 1_000_000 else default



def _url(name: str, **params: object) -> str:
    clean = {key: value for key, value in params.items() if value not in ("", None)}
    return reverse(name) + ("?" + urlencode(clean) if clean else "")


def _can(request: PortalRequest, *names: str) -> bool:
    return request.portal_user.has(*names)


async def _patterns(request: PortalRequest) -> tuple[str, ...]:
    configured = await request.stalwart.settings.keys(prefixes=[LOCAL_KEYS_PREFIX])
    return local_patterns(configured)


@dataclass
class Setting:
    """One key as a row: value hidden when it is a secret."""

    key: str
    value: str
    local: bool
    #: what to call it where the prefix is known (a record's field name)
    label: str = ""

    @property
    def secret(self) -> bool:
        return is_secret(self.key)

    @property
    def long(self) -> bool:
        return "\n" in self.value or len(self.value) > 120

    @property
    def first_line(self) -> str:
        line = self.value.split("\n", 1)[0]
        return line[:100] + ("…" if len(line) > 100 or "\n" in self.value else "")


def _typed(post, name: str) -> str:
    """What was typed into `name`; a secret typed on an earlier step travels sealed."""
    value = post.get(name, "")
    if value:
        return value
    sealed = post.get("sealed:" + name, "")
    return (unseal(sealed) or "") if sealed else ""


def _sealed(key: str, typed: str) -> str:
    """The sealed copy of a typed secret, for the next step of the form ("" otherwise)."""
    return seal(typed) if typed and is_secret(key) else ""


def _safe_back(request: PortalRequest, url: str | None, default: str) -> str:
    if url and url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        return url
    return default


# --- browse -------------------------------------------------------------------------
@require_GET
@require(needs("settings-list"))
async def browse(request: PortalRequest) -> HttpResponse:
    prefix = request.GET.get("prefix", "").strip().strip(".")[:200]
    query = request.GET.get("q", "").strip()[:200]
    page = _int(request.GET.get("page"), 1)
    size = _int(request.GET.get("size"), 50)
    size = size if size in PAGE_SIZES else 50
    api = request.stalwart.settings
    patterns = await _patterns(request)
    context: dict = {
        "prefix": prefix,
        "query": query,
        "page_number": page,
        "size": size,
        "sizes": PAGE_SIZES,
        "crumbs": breadcrumbs(prefix),
        "groups": GROUPS,
        "can_update": _can(request, "settings-update"),
        "can_delete": _can(request, "settings-delete"),
        "can_reload": _can(request, "settings-reload"),
    }
    if not prefix and not query:
        everything = await api.list()
        sections: dict[str, int] = {}
        for key, _ in everything.items:
            root = key.split(".", 1)[0]
            sections[root] = sections.get(root, 0) + 1
        context["sections"] = sorted(sections.items())
        context["total"] = everything.total
    else:
        full = (prefix + ".") if prefix else ""
        if query:
            result = await api.group(prefix, "", filter=query, page=page, limit=size)
            rows = [(full + record.id, record.get("_value")) for record in result.items]
            total = result.total
        else:
            listing = await api.list(prefix, page=page, limit=size)
            rows = [(full + key, value) for key, value in listing.items]
            total = listing.total
        pages = max(1, -(-total // size))
        context.update(
            settings=[Setting(key, value, is_local(key, patterns)) for key, value in rows],
            total=total,
            pages=pages,
            previous_url=_url(
                "config:browse",
                prefix=prefix,
                q=query,
                size=size if size != 50 else "",
                page=page - 1 if page > 2 else "",
            )
            if page > 1
            else "",
            next_url=_url("config:browse", prefix=prefix, q=query, size=size if size != 50 else "", page=page + 1)
            if page < pages
            else "",
        )
    template = "settings_pages/browse.html#results" if request.htmx else "settings_pages/browse.html"
    return render(request, template, context)


# --- groups (records) -------------------------------------------------------------------
@require_GET
@require(needs("settings-list"))
async def groups(request: PortalRequest) -> HttpResponse:
    preset = GROUPS_BY_SLUG.get(request.GET.get("group", ""))
    prefix = (preset.prefix if preset else request.GET.get("prefix", "")).strip().strip(".")[:200]
    suffix = (preset.suffix if preset else request.GET.get("suffix", "")).strip().strip(".")[:100]
    query = request.GET.get("q", "").strip()[:200]
    page = _int(request.GET.get("page"), 1)
    size = 25
    context: dict = {
        "preset": preset,
        "groups": GROUPS,
        "prefix": prefix,
        "suffix": suffix,
        "query": query,
        "page_number": page,
        "can_update": _can(request, "settings-update"),
        "can_delete": _can(request, "settings-update", "settings-delete"),
    }
    if prefix and suffix:
        patterns = await _patterns(request)
        result = await request.stalwart.settings.group(prefix, suffix, filter=query, page=page, limit=size)
        records = []
        for record in result.items:
            base = f"{prefix}.{record.id}."
            fields = [Setting(base + key, value, is_local(base + key, patterns), key) for key, value in record.fields]
            main = next((field for field in fields if field.key == base + suffix), None)
            others = [field for field in fields if field is not main]
            records.append({"id": record.id, "main": main, "fields": others[:4], "more": max(0, len(others) - 4)})
        pages = max(1, -(-result.total // size))
        common = {
            "group": preset.slug if preset else "",
            "prefix": "" if preset else prefix,
            "suffix": "" if preset else suffix,
            "q": query,
        }
        context.update(
            records=records,
            total=result.total,
            pages=pages,
            local=is_local(f"{prefix}.x.{suffix}", patterns),
            previous_url=_url("config:groups", **common, page=page - 1 if page > 2 else "") if page > 1 else "",
            next_url=_url("config:groups", **common, page=page + 1) if page < pages else "",
        )
    template = "settings_pages/groups.html#results" if request.htmx else "settings_pages/groups.html"
    return render(request, template, context)


# --- reveal -----------------------------------------------------------------------------
@require_GET
@require(needs("settings-list"))
async def reveal(request: PortalRequest) -> HttpResponse:
    """One secret value, on request (its own call, so it can be refused and is never cached)."""
    key = request.GET.get("key", "")
    values = await request.stalwart.settings.keys([key]) if valid_key(key) else {}
    if key not in values:
        raise Http404("No such setting.")
    log.info("%s revealed the value of %s", request.portal_user.name, key)
    context = {"setting": Setting(key, values[key], False)}
    template = "settings_pages/reveal.html#value" if request.htmx else "settings_pages/reveal.html"
    response = render(request, template, context)
    response["Cache-Control"] = "no-store"
    return response


# --- diffs -------------------------------------------------------------------------------
@dataclass
class Change:
    key: str
    old: str | None
    new: str | None

    @property
    def kind(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed"

    @property
    def secret(self) -> bool:
        return is_secret(self.key)


def diff(old: dict[str, str], new: dict[str, str]) -> list[Change]:
    changes = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            changes.append(Change(key, old.get(key), new.get(key)))
    return changes


def _snapshot(values: dict[str, str]) -> str:
    return signing.dumps({key: fingerprint(value) for key, value in values.items()}, salt=SNAPSHOT_SALT, compress=True)


def _snapshot_matches(token: str, current: dict[str, str]) -> bool | None:
    """True when nothing changed on the server, False when it did, None for a bad/old form."""
    try:
        saved = signing.loads(token, salt=SNAPSHOT_SALT, max_age=24 * 3600)
    except signing.BadSignature:
        return None
    return saved == {key: fingerprint(value) for key, value in current.items()}


def _failed(
    request: PortalRequest,
    template: str,
    context: dict,
    exc: errors.StalwartError,
    check: str,
    idempotent: bool = False,
) -> HttpResponse:
    """The form again (at the step it was sent from) after its change failed in Stalwart.

    Secret values are never in `context`: their fields are blank, with the sealed copy.
    """
    return responses.form_upstream_failure(
        request,
        template,
        context,
        exc,
        check_url=check,
        check_label=gettext("See the setting as it is now"),
        idempotent=idempotent,
    )


def _reload_offer(back: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(_url("config:saved", back=back))


# --- one key ----------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@require(needs("settings-list", "settings-update"))
async def key_edit(request: PortalRequest) -> HttpResponse:
    key = (request.GET.get("key") or request.POST.get("key") or "").strip()
    if not valid_key(key):
        raise Http404("No such setting.")
    api = request.stalwart.settings
    current = await api.keys([key])
    if key not in current:
        raise Http404(f"There is no setting {key}.")
    old = current[key]
    secret = is_secret(key)
    back = _url("config:browse", prefix=parent_prefix(key))
    context: dict = {"key": key, "secret": secret, "back": back, "local": is_local(key, await _patterns(request))}
    action = request.POST.get("action", "") if request.method == "POST" else ""
    typed = _typed(request.POST, "value") if request.method == "POST" else ("" if secret else old)
    new = old if secret and typed == "" else typed
    context["sealed"] = _sealed(key, typed)
    if action in ("preview", "save"):
        snapshot = request.POST.get("snapshot", "")
        same = _snapshot_matches(snapshot, {key: old})
        changes = diff({key: old}, {key: new})
        if same is None or same is False:
            context["conflict"] = (
                gettext("The value changed on the server since you opened this form. Check the difference again.")
                if same is False
                else gettext("The form was too old or altered. Check the difference again.")
            )
            context.update(step="confirm", changes=changes, value=typed, snapshot=_snapshot({key: old}))
            return render(request, "settings_pages/key_form.html", context, status=409)
        if not changes:
            messages.info(request, gettext("Nothing to change: the value is the same."))
            context.update(step="edit", value=typed, snapshot=snapshot)
            return render(request, "settings_pages/key_form.html", context)
        if action == "preview":
            context.update(step="confirm", changes=changes, value=typed, snapshot=snapshot)
            return render(request, "settings_pages/key_form.html", context)
        context.update(step="confirm", changes=changes, value=typed, snapshot=snapshot)
        try:
            await api.update([insert_op(None, [(key, new)], assert_empty=False)])
        except responses.SUBMIT_FAILURES as exc:
            check = _url("config:key-edit", key=key)
            return _failed(request, "settings_pages/key_form.html", context, exc, check, True)
        log.info("%s changed setting %s", request.portal_user.name, key)
        messages.success(request, gettext("Saved %(key)s.") % {"key": key})
        return _reload_offer(back)
    context.update(step="edit", value=typed, snapshot=_snapshot({key: old}))
    return render(request, "settings_pages/key_form.html", context)


@require_http_methods(["GET", "POST"])
@require(needs("settings-list", "settings-update"))
async def key_new(request: PortalRequest) -> HttpResponse:
    """A new key, written with `assert_empty` so an existing one is never overwritten."""
    api = request.stalwart.settings
    key = (request.POST.get("key") if request.method == "POST" else request.GET.get("prefix", "")) or ""
    key = key.strip()
    if request.method == "GET" and key and not key.endswith("."):
        key += "."
    value = _typed(request.POST, "value") if request.method == "POST" else ""
    context: dict = {
        "key": key,
        "value": "" if is_secret(key) else value,
        "secret": is_secret(key) and request.method == "POST",
        "sealed": _sealed(key, value),
        "creating": True,
        "step": "edit",
        "back": _url("config:browse"),
    }
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if action in ("preview", "save"):
        if not valid_key(key):
            context["key_error"] = gettext("Use letters, digits and . - _ (a key cannot start or end with a dot).")
            return render(request, "settings_pages/key_form.html", context, status=422)
        context["back"] = _url("config:browse", prefix=parent_prefix(key))
        if action == "preview":
            context.update(step="confirm", changes=[Change(key, None, value)])
            return render(request, "settings_pages/key_form.html", context)
        try:
            await api.update([insert_op(None, [(key, value)], assert_empty=True)])
        except responses.SUBMIT_FAILURES as exc:
            context.update(step="confirm", changes=[Change(key, None, value)])
            return _failed(request, "settings_pages/key_form.html", context, exc, _url("config:key-edit", key=key))
        except errors.AssertFailed:
            context["key_error"] = gettext("%(key)s already exists. Edit it instead, or choose another key.") % {
                "key": key
            }
            context["existing_url"] = _url("config:key-edit", key=key)
            return render(request, "settings_pages/key_form.html", context, status=409)
        log.info("%s created setting %s", request.portal_user.name, key)
        messages.success(request, gettext("Created %(key)s.") % {"key": key})
        return _reload_offer(context["back"])
    return render(request, "settings_pages/key_form.html", context)


@require_http_methods(["GET", "POST"])
@require(needs("settings-list", "settings-delete"))
async def key_delete(request: PortalRequest) -> HttpResponse:
    key = (request.GET.get("key") or request.POST.get("key") or "").strip()
    if not valid_key(key):
        raise Http404("No such setting.")
    api = request.stalwart.settings
    back = _url("config:browse", prefix=parent_prefix(key))
    if request.method == "POST":
        try:
            await api.delete(key)
        except responses.SUBMIT_FAILURES as exc:
            context = {"setting": Setting(key, "", False), "back": back, "value_unknown": True}
            return _failed(request, "settings_pages/delete.html", context, exc, back)
        log.info("%s deleted setting %s", request.portal_user.name, key)
        messages.success(request, gettext("Deleted %(key)s.") % {"key": key})
        return _reload_offer(back)
    current = await api.keys([key])
    if key not in current:
        raise Http404(f"There is no setting {key}.")
    context = {"setting": Setting(key, current[key], is_local(key, await _patterns(request))), "back": back}
    return render(request, "settings_pages/delete.html", context)


# --- records ------------------------------------------------------------------------------------
def _record_values(request: PortalRequest, old: dict[str, str]) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(new fields, what was typed, problems) from a record form; blank secrets keep their value."""
    post = request.POST
    new: dict[str, str] = {}
    typed: dict[str, str] = {}
    problems = []
    for field, value in old.items():
        entered = _typed(post, f"value:{field}")
        typed[field] = entered
        if post.get(f"remove:{field}"):
            continue
        new[field] = value if is_secret(field) and entered == "" else entered
    rows_text = post.get("rows", "")
    rows = int(rows_text) if rows_text.isdigit() and int(rows_text) <= 20 else NEW_ROWS
    for index in range(rows):
        field = post.get(f"new_key_{index}", "").strip().strip(".")
        value = _typed(post, f"new_value_{index}")
        if not field:
            continue
        if not valid_key(field):
            problems.append(gettext("“%(field)s” is not a valid field name.") % {"field": field})
        elif field in new:
            problems.append(gettext("%(field)s is already a field of this record.") % {"field": field})
        else:
            new[field] = value
    return new, typed, problems


def _new_rows(request: PortalRequest, count: int, first_key: str = "") -> list[dict]:
    rows = []
    for index in range(count):
        if request.method == "POST":
            key = request.POST.get(f"new_key_{index}", "")
            value = _typed(request.POST, f"new_value_{index}")
            secret = is_secret(key.strip())
            rows.append(
                {"index": index, "key": key, "value": "" if secret else value, "sealed": _sealed(key.strip(), value)}
            )
        else:
            rows.append({"index": index, "key": first_key if index == 0 else "", "value": ""})
    return rows


def _group_url(prefix: str) -> str:
    preset = next((group for group in GROUPS if group.prefix == prefix), None)
    if preset:
        return _url("config:groups", group=preset.slug)
    return _url("config:browse", prefix=prefix)


@require_http_methods(["GET", "POST"])
@require(needs("settings-list", "settings-update"))
async def record_edit(request: PortalRequest) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    prefix = source.get("prefix", "").strip().strip(".")
    record_id = source.get("id", "").strip()
    if not prefix or not valid_key(prefix) or not valid_record_id(record_id):
        raise Http404("No such record.")
    api = request.stalwart.settings
    base = f"{prefix}.{record_id}"
    listing = await api.list(base)
    old = dict(listing.items)
    if not old:
        raise Http404(f"There is no record {record_id} under {prefix}.")
    back = _group_url(prefix)
    patterns = await _patterns(request)
    context: dict = {
        "prefix": prefix,
        "record_id": record_id,
        "back": back,
        "local": is_local(f"{base}.x", patterns),
        "step": "edit",
    }
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if request.method == "POST":
        new, typed, problems = _record_values(request, old)
    else:
        new, typed, problems = (
            dict(old),
            {field: ("" if is_secret(field) else value) for field, value in old.items()},
            [],
        )
    context["fields"] = [
        {
            "name": field,
            "value": "" if is_secret(field) else typed.get(field, ""),
            "sealed": _sealed(field, typed.get(field, "")),
            "secret": is_secret(field),
            "multiline": "\n" in typed.get(field, "") or len(typed.get(field, "")) > 80,
            "removed": bool(request.POST.get(f"remove:{field}")),
        }
        for field in old
    ]
    context["new_rows"] = _new_rows(request, NEW_ROWS)
    context["rows"] = NEW_ROWS
    snapshot = request.POST.get("snapshot", "") if request.method == "POST" else _snapshot(old)
    context["snapshot"] = snapshot
    if action in ("preview", "save"):
        full_old = {f"{base}.{field}": value for field, value in old.items()}
        full_new = {f"{base}.{field}": value for field, value in new.items()}
        changes = diff(full_old, full_new)
        if problems:
            context["problems"] = problems
            return render(request, "settings_pages/record_form.html", context, status=422)
        same = _snapshot_matches(snapshot, old)
        if not same:
            context["conflict"] = (
                gettext("The record changed on the server since you opened this form. Check the difference again.")
                if same is False
                else gettext("The form was too old or altered. Check the difference again.")
            )
            context.update(step="confirm", changes=changes, snapshot=_snapshot(old))
            return render(request, "settings_pages/record_form.html", context, status=409)
        if not changes:
            messages.info(request, gettext("Nothing to change."))
            return render(request, "settings_pages/record_form.html", context)
        if not new:
            context["problems"] = [gettext("A record needs at least one field. Delete the record instead.")]
            return render(request, "settings_pages/record_form.html", context, status=422)
        if action == "preview":
            context.update(step="confirm", changes=changes)
            return render(request, "settings_pages/record_form.html", context)
        try:
            await api.update([clear_op(base + "."), insert_op(base, sorted(new.items()), assert_empty=False)])
        except responses.SUBMIT_FAILURES as exc:
            context.update(step="confirm", changes=changes)
            check = _url("config:record-edit", prefix=prefix, id=record_id)
            return _failed(request, "settings_pages/record_form.html", context, exc, check, True)
        log.info("%s changed record %s (%d keys)", request.portal_user.name, base, len(changes))
        messages.success(
            request,
            ngettext("Saved %(record)s (%(count)s change).", "Saved %(record)s (%(count)s changes).", len(changes))
            % {"record": record_id, "count": len(changes)},
        )
        return _reload_offer(back)
    return render(request, "settings_pages/record_form.html", context)


@require_http_methods(["GET", "POST"])
@require(needs("settings-list", "settings-update"))
async def record_new(request: PortalRequest) -> HttpResponse:
    """A new record, written with `assert_empty`: Stalwart refuses when the id is taken."""
    source = request.POST if request.method == "POST" else request.GET
    preset = GROUPS_BY_SLUG.get(source.get("group", ""))
    prefix = (source.get("prefix") or (preset.prefix if preset else "")).strip().strip(".")
    suffix = preset.suffix if preset else source.get("suffix", "").strip()
    record_id = source.get("id", "").strip() if request.method == "POST" else ""
    rows = 6
    context: dict = {
        "creating": True,
        "prefix": prefix,
        "record_id": record_id,
        "group": preset.slug if preset else "",
        "new_rows": _new_rows(request, rows, suffix),
        "rows": rows,
        "fields": [],
        "step": "edit",
        "back": _group_url(prefix) if prefix else _url("config:groups"),
    }
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if action in ("preview", "save"):
        new, _, problems = _record_values(request, {})
        if not prefix or not valid_key(prefix):
            context["prefix_error"] = gettext("Give the prefix of the group, e.g. server.listener.")
        if not valid_record_id(record_id):
            context["id_error"] = gettext("Use letters, digits and . - _ for the id.")
        if not new:
            problems.append(gettext("Give at least one field and its value."))
        if problems or "prefix_error" in context or "id_error" in context:
            context["problems"] = problems
            return render(request, "settings_pages/record_form.html", context, status=422)
        base = f"{prefix}.{record_id}"
        changes = [Change(f"{base}.{field}", None, value) for field, value in sorted(new.items())]
        if action == "preview":
            context.update(step="confirm", changes=changes)
            return render(request, "settings_pages/record_form.html", context)
        try:
            await request.stalwart.settings.update([insert_op(base, sorted(new.items()), assert_empty=True)])
        except responses.SUBMIT_FAILURES as exc:
            context.update(step="confirm", changes=changes)
            check = _url("config:record-edit", prefix=prefix, id=record_id)
            return _failed(request, "settings_pages/record_form.html", context, exc, check)
        except errors.AssertFailed:
            context["id_error"] = gettext(
                "A record “%(record)s” already exists under %(prefix)s. Choose another id, or edit that record."
            ) % {"record": record_id, "prefix": prefix}
            context["existing_url"] = _url("config:record-edit", prefix=prefix, id=record_id)
            return render(request, "settings_pages/record_form.html", context, status=409)
        log.info("%s created record %s", request.portal_user.name, base)
        messages.success(request, gettext("Created %(record)s.") % {"record": record_id})
        return _reload_offer(context["back"])
    return render(request, "settings_pages/record_form.html", context)


@require_http_methods(["GET", "POST"])
@require(needs("settings-list", "settings-update", "settings-delete"))
async def record_delete(request: PortalRequest) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    prefix = source.get("prefix", "").strip().strip(".")
    record_id = source.get("id", "").strip()
    if not prefix or not valid_key(prefix) or not valid_record_id(record_id):
        raise Http404("No such record.")
    api = request.stalwart.settings
    base = f"{prefix}.{record_id}"
    back = _group_url(prefix)
    if request.method == "POST":
        try:
            await api.update([clear_op(base + ".")])
        except responses.SUBMIT_FAILURES as exc:
            context = {"prefix": prefix, "record_id": record_id, "settings": [], "back": back, "value_unknown": True}
            return _failed(request, "settings_pages/delete.html", context, exc, back)
        log.info("%s deleted record %s", request.portal_user.name, base)
        messages.success(
            request, gettext("Deleted %(record)s from %(prefix)s.") % {"record": record_id, "prefix": prefix}
        )
        return _reload_offer(back)
    listing = await api.list(base)
    if not listing.items:
        raise Http404(f"There is no record {record_id} under {prefix}.")
    patterns = await _patterns(request)
    settings = [
        Setting(f"{base}.{key}", value, is_local(f"{base}.{key}", patterns), key) for key, value in listing.items
    ]
    context = {"prefix": prefix, "record_id": record_id, "settings": settings, "back": back}
    return render(request, "settings_pages/delete.html", context)


# --- after a change: reload -------------------------------------------------------------------------
@require_GET
@require(needs("settings-list"))
async def saved(request: PortalRequest) -> HttpResponse:
    """Where every change lands: the way back, and the offer to reload the configuration."""
    back = _safe_back(request, request.GET.get("back"), reverse("config:browse"))
    context = {"back": back, "can_reload": _can(request, "settings-reload")}
    return render(request, "settings_pages/saved.html", context)


@require_POST
@require(needs("settings-reload"))
async def reload(request: PortalRequest) -> HttpResponse:
    dry_run = request.POST.get("mode") == "check"
    back = _safe_back(request, request.POST.get("back"), reverse("config:browse"))
    try:
        result = await request.stalwart.maintenance.reload(dry_run=dry_run)
    except responses.SUBMIT_FAILURES as exc:
        context = {"back": back, "can_reload": True}
        return _failed(request, "settings_pages/saved.html", context, exc, back, True)
    log.info(
        "%s %s the configuration: %d errors, %d warnings",
        request.portal_user.name,
        "checked" if dry_run else "reloaded",
        len(result.errors),
        len(result.warnings),
    )
    context = {"result": result, "dry_run": dry_run, "back": back}
    return render(request, "settings_pages/reload.html", context, status=200)
