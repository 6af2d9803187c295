"""The permission editor on Stalwart 0.16+: the server's own permission names.

0.16 has 660 permissions (camelCase, `sysAccountGet`, `jmapEmailGet`, ...), read with their
labels from the server's schema (`/api/schema`, kept per schema hash), so the editor follows
the running release. They are grouped by what they concern, from the shape of the name
(v0.16 permissions.md §1–4). The preview is computed as the server does (own sets united with
the roles' sets, then the disabled ones removed; `Replace` ignores roles), and nobody grants
what they do not hold themselves (`GET /api/account`); Stalwart refuses that too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from portal import access, responses
from portal.permissions import BUILTIN_ROLES
from portal.request import PortalRequest
from portal.stalwart import errors
from portal.stalwart.types import Principal

from .forms import describe_error
from .kinds import Kind

if TYPE_CHECKING:
    from portal.stalwart.jmap.principals import JmapPrincipals

#: Registry objects of the directory (`sys<Object><Op>`), the rest of `sys…` being settings.
_DIRECTORY = (
    "AccountPassword", "AccountSettings", "Account", "ApiKey", "AppPassword", "Domain", "MailingList", "Tenant",
    "Role", "OAuthClient", "DkimSignature", "PublicKey", "MaskedEmail", "Directory", "Authentication",
    "OidcProvider",
)
_MAIL = ("QueuedMessage", "DmarcInternalReport", "TlsInternalReport", "DmarcExternalReport", "TlsExternalReport",
         "ArfExternalReport", "ArchivedItem", "SpamTrainingSample")
_TELEMETRY = ("Log", "Trace", "Tracer", "Metric", "Metrics", "MetricsStore", "TracingStore", "Alert", "WebHook",
              "EventTracingLevel")

#: The groups, in the order the page shows them (`group_of` picks one per name).
GROUPS: tuple[str, ...] = (
    gettext_noop("General"),
    gettext_noop("Directory"),
    gettext_noop("Mail queue, reports and archive"),
    gettext_noop("Logs, traces and metrics"),
    gettext_noop("Actions and tasks"),
    gettext_noop("Server settings"),
    gettext_noop("JMAP"),
    gettext_noop("IMAP"),
    gettext_noop("POP3"),
    gettext_noop("ManageSieve"),
    gettext_noop("WebDAV, CalDAV and CardDAV"),
)
_PROTOCOLS = (("jmap", 6), ("imap", 7), ("pop3", 8), ("sieve", 9), ("dav", 10))
_OPERATIONS = ("Get", "Query", "Create", "Update", "Destroy")


def _object(name: str) -> str:
    """`sysAccountGet` -> `Account` ("" for a name that is not `sys<Object><Op>`)."""
    for op in _OPERATIONS:
        if name.startswith("sys") and name.endswith(op):
            return name[3 : -len(op)]
    return ""


def group_of(name: str) -> str:
    """The group a 0.16 permission is shown in."""
    for prefix, index in _PROTOCOLS:
        if name.startswith(prefix) and name[len(prefix) : len(prefix) + 1].isupper():
            return GROUPS[index]
    if name.startswith(("action", "task")) or _object(name) in ("Task", "TaskManager", "Action"):
        return GROUPS[4]
    obj = _object(name)
    if not obj:
        return GROUPS[3] if name.startswith("live") else GROUPS[0]
    if obj in _DIRECTORY:
        return GROUPS[1]
    if obj in _MAIL:
        return GROUPS[2]
    if obj in _TELEMETRY:
        return GROUPS[3]
    return GROUPS[5]


def groups(
    catalogue: Iterable[tuple[str, str]],
    query: str,
    enabled: set[str],
    disabled: set[str],
    effective: frozenset[str],
    held: frozenset[str] | None,
) -> list[tuple[str, list[dict[str, Any]]]]:
    """The table rows per group; `held` is None for someone holding everything."""
    table: dict[str, list[dict[str, Any]]] = {label: [] for label in GROUPS}
    for name, label in catalogue:
        if query and query not in name.lower() and query not in label.lower():
            continue
        state = "on" if name in enabled else "off" if name in disabled else "default"
        table[group_of(name)].append(
            {
                "name": name,
                "text": label or name,
                "state": state,
                "effective": name in effective,
                "beyond_you": held is not None and name not in held and state == "on",
            }
        )
    return [(label, rows) for label, rows in table.items() if rows]



def submitted(
    post: Mapping[str, str], known: Iterable[str], enabled: Iterable[str], disabled: Iterable[str]
) -> tuple[set[str], set[str]]:
    """The enabled and disabled sets after the permission editor's form: each `p:<name>` is
    "on", "off" or inherited; a permission not on the form (filtered out) stays as it was.
    Both generations' editors read their form with it."""
    new_enabled, new_disabled = set(enabled), set(disabled)
    for permission in known:
        choice = post.get(f"p:{permission}")
        if choice is None:
            continue
        new_enabled.discard(permission)
        new_disabled.discard(permission)
        if choice == "on":
            new_enabled.add(permission)
        elif choice == "off":
            new_disabled.add(permission)
    return new_enabled, new_disabled

async def page(request: PortalRequest, spec: Kind, name: str, principal: Principal) -> HttpResponse:
    """GET and POST of `directory:permissions` on a 0.16+ server."""
    user = request.portal_user
    area = cast("JmapPrincipals", request.stalwart.principals)  # the flag says it is the JMAP backend's
    obj, item = await area.find_raw(name)
    catalogue = await area.permission_catalogue()
    known = {permission for permission, _label in catalogue}
    native = await area.native_permissions(item, obj)
    held = None if access.holds_everything(user) else await area.own_permissions()
    enabled, disabled = set(native.enabled), set(native.disabled)
    query = (request.GET.get("q") or request.POST.get("q") or "").strip().lower()
    status, error, failure = 200, "", None
    page_url = reverse("directory:permissions", kwargs={"kind": spec.slug, "name": name})
    if request.method == "POST":
        new_enabled, new_disabled = submitted(request.POST, known, enabled, disabled)
        refused = sorted(new_enabled - enabled - held) if held is not None else []
        if request.POST.get("action") == "save" and refused:
            return responses.refused_grant(request, refused)
        if request.POST.get("action") == "save":
            count = len(new_enabled ^ enabled) + len(new_disabled ^ disabled)
            try:
                await area.set_native_permissions(item, obj, native.mode, new_enabled, new_disabled)
            except (errors.ManagementError, errors.Forbidden) as exc:
                error = describe_error(exc) if isinstance(exc, errors.ManagementError) else exc.message
                status = 422
            except responses.SUBMIT_FAILURES as exc:
                failure = exc
            else:
                messages.success(
                    request,
                    ngettext(
                        "Permissions of %(name)s saved (%(count)d change).",
                        "Permissions of %(name)s saved (%(count)d changes).",
                        count,
                    )
                    % {"name": name, "count": count},
                )
                return HttpResponseRedirect(page_url)
        enabled, disabled = new_enabled, new_disabled
    effective = native.effective(enabled, disabled) & known
    context = {
        "kind": spec,
        "principal": principal,
        "groups": groups(catalogue, query, enabled, disabled, effective, held),
        "query": query,
        "effective_count": len(effective),
        "known_count": len(known),
        "unreadable": list(native.unreadable),
        "error": error,
        "roles": [(role, BUILTIN_ROLES.get(role, "")) for role in principal.roles],
        "replace": native.mode == "Replace",
    }
    template = "directory/permissions.html#permission-table" if request.htmx else "directory/permissions.html"
    if failure is not None:
        return responses.form_upstream_failure(
            request,
            template,
            context,
            failure,
            check_url=page_url,
            check_label=_("See the permissions of %(name)s as they are now") % {"name": name},
        )
    return render(request, template, context, status=status)
