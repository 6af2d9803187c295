"""The audit trail: who changed what, when, from where, and how it went."""

from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time
from typing import Any

from asgiref.sync import sync_to_async
from django import forms
from django.core.paginator import Paginator
from django.db import close_old_connections
from django.db.models import Q, QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from portal.access import require
from portal.models import AuditEntry
from portal.permissions import SIGNED_IN, PortalUser
from portal.request import PortalRequest
from portal.skeleton import render_around

PAGE_SIZE = 50


class AuditFilter(forms.Form):
    actor = forms.CharField(required=False, max_length=512, label=_("Who"))
    action = forms.CharField(required=False, max_length=100, label=_("Action"))
    target = forms.CharField(required=False, max_length=512, label=_("Target"))
    outcome = forms.ChoiceField(
        required=False,
        label=_("Outcome"),
        choices=[("", _("Any result")), (AuditEntry.SUCCESS, _("Succeeded")), (AuditEntry.FAILURE, _("Failed"))],
    )
    since = forms.DateField(required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label=_("Until"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end date is before the start date."))
        return data


def visible_entries(user: PortalUser) -> QuerySet[AuditEntry]:
    """Everyone sees their own actions; log readers see all; tenant admins their tenant's."""
    entries = AuditEntry.objects.all()
    if user.has("logs-view"):
        return entries
    scope = Q(actor=user.name)
    if user.tenant:
        scope |= Q(actor_tenant=user.tenant)
    return entries.filter(scope)


def _filtered(request: PortalRequest) -> tuple[AuditFilter, QuerySet[AuditEntry]]:
    form = AuditFilter(request.GET or None)
    entries = visible_entries(request.portal_user)
    if form.is_bound and not form.is_valid():
        # Never everything in place of what was asked: the errors instead (next to the filters).
        return form, entries.none()
    if form.is_valid():
        data = form.cleaned_data
        if data["actor"]:
            entries = entries.filter(actor__icontains=data["actor"].strip())
        if data["action"]:
            entries = entries.filter(action__icontains=data["action"].strip())
        if data["target"]:
            entries = entries.filter(target__icontains=data["target"].strip())
        if data["outcome"]:
            entries = entries.filter(outcome=data["outcome"])
        zone = timezone.get_current_timezone()
        if data["since"]:
            entries = entries.filter(at__gte=datetime.combine(data["since"], time.min, zone))
        if data["until"]:
            entries = entries.filter(at__lte=datetime.combine(data["until"], time.max, zone))
    return form, entries


@require_GET
@require(SIGNED_IN)
async def audit_list(request: PortalRequest) -> HttpResponse:
    form, entries = _filtered(request)

    def page_of(number: str | None):
        page = Paginator(entries, PAGE_SIZE).get_page(number)
        return page, list(page.object_list)

    page, entries = await sync_to_async(page_of)(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    sees_all = request.portal_user.has("logs-view")
    context = {"form": form, "page": page, "query": query.urlencode(), "sees_all": sees_all}
    template = "audit/list.html#results" if request.htmx else "audit/list.html"
    rows = render_to_string("audit/list.html#rows", {"entries": entries}) if entries else SafeString()
    # The filters and the pager are written from the whole query string ({% querystring %}).
    vary = (tuple(sorted(request.GET.lists())), page.number, page.paginator.count, sees_all)
    return render_around(request, template, context, rows=rows, vary=vary)


class _Echo:
    def write(self, value: str) -> str:
        return value


CSV_FIELDS = (
    "at",
    "actor",
    "actor_tenant",
    "ip",
    "action",
    "target",
    "method",
    "path",
    "outcome",
    "status",
    "error",
    "params",
)
#: rows read from the database in one go
EXPORT_BATCH = 200
#: Exports read their batches here, each thread with a database connection of its own,
#: never in the shared thread: pages (their session reads, their audit writes) go on
#: beside a long export instead of queueing behind its reads. Two threads: more exports
#: at once take turns.
EXPORT_READERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="audit-export")


def _batches(entries: QuerySet[AuditEntry]):
    """The entries as value tuples, newest first, EXPORT_BATCH at a time (keyset paging)."""
    columns = [field for field in CSV_FIELDS if field != "at"]
    ordered = entries.order_by("-at", "-id")

    def read(after: tuple | None) -> list[tuple]:
        query = ordered
        if after is None:
            # This thread's connection may be left from an earlier export: drop it if it
            # has outlived CONN_MAX_AGE or broke, as a request's start does.
            close_old_connections()
        else:
            at, pk = after
            # A range on the `at` index, then the entries of that same instant not sent yet
            # (an OR of the two would have the database walk the index from the top again).
            query = query.filter(at__lte=at).exclude(at=at, id__gte=pk)
        return list(query.values_list("id", "at", *columns)[:EXPORT_BATCH])

    return read


async def export_lines(entries: QuerySet[AuditEntry]):
    """The CSV, one chunk per batch: never more than a batch of rows in memory, the
    database read in the export threads."""
    writer = csv.writer(_Echo())
    read = sync_to_async(_batches(entries), thread_sensitive=False, executor=EXPORT_READERS)
    yield writer.writerow(CSV_FIELDS)
    after = None
    while True:
        batch = await read(after)
        if not batch:
            return
        lines = []
        for _pk, at, *rest in batch:
            values = [at.isoformat(), *rest]
            values[-1] = _params(values[-1])
            lines.append(writer.writerow([_cell(value) for value in values]))
        yield "".join(lines)
        if len(batch) < EXPORT_BATCH:
            return
        after = (batch[-1][1], batch[-1][0])


def _params(value: object) -> str:
    # As the model instance showed it before: the stored dictionary, printed.
    return "" if value is None else str(value)


@require_GET
@require(SIGNED_IN)
async def audit_csv(request: PortalRequest) -> HttpResponse:
    form, entries = _filtered(request)
    if form.errors:
        labels = {name: field.label for name, field in form.fields.items()}
        problems = "; ".join(
            f"{labels[name]}: {' '.join(map(str, errors))}" if name in labels else " ".join(map(str, errors))
            for name, errors in form.errors.items()
        )
        return HttpResponse(
            gettext("These filters cannot be used: %(problems)s") % {"problems": problems},
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    response = StreamingHttpResponse(export_lines(entries), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="portal-audit.csv"'
    return response


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # Spreadsheets run cells that start like a formula: keep them text.
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text
