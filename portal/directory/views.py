"""Directory pages: list, detail (the account 360), create, edit, delete, permissions."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core import signing
from django.core.cache import cache
from django.http import Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal import access, responses
from portal.access import effective_permissions, known_permissions, require
from portal.auth import session
from portal.auth.vault import seal, unseal
from portal.capabilities import unavailable
from portal.paging import Paging
from portal.permissions import (
    AREAS,
    BUILTIN_ROLES,
    PERMISSIONS,
    Access,
    Target,
    describe,
    needs,
    needs_native,
    principal_permission,
)
from portal.queue.rows import render_rows as queue_rows
from portal.request import PortalRequest
from portal.skeleton import render_around
from portal.stalwart import errors
from portal.stalwart.changes_types import NewPrincipal, PasswordReset
from portal.stalwart.queue_types import QueuePage, QueueSelection
from portal.stalwart.secrets import api_key_token, generate_api_secret, hash_password_async
from portal.stalwart.types import Principal

from . import csv_io, native_permissions
from .changes import new_principal, password_change, principal_change, sign_in_change
from .forms import PICKER_TYPES, ConfirmCountForm, PasswordResetForm, PrincipalForm, describe_error
from .kinds import KINDS, Kind, kind_for, list_access
from .rows import render_rows

COUNT_LABELS = {
    "group": gettext_lazy("Members"),
    "list": gettext_lazy("Members"),
    "domain": gettext_lazy("Addresses"),
    "apiKey": gettext_lazy("Permissions"),
}

log = logging.getLogger("portal.directory")

PERMISSION_TYPES = {"individual", "group", "role", "tenant", "apiKey"}
SNAPSHOT_SALT = "portal.directory.edit"
# The principal named in the URL is changed: scope and rank rules (portal.access).
CHANGES_NAME = Target("name", modifies=True)
# Stalwart 0.16+: removing an account's app password or API key is an update of the account.
CREDENTIAL_REVOKE = needs_native("sysAccountUpdate", legacy=("individual-update",))
#: the credentials an administrator may revoke (never the password: that is reset)
REVOCABLE_KINDS = ("AppPassword", "ApiKey")


def _rule(action: str):
    def rule(kind: str, **_kwargs: object) -> Access:
        return kind_for(kind).access(action)

    return rule


def _detail_url(spec: Kind, name: str) -> str:
    return reverse("directory:detail", kwargs={"kind": spec.slug, "name": name})


def _list_url(spec: Kind) -> str:
    return reverse("directory:list", kwargs={"kind": spec.slug})


async def _load(request: PortalRequest, spec: Kind, name: str) -> Principal:
    principal = await access.read_target(request, name)  # read once, by the scope check or here
    if principal.type != spec.type:
        raise Http404(_("No %(noun)s called %(name)s.") % {"noun": spec.noun, "name": name})
    return principal


def _can(request: PortalRequest, spec: Kind, action: str) -> bool:
    return spec.access(action).allows(request.portal_user)


# --- list ---------------------------------------------------------------------
@require_GET
@require(list_access)
async def principal_list(request: PortalRequest, kind: str) -> HttpResponse:
    """One page of accounts (or groups, lists, ...), searched by Stalwart."""
    spec = kind_for(kind)
    paging = Paging.from_request(request)
    listing = request.stalwart.principals.list_descending if paging.descending else request.stalwart.principals.list
    page = await listing(
        types=[spec.type], filter=paging.query, page=paging.page, limit=paging.size, fields=spec.fields
    )
    can_get = _can(request, spec, "get")
    can_delete = _can(request, spec, "delete")
    fold_email = request.portal_user.capabilities.names_are_addresses
    # 0.16 keeps no member list on a group, nor counts on a domain or tenant: no column rather
    # than a column of zeros.
    counts = spec.shows_count(request.portal_user.capabilities.member_counts)
    rows = render_rows(
        spec,
        page.items,
        linked=can_get,
        selectable=can_delete,
        email_label=_("Address") if spec.type == "list" else _("E-mail"),
        count_label=COUNT_LABELS.get(spec.type, ""),
        fold_email=fold_email,
        counts=counts,
    )
    context = {
        "kind": spec,
        "page": page,
        "fold_email": fold_email,
        "counts": counts,
        "paging": paging.with_total(page.total),
        "can_get": can_get,
        "can_create": _can(request, spec, "create"),
        "can_delete": can_delete,
        "can_import": spec.type == "individual"
        and request.portal_user.has("individual-create", "individual-update", "individual-get"),
    }
    template = "directory/list.html#results" if request.htmx else "directory/list.html"
    vary = (context["paging"], can_get, can_delete, context["can_create"], context["can_import"], fold_email, counts)
    return render_around(request, template, context, rows=rows, vary=vary)


# --- detail -------------------------------------------------------------------
@require_GET
@require(_rule("get"), target=Target("name"))
async def principal_detail(request: PortalRequest, kind: str, name: str) -> HttpResponse:
    spec = kind_for(kind)
    principal = await _load(request, spec, name)
    user = request.portal_user
    # The queue summary is read beside the rest of the page, and given up with it.
    queue_read = asyncio.ensure_future(_queue_summary(request, spec, principal))
    try:
        outranked = await access.outranks(request, user, principal)
        linkable_groups, linkable_lists = await _linkable_memberships(request, principal)
    except BaseException:
        queue_read.cancel()
        raise
    queue = await queue_read
    may_change = (_can(request, spec, "update") or _can(request, spec, "delete")) and not outranked
    context = {
        "kind": spec,
        "principal": principal,
        "sign_in_disabled": "authenticate" in principal.disabled_permissions,
        "can_update": may_change and _can(request, spec, "update"),
        "can_delete": may_change and _can(request, spec, "delete"),
        "outranked": outranked and (_can(request, spec, "update") or _can(request, spec, "delete")),
        "linkable_groups": linkable_groups,
        "linkable_lists": linkable_lists,
        "has_permissions": spec.type in PERMISSION_TYPES,
        "kinds": KINDS,
        "can_list_roles": user.has("role-list"),
        "helpdesk": _helpdesk_links(user, spec, principal, may_purge=not outranked),
        "credentials": principal.secrets.credentials if spec.type == "individual" else (),
        "can_revoke": CREDENTIAL_REVOKE.allows(user) and not outranked,
        "revocable": REVOCABLE_KINDS,
        "queue": queue,
    }
    return render(request, "directory/detail.html", context)


#: Queued messages shown on an account's page (the queue list shows the rest).
QUEUE_SAMPLE = 5
#: How long an account's page waits for its queue summary (a search of a busy queue can take
#: a while; the page shows without it rather than wait for the whole upstream timeout).
QUEUE_WAIT_SECONDS = 4.0


async def _queue_summary(request: PortalRequest, spec: Kind, principal: Principal) -> dict[str, Any] | None:
    """The messages waiting in the queue to or from the account's address (the queue list's
    search for it): how many, and the first few as the queue list shows them. None where the
    person may not list the queue; `failed` when the server could not answer, or not within
    QUEUE_WAIT_SECONDS (the rest of the page still shows)."""
    user = request.portal_user
    if spec.type not in {"individual", "group"} or not user.has("message-queue-list"):
        return None
    address = principal.primary_email or principal.name
    url = reverse("queue:list") + "?" + urlencode({"q": address})
    try:
        async with asyncio.timeout(QUEUE_WAIT_SECONDS):
            page: QueuePage = await request.stalwart.queue.messages(QueueSelection(text=address), limit=QUEUE_SAMPLE)
    except errors.Unauthorized:
        raise
    except (errors.StalwartError, TimeoutError) as exc:
        log.warning("queue summary of %s not read: %s", principal.name, type(exc).__name__)
        return {"address": address, "url": url, "failed": True}
    return {
        "address": address,
        "url": url,
        "total": page.total,
        "shown": len(page.items),
        "rows": queue_rows(page.items, linked=user.has("message-queue-get")) if page.items else "",
    }


async def _linkable_memberships(request: PortalRequest, principal: Principal) -> tuple[frozenset[str], frozenset[str]]:
    """The groups and lists of `principal` whose pages this person may open.

    A tenant administrator sees memberships of their accounts in principals of no tenant
    or of another tenant (Stalwart keeps those names); those are shown without a link,
    which would only lead to a 404. People outside any tenant may open every one.
    """
    user = request.portal_user
    groups = frozenset(principal.member_of) if user.has("group-get") else frozenset()
    lists = frozenset(principal.lists) if user.has("mailing-list-get") else frozenset()
    if not user.tenant or not (groups or lists):
        return groups, lists
    allowed = await access.visible(request.stalwart, user, sorted(groups | lists)[:50])
    return groups & allowed, lists & allowed


def _helpdesk_links(user, spec: Kind, principal: Principal, *, may_purge: bool) -> list[tuple[str, str, str]]:
    """(label, url, hint) for the tools that apply to this account, as far as the person may use them."""
    if spec.type not in {"individual", "group"}:
        return []
    links = []
    address = principal.primary_email or principal.name
    if user.has("troubleshoot") and principal.primary_email:
        links.append(
            (
                _("Test delivery"),
                reverse("tools:delivery") + "?" + urlencode({"target": address}),
                _("to %(address)s") % {"address": address},
            )
        )
    if user.has("undelete") and user.enterprise:
        links.append((_("Restore deleted mail"), reverse("undelete:list", kwargs={"account": principal.name}), ""))
    if user.has("purge-account") and may_purge:
        links.append(
            (
                _("Empty deleted mail"),
                reverse("tools:account-empty-trash", kwargs={"name": principal.name}),
                _("asks first"),
            )
        )
    if user.has("purge-in-memory-store") and may_purge and user.capabilities.bayes_purge:
        links.append(
            (
                _("Reset spam-filter training"),
                reverse("tools:account-delete-bayes", kwargs={"name": principal.name}),
                _("asks first"),
            )
        )
    return links


# --- create and edit ------------------------------------------------------------
async def _tenant_names(request: PortalRequest) -> list[str] | None:
    user = request.portal_user
    if not (user.enterprise and user.has("tenant-list")):
        return None
    page = await request.stalwart.principals.list(types=["tenant"], limit=100, fields=["name"])
    return [tenant.name for tenant in page.items]


async def _create_body(
    spec: Kind, values: dict, form: PrincipalForm, version: str
) -> tuple[NewPrincipal, str | None]:
    body = dict(values)
    secret, api_secret = "", None
    if spec.type == "individual" and form.cleaned_data.get("password"):
        secret = await hash_password_async(form.cleaned_data["password"])
    if spec.type == "group":
        body["enabledPermissions"] = ["email-send", "email-receive"]
    if spec.type == "apiKey":
        api_secret = generate_api_secret()
        secret = await hash_password_async(api_secret)
        body["enabledPermissions"] = (
            ["authenticate"] if version.startswith("0.12") else ["authenticate", "authenticate-oauth"]
        )
    return new_principal(spec.type, body, secret=secret), api_secret


async def _refuse_roles(request: PortalRequest, form: PrincipalForm, roles: list[str], before: list[str] = ()) -> bool:
    """The rank rule for the roles field: nobody grants a role holding more than they do."""
    added = [role for role in roles if role not in before]
    refused = await access.beyond(request, request.portal_user, added, ())
    if refused:
        form.add_error(
            "roles",
            _("Your account cannot grant these roles, because they hold permissions it lacks: %(roles)s")
            % {"roles": ", ".join(refused)},
        )
    return bool(refused)


DEFAULT_ROLES = {"individual": ["user"], "tenant": ["tenant-admin", "user"]}


@require_http_methods(["GET", "POST"])
@require(_rule("create"))
async def principal_create(request: PortalRequest, kind: str) -> HttpResponse:
    spec = kind_for(kind)
    user = request.portal_user
    tenants = await _tenant_names(request)
    form_args = {"kind": spec, "creating": True, "enterprise": user.enterprise, "tenants": tenants}
    if request.method == "GET":
        form = PrincipalForm(initial={"roles": DEFAULT_ROLES.get(spec.type, []), "quota_unit": "GiB"}, **form_args)
        return render(request, "directory/form.html", {"kind": spec, "form": form, "creating": True})
    form = PrincipalForm(request.POST, **form_args)
    status = 200
    if form.is_valid() and await _refuse_roles(request, form, form.to_values().get("roles", [])):
        status = 403
    elif form.is_valid():
        values = form.to_values()
        body, api_secret = await _create_body(spec, values, form, user.version)
        try:
            await request.stalwart.principals.create(body)
        except errors.TenantQuotaExceeded:
            form.add_error(None, _("Your organisation has reached its limit of %(nouns)s.") % {"nouns": spec.nouns})
            status = 422
        except errors.ManagementError as exc:
            form.add_stalwart_error(exc, values)
            status = 422
        except responses.SUBMIT_FAILURES as exc:
            return responses.form_upstream_failure(
                request,
                "directory/form.html",
                {"kind": spec, "form": form, "creating": True},
                exc,
                form=form,
                check_url=_list_url(spec) + "?" + urlencode({"q": values["name"]}),
                check_label=_("Look for %(name)s in the list") % {"name": values["name"]},
            )
        else:
            log.info("%s created %s %s", user.name, spec.type, values["name"])
            if spec.type == "apiKey" and api_secret:
                token = api_key_token(values["name"], api_secret)
                return render(
                    request, "directory/api_key_created.html", {"kind": spec, "name": values["name"], "token": token}
                )
            messages.success(request, _("%(kind)s %(name)s created.") % {"kind": spec.singular, "name": values["name"]})
            # DKIM keys for a new domain, where the server has the DNS/DKIM pages and does not
            # make them itself (0.16+: automatic DKIM management is the default for new domains).
            dkim_here = not unavailable(user.capabilities, "directory:domain-dns", {})
            server_makes_keys = user.capabilities.dkim_automatic
            if spec.type == "domain" and user.has("dkim-signature-create") and dkim_here and not server_makes_keys:
                for line in await _default_dkim(request, values["name"]):
                    messages.info(request, line)
            return HttpResponseRedirect(
                _detail_url(spec, values["name"]) if _can(request, spec, "get") else _list_url(spec)
            )
    return render(request, "directory/form.html", {"kind": spec, "form": form, "creating": True}, status=status)


async def _default_dkim(request: PortalRequest, domain: str) -> list[str]:
    try:
        from .dkim import create_default_keys
    except ImportError:  # pragma: no cover - the DKIM module is part of the package
        return []
    return await create_default_keys(request.stalwart, domain)


def _loaded_values(principal: Principal, form: PrincipalForm) -> dict:
    """What the edit form showed, in Stalwart's field names (the diff's left side)."""
    values = {
        "name": principal.name,
        "description": principal.description,
        "picture": principal.picture,
        "tenant": principal.tenant,
        "emails": list(principal.emails),
        "memberOf": list(principal.member_of),
        "lists": list(principal.lists),
        "members": list(principal.members),
        "roles": list(principal.roles),
        "externalMembers": list(principal.external_members),
        "urls": list(principal.urls),
        "quota": list(principal.quota_limits) if principal.quota_limits else principal.quota,
    }
    return {key: value for key, value in values.items() if key in form.value_keys()}


@require_http_methods(["GET", "POST"])
@require(_rule("update"), target=CHANGES_NAME)
async def principal_edit(request: PortalRequest, kind: str, name: str) -> HttpResponse:
    spec = kind_for(kind)
    user = request.portal_user
    tenants = await _tenant_names(request)
    form_args = {"kind": spec, "creating": False, "enterprise": user.enterprise, "tenants": tenants}
    if request.method == "GET":
        principal = await _load(request, spec, name)
        form = PrincipalForm(initial=PrincipalForm.initial_for(principal), **form_args)
        snapshot = signing.dumps(_loaded_values(principal, form), salt=SNAPSHOT_SALT)
        return render(request, "directory/form.html", {"kind": spec, "form": form, "name": name, "snapshot": snapshot})

    form = PrincipalForm(request.POST, **form_args)
    snapshot = request.POST.get("snapshot", "")
    try:
        loaded = signing.loads(snapshot, salt=SNAPSHOT_SALT, max_age=24 * 3600)
    except signing.BadSignature:
        loaded = None
    status = 200
    if loaded is None:
        form.add_error(None, _("The form was too old or altered. Your changes are below; check them and save again."))
        principal = await _load(request, spec, name)
        snapshot = signing.dumps(_loaded_values(principal, form), salt=SNAPSHOT_SALT)
        status = 409
    elif form.is_valid() and await _refuse_roles(
        request, form, form.to_values().get("roles", []), before=loaded.get("roles", [])
    ):
        status = 403
    elif form.is_valid():
        values = form.to_values()
        reset = None
        if form.cleaned_data.get("password"):
            reset = PasswordReset(
                secret=await hash_password_async(form.cleaned_data["password"]),
                single_password=request.portal_user.capabilities.single_password_secrets,
            )
        changes = principal_change(spec.type, loaded, values, password=reset)
        try:
            await request.stalwart.principals.update(name, changes)
        except errors.ManagementError as exc:
            form.add_stalwart_error(exc, values)
            status = 422
        except responses.SUBMIT_FAILURES as exc:
            return responses.form_upstream_failure(
                request,
                "directory/form.html",
                {"kind": spec, "form": form, "name": name, "snapshot": snapshot},
                exc,
                form=form,
                check_url=_detail_url(spec, name),
                check_label=_("See %(name)s as it is now") % {"name": name},
            )
        else:
            if spec.type == "individual" and form.cleaned_data.get("password"):
                await session.credentials_changed(name)  # their portal sessions end
            log.info("%s changed %s %s (%d changes)", user.name, spec.type, name, changes.count())
            messages.success(
                request,
                _("%(kind)s %(name)s saved.") % {"kind": spec.singular, "name": values["name"]}
                if changes
                else _("Nothing to change."),
            )
            return HttpResponseRedirect(_detail_url(spec, values["name"]))
    context = {"kind": spec, "form": form, "name": name, "snapshot": snapshot}
    return render(request, "directory/form.html", context, status=status)


# --- delete ---------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@require(_rule("delete"), target=CHANGES_NAME)
async def principal_delete(request: PortalRequest, kind: str, name: str) -> HttpResponse:
    spec = kind_for(kind)
    if request.method == "GET":
        principal = await _load(request, spec, name)
        return render(request, "directory/delete.html", {"kind": spec, "principal": principal})
    try:
        await request.stalwart.principals.delete(name)
    except errors.OtherError as exc:
        principal = await _load(request, spec, name)
        context = {"kind": spec, "principal": principal, "error": describe_error(exc)}
        return render(request, "directory/delete.html", context, status=409)
    except responses.SUBMIT_FAILURES as exc:
        return responses.form_upstream_failure(
            request,
            "directory/delete.html",
            {"kind": spec, "principal": {"name": name}},
            exc,
            check_url=_list_url(spec) + "?" + urlencode({"q": name}),
            check_label=_("Look for %(name)s in the list") % {"name": name},
        )
    log.info("%s deleted %s %s", request.portal_user.name, spec.type, name)
    messages.success(request, _("%(kind)s %(name)s deleted.") % {"kind": spec.singular, "name": name})
    return HttpResponseRedirect(_list_url(spec))


@require_POST
@require(_rule("delete"))
async def principal_bulk_delete(request: PortalRequest, kind: str) -> HttpResponse:
    """Delete the rows selected on the list: confirm first, then one call per name."""
    spec = kind_for(kind)
    names = list(dict.fromkeys(name for name in request.POST.getlist("names") if name))[:200]
    if not names:
        messages.info(request, _("Select the %(nouns)s to delete first.") % {"nouns": spec.nouns})
        return HttpResponseRedirect(_list_url(spec))
    if request.POST.get("confirmed") != "yes":
        return render(request, "directory/bulk_delete.html", {"kind": spec, "names": names})
    results = []
    user = request.portal_user
    for index, name in enumerate(names):
        reason = await access.refusal(request, user, name, modifies=True)
        if reason is not None:
            results.append((name, False, _refusal_text(reason)))
            continue
        try:
            await request.stalwart.principals.delete(name)
            results.append((name, True, _("Deleted")))
        except errors.ManagementError as exc:
            results.append((name, False, describe_error(exc)))
        except responses.SUBMIT_FAILURES as exc:
            # The confirmation again, for the names not known to be deleted (this one onwards).
            deleted_names = [done for done, ok, _text in results if ok]
            if deleted_names:
                messages.success(
                    request, _("Deleted before the failure: %(names)s.") % {"names": ", ".join(deleted_names)}
                )
            return responses.form_upstream_failure(
                request,
                "directory/bulk_delete.html",
                {"kind": spec, "names": names[index:]},
                exc,
                check_url=_list_url(spec),
                check_label=_("See the %(nouns)s as they are now") % {"nouns": spec.nouns},
            )
    deleted = sum(1 for _name, ok, _text in results if ok)
    log.info("%s deleted %d of %d %s", request.portal_user.name, deleted, len(names), spec.type)
    return render(request, "directory/bulk_delete.html", {"kind": spec, "results": results, "deleted": deleted})


def _import_guard(request: PortalRequest) -> csv_io.ImportGuard:
    """The rank rule for each row of a CSV import (scope: Stalwart only finds the person's own)."""
    user = request.portal_user

    async def guard(existing: Principal | None, added_roles: list[str]) -> str:
        if existing is not None and await access.outranks(request, user, existing):
            return _("“%(name)s” holds permissions that your account does not have.") % {"name": existing.name}
        refused = await access.beyond(request, user, added_roles, ())
        if refused:
            return _("Your account cannot grant these roles: %(roles)s") % {"roles": ", ".join(refused)}
        return ""

    return guard


def _refusal_text(reason: str) -> str:
    if reason == access.OUTRANKED:
        return _("Not deleted: it holds permissions that your account does not have.")
    return _("Not deleted: there is nothing by this name that you can manage.")


MATCHING_CHECK_LIMIT = 2000


async def _outranking_matches(request: PortalRequest, spec: Kind, query: str, total: int) -> str:
    """Before deleting everything a search matches: the rank rule for each match ("" when none)."""
    user = request.portal_user
    if access.holds_everything(user):
        return ""
    if total > MATCHING_CHECK_LIMIT:
        return _(
            "The search matches more than %(limit)d %(nouns)s, too many to check one by one against your own "
            "permissions. Narrow it down and delete in parts."
        ) % {"limit": MATCHING_CHECK_LIMIT, "nouns": spec.nouns}
    fields = ["name", "roles", "enabledPermissions", "disabledPermissions"]
    outranking: list[str] = []
    page_number = 1
    while (page_number - 1) * 100 < total:
        page = await request.stalwart.principals.list(
            types=[spec.type], filter=query, page=page_number, limit=100, fields=fields
        )
        for principal in page.items:
            if await access.outranks(request, user, principal):
                outranking.append(principal.name)
        if not page.items:
            break
        page_number += 1
    if not outranking:
        return ""
    return ngettext(
        "Nothing was deleted: %(names)s holds permissions that your account does not have.",
        "Nothing was deleted: %(count)d of them hold permissions that your account does not have (%(names)s).",
        len(outranking),
    ) % {"count": len(outranking), "names": ", ".join(outranking[:5]) + ("…" if len(outranking) > 5 else "")}


@require_http_methods(["GET", "POST"])
@require(_rule("delete"))
async def principal_delete_matching(request: PortalRequest, kind: str) -> HttpResponse:
    """Delete everything a search matches, after a preview and typing the count."""
    spec = kind_for(kind)
    query = (request.POST.get("q") if request.method == "POST" else request.GET.get("q", "")) or ""
    query = query.strip()[:200]
    preview = await request.stalwart.principals.list(
        types=[spec.type], filter=query, page=1, limit=20, fields=["name", "description"]
    )
    form = ConfirmCountForm(request.POST if request.method == "POST" else None, expected=preview.total)
    context = {"kind": spec, "query": query, "preview": preview, "form": form}
    if request.method == "POST" and form.is_valid() and preview.total:
        refused = await _outranking_matches(request, spec, query, preview.total)
        if refused:
            form.add_error(None, refused)
            return render(request, "directory/delete_matching.html", context, status=403)
        try:
            await request.stalwart.principals.delete_matching(spec.type, query)
        except errors.OtherError as exc:
            # Stalwart 0.16 deletes one by one and stops at the first it refuses (still in use...).
            form.add_error(
                None, _("Deletion stopped: %(reason)s Refresh the preview to see what is left.") % {
                    "reason": describe_error(exc)
                }
            )
            return render(request, "directory/delete_matching.html", context, status=409)
        except responses.SUBMIT_FAILURES as exc:
            return responses.form_upstream_failure(
                request,
                "directory/delete_matching.html",
                context,
                exc,
                form=form,
                check_url=_list_url(spec) + ("?" + urlencode({"q": query}) if query else ""),
                check_label=_("See the %(nouns)s as they are now") % {"nouns": spec.nouns},
            )
        log.info("%s deleted all %d %s matching %r", request.portal_user.name, preview.total, spec.type, query)
        if request.portal_user.capabilities.directory_deleted_at_once:
            done = _("%(count)d %(nouns)s deleted.")
        else:
            done = _("Stalwart is deleting %(count)d %(nouns)s. It works in the background; refresh in a moment.")
        messages.success(request, done % {"count": preview.total, "nouns": spec.nouns})
        return HttpResponseRedirect(_list_url(spec))
    return render(request, "directory/delete_matching.html", context, status=422 if form.errors else 200)


# --- permissions ------------------------------------------------------------------
def _permission_rule(kind: str, **_kwargs: object) -> Access:
    spec = kind_for(kind)
    if spec.type not in PERMISSION_TYPES:
        raise Http404(_("This type has no permissions."))
    return spec.access("update")


@require_http_methods(["GET", "POST"])
@require(_permission_rule, target=CHANGES_NAME)
async def principal_permissions(request: PortalRequest, kind: str, name: str) -> HttpResponse:
    spec = kind_for(kind)
    user = request.portal_user
    principal = await _load(request, spec, name)
    if user.capabilities.native_permission_names:
        return await native_permissions.page(request, spec, name, principal)
    known = known_permissions(user.version)
    enabled, disabled = set(principal.enabled_permissions), set(principal.disabled_permissions)
    query = (request.GET.get("q") or request.POST.get("q") or "").strip().lower()
    status = 200
    error = ""
    failure = None
    if request.method == "POST":
        new_enabled, new_disabled = native_permissions.submitted(request.POST, known, enabled, disabled)
        refused = await access.beyond(request, user, (), new_enabled - enabled)
        if request.POST.get("action") == "save" and refused:
            return responses.refused_grant(request, refused)
        if request.POST.get("action") == "save":
            changes = principal_change(
                spec.type,
                {"enabledPermissions": sorted(enabled), "disabledPermissions": sorted(disabled)},
                {"enabledPermissions": sorted(new_enabled), "disabledPermissions": sorted(new_disabled)},
            )
            try:
                await request.stalwart.principals.update(name, changes)
            except errors.ManagementError as exc:
                error = describe_error(exc)
                status = 422
            except responses.SUBMIT_FAILURES as exc:
                failure = exc  # the table below keeps the choices made
            else:
                messages.success(
                    request,
                    ngettext(
                        "Permissions of %(name)s saved (%(count)d change).",
                        "Permissions of %(name)s saved (%(count)d changes).",
                        changes.count(),
                    )
                    % {"name": name, "count": changes.count()},
                )
                return HttpResponseRedirect(reverse("directory:permissions", kwargs={"kind": spec.slug, "name": name}))
        enabled, disabled = new_enabled, new_disabled
    effective, unreadable = await effective_permissions(
        request.stalwart,
        principal.roles,
        enabled,
        disabled,
        user.version,
    )
    groups = []
    for area, _prefixes in AREAS:
        rows = []
        for permission in sorted(known, key=lambda item: PERMISSIONS[item].id):
            if PERMISSIONS[permission].area != area:
                continue
            text = describe(permission)
            if query and query not in permission and query not in text.lower():
                continue
            state = "on" if permission in enabled else "off" if permission in disabled else "default"
            rows.append(
                {
                    "name": permission,
                    "text": text,
                    "state": state,
                    "effective": permission in effective,
                    "beyond_you": permission not in user.permissions and state == "on",
                }
            )
        if rows:
            groups.append((area, rows))
    context = {
        "kind": spec,
        "principal": principal,
        "groups": groups,
        "query": query,
        "effective_count": len(effective),
        "known_count": len(known),
        "unreadable": unreadable,
        "error": error,
        "roles": [(role, BUILTIN_ROLES.get(role, "")) for role in principal.roles],
    }
    template = "directory/permissions.html#permission-table" if request.htmx else "directory/permissions.html"
    if failure is not None:
        return responses.form_upstream_failure(
            request,
            template,
            context,
            failure,
            check_url=reverse("directory:permissions", kwargs={"kind": spec.slug, "name": name}),
            check_label=_("See the permissions of %(name)s as they are now") % {"name": name},
        )
    return render(request, template, context, status=status)


# --- account actions ----------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@require(needs("individual-update"), target=CHANGES_NAME)
async def account_password(request: PortalRequest, name: str) -> HttpResponse:
    spec = KINDS["accounts"]
    principal = await _load(request, spec, name)
    form = PasswordResetForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        secret = await hash_password_async(form.cleaned_data["password"])
        try:
            await request.stalwart.principals.update(
                name,
                password_change(secret, single_password=request.portal_user.capabilities.single_password_secrets),
            )
        except responses.SUBMIT_FAILURES as exc:
            return responses.form_upstream_failure(
                request,
                "directory/password.html",
                {"kind": spec, "principal": principal, "form": form},
                exc,
                form=form,
                check_url=_detail_url(spec, name),
                check_label=_("See %(name)s as it is now") % {"name": name},
                idempotent=True,
            )
        await session.credentials_changed(name)  # their portal sessions end
        log.info("%s reset the password of %s", request.portal_user.name, name)
        messages.success(
            request,
            _(
                "The password of %(name)s was changed and they are signed out of the portal. "
                "Their app passwords and two-factor are unchanged."
            )
            % {"name": name},
        )
        return HttpResponseRedirect(_detail_url(spec, name))
    return render(
        request,
        "directory/password.html",
        {"kind": spec, "principal": principal, "form": form},
        status=422 if form.errors else 200,
    )


@require_POST
@require(needs("individual-update"), target=CHANGES_NAME)
async def account_sign_in(request: PortalRequest, name: str) -> HttpResponse:
    spec = KINDS["accounts"]
    enable = request.POST.get("enable") == "1"
    await request.stalwart.principals.update(name, sign_in_change(enable))
    log.info("%s %s sign-in for %s", request.portal_user.name, "enabled" if enable else "disabled", name)
    messages.success(
        request,
        (_("%(name)s can sign in again.") if enable else _("%(name)s can no longer sign in (mail still arrives)."))
        % {"name": name},
    )
    return HttpResponseRedirect(_detail_url(spec, name))


@require_http_methods(["GET", "POST"])
@require(CREDENTIAL_REVOKE, target=CHANGES_NAME)
async def account_credential_revoke(request: PortalRequest, name: str, credential: str) -> HttpResponse:
    """Revoke one app password or API key of an account (Stalwart 0.16+), after a confirmation."""
    spec = KINDS["accounts"]
    principal = await _load(request, spec, name)
    found = next(
        (c for c in principal.secrets.credentials if c.id == credential and c.kind in REVOCABLE_KINDS), None
    )
    if found is None or principal.id is None:
        messages.info(request, _("That credential no longer exists."))
        return HttpResponseRedirect(_detail_url(spec, name))
    context = {"kind": spec, "principal": principal, "credential": found}
    if request.method == "POST":
        try:
            account: Any = request.stalwart.account  # the JMAP account area: the page is 0.16-only
            await account.revoke_credential(principal.id, found.id, name=principal.name)
        except errors.ItemNotFound:
            messages.info(request, _("That credential no longer exists."))
            return HttpResponseRedirect(_detail_url(spec, name))
        except responses.SUBMIT_FAILURES as exc:
            return responses.form_upstream_failure(
                request,
                "directory/credential_revoke.html",
                context,
                exc,
                check_url=_detail_url(spec, name),
                check_label=_("See %(name)s as it is now") % {"name": name},
                idempotent=True,
            )
        log.info("%s revoked a %s credential of %s", request.portal_user.name, found.kind, name)
        messages.success(
            request,
            _("“%(label)s” of %(name)s is revoked: it can no longer be used.")
            % {"label": found.description or found.id, "name": name},
        )
        return HttpResponseRedirect(_detail_url(spec, name))
    return render(request, "directory/credential_revoke.html", context)


# --- picker search --------------------------------------------------------------------
def _picker_rule(field: str, **_kwargs: object) -> Access:
    types = PICKER_TYPES.get(field)
    if types is None:
        raise Http404(_("No such picker."))
    return needs(*(principal_permission(principal_type, "list") for principal_type in types))


@require_GET
@require(_picker_rule)
async def picker_options(request: PortalRequest, field: str) -> HttpResponse:
    """Names to add to a membership field, found by Stalwart's search (20 at most)."""
    query = request.GET.get("q", "").strip()[:100]
    page = None
    if query:
        page = await request.stalwart.principals.list(
            types=PICKER_TYPES[field], filter=query, page=1, limit=20, fields=["name", "description"]
        )
    extra = [(role, label) for role, label in BUILTIN_ROLES.items() if field == "roles" and query.lower() in role]
    context = {"field": field, "page": page, "query": query, "builtin": extra}
    return render(request, "directory/picker_options.html", context)


# --- CSV ------------------------------------------------------------------------------
@require_GET
@require(list_access)
async def principal_export(request: PortalRequest, kind: str) -> HttpResponse:
    spec = kind_for(kind)
    query = request.GET.get("q", "").strip()[:200]
    # Fetch the first page before answering: when that call fails, the person gets the error
    # page instead of a download that breaks off.
    first = await csv_io.export_page(request.stalwart, spec, query)
    counts = spec.shows_count(request.portal_user.capabilities.member_counts)
    response = StreamingHttpResponse(
        csv_io.export_rows(request.stalwart, spec, query, first=first, counts=counts),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{spec.slug}.csv"'
    return response


IMPORT_KEY = "portal.directory.import"


@require_http_methods(["GET", "POST"])
@require(needs("individual-create", "individual-update", "individual-get"))
async def account_import(request: PortalRequest) -> HttpResponse:
    """Upload a CSV, see what it would do, then apply it."""
    spec = KINDS["accounts"]
    if request.method == "POST" and request.POST.get("apply"):
        plan_id = await request.session.aget(IMPORT_KEY)
        sealed = await cache.aget(f"import:{plan_id}") if plan_id and plan_id == request.POST["apply"] else None
        rows_data = json.loads(unseal(sealed) or "null") if sealed else None
        if not rows_data:
            messages.error(request, _("That import preview has expired. Upload the file again."))
            return HttpResponseRedirect(reverse("directory:import"))
        rows = [csv_io.Row(**data) for data in rows_data]
        try:
            await csv_io.apply_import(request.stalwart, rows)
        except responses.SUBMIT_FAILURES as exc:
            # The preview again, with the rows done so far: applying it again skips them.
            await cache.aset(f"import:{plan_id}", seal(json.dumps([row.as_dict() for row in rows])), timeout=900)
            pending = [row for row in rows if row.ok is None]
            counts = {action: sum(1 for row in pending if row.action == action) for action in ("create", "update")}
            counts |= {action: sum(1 for row in rows if row.action == action) for action in ("unchanged", "invalid")}
            context = {"kind": spec, "form": csv_io.ImportForm(), "rows": rows, "plan_id": plan_id, "counts": counts}
            return responses.form_upstream_failure(
                request,
                "directory/import.html",
                context,
                exc,
                check_url=_list_url(spec),
                check_label=_("See the accounts as they are now"),
            )
        await cache.adelete(f"import:{plan_id}")
        await request.session.apop(IMPORT_KEY, None)
        done = sum(1 for row in rows if row.ok)
        failed = sum(1 for row in rows if row.ok is False)
        log.info("%s imported accounts: %d done, %d failed", request.portal_user.name, done, failed)
        return render(
            request,
            "directory/import.html",
            {"kind": spec, "rows": rows, "applied": True, "done": done, "failed": failed},
        )

    form = csv_io.ImportForm(request.POST or None, request.FILES or None)
    context: dict = {"kind": spec, "form": form}
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > 2 * 1024 * 1024:
            form.add_error("file", _("The file is larger than 2 MiB; split it into smaller files."))
        else:
            rows, problem = csv_io.parse_import(upload.read())
            if problem:
                form.add_error("file", problem)
            else:
                await csv_io.plan_import(
                    request.stalwart,
                    rows,
                    _import_guard(request),
                    single_password=request.portal_user.capabilities.single_password_secrets,
                )
                plan_id = secrets.token_urlsafe(16)
                await cache.aset(f"import:{plan_id}", seal(json.dumps([row.as_dict() for row in rows])), timeout=900)
                await request.session.aset(IMPORT_KEY, plan_id)
                counts = {
                    action: sum(1 for row in rows if row.action == action)
                    for action in ("create", "update", "unchanged", "invalid")
                }
                context.update({"rows": rows, "plan_id": plan_id, "counts": counts})
    return render(request, "directory/import.html", context, status=422 if form.errors else 200)
