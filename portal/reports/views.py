"""Incoming reports: DMARC aggregate, TLS and ARF (failure/abuse) lists, details, deletion,
and a DMARC overview with server-rendered charts."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from portal import responses
from portal.access import require
from portal.paging import Paging
from portal.permissions import needs
from portal.request import PortalRequest
from portal.skeleton import render_around
from portal.stalwart import errors
from portal.stalwart.report_types import IncomingReportId

from .charts import dmarc_overview_data
from .rows import render_rows

log = logging.getLogger("portal.reports")

KIND_TEXT = {
    "dmarc": {
        "title": _("DMARC aggregate reports"),
        "tab": "DMARC",
        "deleted": _("The DMARC report was deleted."),
        "delete_question": _("Delete this DMARC report?"),
        "from": _("DMARC report from %(sender)s"),
        "from_unknown": _("DMARC report from an unknown sender"),
        "empty_for_all": _("Leave empty for every DMARC report"),
        "deleting": ngettext_lazy(
            "Deleting %(count)s DMARC report in the background.",
            "Deleting %(count)s DMARC reports in the background.",
            "count",
        ),
        "deleted_matching": ngettext_lazy(
            "Deleted %(count)s DMARC report.",
            "Deleted %(count)s DMARC reports.",
            "count",
        ),
    },
    "tls": {
        "title": _("TLS reports"),
        "tab": "TLS",
        "deleted": _("The TLS report was deleted."),
        "delete_question": _("Delete this TLS report?"),
        "from": _("TLS report from %(sender)s"),
        "from_unknown": _("TLS report from an unknown sender"),
        "empty_for_all": _("Leave empty for every TLS report"),
        "deleting": ngettext_lazy(
            "Deleting %(count)s TLS report in the background.",
            "Deleting %(count)s TLS reports in the background.",
            "count",
        ),
        "deleted_matching": ngettext_lazy(
            "Deleted %(count)s TLS report.",
            "Deleted %(count)s TLS reports.",
            "count",
        ),
    },
    "arf": {
        "title": _("Failure and abuse reports"),
        "tab": _("Failure (ARF)"),
        "deleted": _("The failure report was deleted."),
        "delete_question": _("Delete this failure report?"),
        "from": _("Failure report from %(sender)s"),
        "from_unknown": _("Failure report from an unknown sender"),
        "empty_for_all": _("Leave empty for every failure report"),
        "deleting": ngettext_lazy(
            "Deleting %(count)s failure report in the background.",
            "Deleting %(count)s failure reports in the background.",
            "count",
        ),
        "deleted_matching": ngettext_lazy(
            "Deleted %(count)s failure report.",
            "Deleted %(count)s failure reports.",
            "count",
        ),
    },
}
GONE = _("This report is no longer stored: it expired or was deleted.")
SAMPLE_SIZE = 10
OVERVIEW_LIMIT = 300


def _user(request: PortalRequest):
    return request.portal_user


def _client(request: PortalRequest):
    return request.stalwart


# Stalwart allows 4 requests in flight per account unless it holds unlimited-requests (§2.5).
# Without that limit, a page of 25 (or 32) reports is fetched in one round after the list
# call: measured against the sandbox, 25 calls at once finish sooner than two rounds of 16.
UNLIMITED_CONCURRENCY = 32


def _concurrency(request: PortalRequest) -> int:
    return UNLIMITED_CONCURRENCY if _user(request).has("unlimited-requests") else 4


def _check(kind: str) -> None:
    if kind not in KIND_TEXT:
        raise Http404("No such kind of report.")


def _list_url(kind: str, query: str = "") -> str:
    url = reverse("reports:list", kwargs={"kind": kind})
    return url + (f"?{query}" if query else "")


async def _rows(request: PortalRequest, kind: str, ids: tuple[IncomingReportId, ...]) -> list:
    if not _user(request).has("incoming-report-get"):
        return [(item, None) for item in ids]
    details = await _client(request).reports.details(kind, list(ids), concurrency=_concurrency(request))
    return [(item, details.get(item.raw)) for item in ids]


@require_GET
@require(needs("incoming-report-list"))
async def index(request: PortalRequest) -> HttpResponse:
    return HttpResponseRedirect(_list_url("dmarc"))


@require_GET
@require(needs("incoming-report-list"))
async def report_list(request: PortalRequest, kind: str) -> HttpResponse:
    """One page of reports: ids from Stalwart, then their summaries (cached, fetched concurrently)."""
    _check(kind)
    paging = Paging.from_request(request)
    page = await _client(request).reports.ids(kind, text=paging.query, page=paging.page, limit=paging.size)
    user = _user(request)
    can_get, can_delete = user.has("incoming-report-get"), user.has("incoming-report-delete")
    rows = await _rows(request, kind, page.items)
    context = {
        "kind": kind,
        "text": KIND_TEXT[kind],
        "kinds": KIND_TEXT,
        "rows": rows,
        "page": page,
        "paging": paging.with_total(page.total),
        "can_get": can_get,
        "can_delete": can_delete,
        "word_search": user.capabilities.report_search_words,
    }
    template = "reports/list.html#results" if request.htmx else "reports/list.html"
    row_html = render_rows(kind, rows, can_get=can_get, can_delete=can_delete)  # a <tr> per report
    vary = (context["paging"], can_get, can_delete, context["word_search"])
    return render_around(request, template, context, rows=row_html, rows_name="row_html", vary=vary)


@require_GET
@require(needs("incoming-report-get"))
async def report_detail(request: PortalRequest, kind: str, report_id: str) -> HttpResponse:
    _check(kind)
    try:
        report = await _client(request).reports.get(kind, report_id)
    except errors.NotFound:
        return responses.not_found(request, GONE)
    text = KIND_TEXT[kind]
    context = {
        "kind": kind,
        "text": text,
        "heading": text["from"] % {"sender": report.sender} if report.sender else text["from_unknown"],
        "item": report,
        "report": report.report,
        "can_delete": _user(request).has("incoming-report-delete"),
    }
    return render(request, "reports/detail.html", context)


@require_http_methods(["GET", "POST"])
@require(needs("incoming-report-delete"))
async def report_delete(request: PortalRequest, kind: str, report_id: str) -> HttpResponse:
    _check(kind)
    parsed = IncomingReportId.parse(report_id)
    if not parsed.valid:
        return responses.not_found(request, GONE)
    if request.method == "GET":
        context = {"kind": kind, "text": KIND_TEXT[kind], "report_id": parsed}
        template = "reports/delete.html#confirm" if request.htmx else "reports/delete.html"
        return render(request, template, context)
    try:
        await _client(request).reports.delete(kind, report_id)
    except errors.NotFound:
        return responses.not_found(request, GONE)
    except responses.SUBMIT_FAILURES as exc:
        context = {"kind": kind, "text": KIND_TEXT[kind], "report_id": parsed}
        return _failed(request, "reports/delete.html", context, exc, kind)
    log.info("%s deleted %s report %s", _user(request).name, kind, report_id)
    messages.success(request, str(KIND_TEXT[kind]["deleted"]))
    return HttpResponseRedirect(_list_url(kind))


@require_http_methods(["GET", "POST"])
@require(needs("incoming-report-list", "incoming-report-delete"))
async def delete_matching(request: PortalRequest, kind: str) -> HttpResponse:
    """Delete every report of a class that the search matches (all of them without a search)."""
    _check(kind)
    source = request.POST if request.method == "POST" else request.GET
    text = (source.get("q") or "").strip()[:200]
    reports = _client(request).reports
    preview = await reports.ids(kind, text=text, page=1, limit=SAMPLE_SIZE)
    context = {
        "kind": kind,
        "text": KIND_TEXT[kind],
        "query": text,
        "preview": preview,
        "rows": await _rows(request, kind, preview.items),
    }
    if request.method == "GET":
        return render(request, "reports/delete_matching.html", context)
    try:
        expected = int(source.get("expected", ""))
    except ValueError:
        expected = -1
    if preview.total == 0:
        messages.info(request, gettext("No report matches any more; nothing was deleted."))
        return HttpResponseRedirect(_list_url(kind))
    if expected != preview.total:
        context["changed"] = True
        return render(request, "reports/delete_matching.html", context, status=409)
    try:
        await reports.delete_matching(kind, text=text)
    except responses.SUBMIT_FAILURES as exc:
        return _failed(request, "reports/delete_matching.html", context, exc, kind)
    log.info("%s deleted %d %s reports matching %r", _user(request).name, preview.total, kind, text)
    done = "deleted_matching" if _user(request).capabilities.reports_deleted_at_once else "deleting"
    messages.success(request, KIND_TEXT[kind][done] % {"count": preview.total})
    return HttpResponseRedirect(_list_url(kind))


def _failed(request: PortalRequest, template: str, context: dict, exc: errors.StalwartError, kind: str) -> HttpResponse:
    """The confirmation again after the deletion failed in Stalwart, with a link to the list to check."""
    return responses.form_upstream_failure(
        request,
        template,
        context,
        exc,
        check_url=_list_url(kind),
        check_label=gettext("See the reports as they are now"),
    )


@require_GET
@require(needs("incoming-report-list", "incoming-report-get"))
async def dmarc_overview(request: PortalRequest) -> HttpResponse:
    """Pass/fail per day and the top sending sources, from the stored DMARC reports."""
    domain = (request.GET.get("domain") or "").strip().lower()[:255]
    reports = _client(request).reports
    page = await reports.ids("dmarc", text=domain, page=1, limit=OVERVIEW_LIMIT)
    details = await reports.details("dmarc", list(page.items), concurrency=_concurrency(request))
    found = [item.report for item in details.values() if item is not None]
    data = dmarc_overview_data(found, domain=domain)
    context = {
        "domain": domain,
        "data": data,
        "kinds": KIND_TEXT,
        "kind": "dmarc",
        "truncated": page.total > len(page.items),
        "scanned": len(page.items),
    }
    return render(request, "reports/overview.html", context)
