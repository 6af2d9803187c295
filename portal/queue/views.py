"""Message queue pages: the list, one message, retry and cancel (each confirmed first),
bulk actions by filter with a preview, pause/resume, and the queue of outgoing reports."""

from __future__ import annotations

import asyncio
import logging

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal import responses
from portal.access import holds_everything, require
from portal.paging import Paging
from portal.permissions import Access, check_names, needs
from portal.request import PortalRequest
from portal.stalwart import errors
from portal.stalwart.queue_types import OutgoingReportId, QueuedMessage
from portal.stalwart.types import Page

from .forms import FilteredPaging, QueueFilterForm, ReportFilterForm, ReportRescheduleForm, queue_filters
from .rows import render_rows

log = logging.getLogger("portal.queue")

GONE = gettext_lazy("This message is no longer in the queue: it was delivered, returned to its sender or cancelled.")
REPORT_GONE = gettext_lazy("This report is no longer queued: it was sent or cancelled.")
SAMPLE_SIZE = 10

# The bulk page previews with the list call, then retries or cancels.
BULK_ACCESS = Access(
    all_of=check_names(["message-queue-list"]),
    any_of=check_names(["message-queue-update", "message-queue-delete"]),
)
REPORTS_BULK_ACCESS = needs("outgoing-report-list", "outgoing-report-delete")


def _user(request: PortalRequest):
    return request.portal_user


def _client(request: PortalRequest):
    return request.stalwart


def _detail_url(message_id: int) -> str:
    return reverse("queue:detail", kwargs={"message_id": message_id})


def _list_url(query: str = "") -> str:
    return reverse("queue:list") + (f"?{query}" if query else "")


async def _load(request: PortalRequest, message_id: int) -> QueuedMessage | HttpResponse:
    try:
        return await _client(request).queue.message(message_id)
    except (errors.NotFound, errors.ItemNotFound):
        return responses.not_found(request, GONE)


# --- the list -----------------------------------------------------------------------
@require_GET
@require(needs("message-queue-list"))
async def message_list(request: PortalRequest) -> HttpResponse:
    """One page of the queue, searched and filtered by Stalwart, built from one request."""
    form, paging = queue_filters(request)
    page = await _client(request).queue.messages(form.selection(), page=paging.page, limit=paging.size)
    user = _user(request)
    context = {
        "form": form,
        "page": page,
        "rows": render_rows(page.items, linked=user.has("message-queue-get")),
        "paging": paging.with_total(page.total),
        "running": page.running,
        "running_note": user.capabilities.why("queue_status"),
        "can_update": user.has("message-queue-update"),
        "can_delete": user.has("message-queue-delete"),
        "filtered": not form.selection().is_empty,
    }
    template = "queue/list.html#results" if request.htmx else "queue/list.html"
    return render(request, template, context, status=422 if form.errors else 200)


@require_POST
@require(needs("message-queue-update"))
async def queue_status(request: PortalRequest) -> HttpResponse:
    """Pause or resume delivery for the whole queue."""
    run = request.POST.get("running") == "1"
    was_running = await _client(request).queue.set_running(run)
    log.info("%s %s the queue", _user(request).name, "resumed" if run else "paused")
    if was_running is None:  # the server does not say what the state was (0.16+)
        messages.success(
            request,
            gettext("Delivery resumed.")
            if run
            else gettext("Delivery paused. Messages wait in the queue until you resume it."),
        )
    elif run:
        messages.success(
            request, gettext("Delivery resumed.") if not was_running else gettext("Delivery was already running.")
        )
    elif was_running:
        messages.success(request, gettext("Delivery paused. Messages wait in the queue until you resume it."))
    else:
        messages.info(request, gettext("Delivery was already paused."))
    return HttpResponseRedirect(_list_url())


# --- one message --------------------------------------------------------------------
@require_GET
@require(needs("message-queue-get"))
async def message_detail(request: PortalRequest, message_id: int) -> HttpResponse:
    # GET /api/queue/status exists on every REST version: a paused queue is said here too
    # (0.16 does not report it).
    user = _user(request)
    if user.capabilities.queue_status:
        message, running = await asyncio.gather(_load(request, message_id), _client(request).queue.running())
    else:
        message, running = await _load(request, message_id), None
    if isinstance(message, HttpResponse):
        return message
    headers = None
    headers_note = ""
    if user.has("blob-fetch") and message.blob_hash:
        try:
            headers = await _client(request).queue.headers(message)
        except (errors.ItemNotFound, errors.NotFound):
            headers_note = gettext("The message content is no longer in the blob store.")
        except errors.BadRequest:
            headers_note = gettext("Stalwart could not read this message's content reference.")
    context = {
        "message": message,
        "running": running,
        "headers": headers,
        "headers_note": headers_note,
        "can_blob": user.has("blob-fetch"),
        "can_update": user.has("message-queue-update"),
        "can_delete": user.has("message-queue-delete"),
    }
    return render(request, "queue/detail.html", context)


def _confirm(request: PortalRequest, context: dict, status: int = 200) -> HttpResponse:
    template = "queue/confirm.html#confirm" if request.htmx else "queue/confirm.html"
    return render(request, template, context, status=status)


def _failed(
    request: PortalRequest,
    context: dict,
    exc: errors.StalwartError,
    check_url: str,
    *,
    template: str = "",
    idempotent: bool = False,
) -> HttpResponse:
    """The confirmation again after the action failed in Stalwart, with where to check its effect."""
    if not template:
        template = "queue/confirm.html#confirm" if request.htmx else "queue/confirm.html"
    return responses.form_upstream_failure(
        request,
        template,
        context,
        exc,
        check_url=check_url,
        check_label=gettext("See the queue as it is now"),
        idempotent=idempotent,
    )


@require_http_methods(["GET", "POST"])
@require(needs("message-queue-update"))
async def message_retry(request: PortalRequest, message_id: int) -> HttpResponse:
    """Deliver now: every pending domain of the message, or one."""
    source = request.POST if request.method == "POST" else request.GET
    domain = source.get("domain", "").strip().lower()[:255]
    message = await _load(request, message_id)
    if isinstance(message, HttpResponse):
        return message
    # Stalwart matches the domain filter as a substring of pending domain names.
    affected = [d for d in message.pending_domains if domain in d.name]
    if not affected:
        messages.info(request, gettext("Nothing is waiting for delivery here."))
        return HttpResponseRedirect(_detail_url(message_id))
    context = {"message": message, "action": "retry", "domain": domain, "domains": affected}
    if request.method == "GET":
        return _confirm(request, context)
    try:
        changed = await _client(request).queue.retry(message_id, domain=domain)
    except responses.SUBMIT_FAILURES as exc:
        return _failed(request, context, exc, _detail_url(message_id), idempotent=True)
    log.info("%s retried queue message %s (domain %r)", _user(request).name, message_id, domain)
    if changed:
        names = ", ".join(d.name for d in affected)
        messages.success(request, gettext("Stalwart will try to deliver to %(domains)s now.") % {"domains": names})
    else:
        messages.info(request, gettext("Nothing was waiting for delivery any more."))
    return HttpResponseRedirect(_detail_url(message_id))


@require_http_methods(["GET", "POST"])
@require(needs("message-queue-delete"))
async def message_cancel(request: PortalRequest, message_id: int) -> HttpResponse:
    """Cancel one recipient, one domain, or the whole message."""
    source = request.POST if request.method == "POST" else request.GET
    recipient = source.get("recipient", "").strip().lower()[:320]
    domain = source.get("domain", "").strip().lower()[:255]
    message = await _load(request, message_id)
    if isinstance(message, HttpResponse):
        return message
    if recipient:
        scope, item = "recipient", recipient
    elif domain:
        scope, item = "domain", "@" + domain
    else:
        scope, item = "message", ""
    # Stalwart cancels every recipient whose lowercased address *contains* the filter:
    # show exactly who that is, including addresses the filter matches by accident.
    affected = [r for r in message.recipients if item in r.address.lower()]
    if not affected:
        messages.info(request, gettext("No recipient of this message matches."))
        return HttpResponseRedirect(_detail_url(message_id))
    if scope == "recipient":
        extra = [r for r in affected if r.address.lower() != recipient]
    elif scope == "domain":
        extra = [r for r in affected if r.address.lower().rpartition("@")[2] != domain]
    else:
        extra = []
    remaining = [r for r in message.recipients if r not in affected and r.effective.pending]
    context = {
        "message": message,
        "action": "cancel",
        "scope": scope,
        "recipient": recipient,
        "domain": domain,
        "affected": affected,
        "extra": extra,
        "removes_message": not remaining,
    }
    if request.method == "GET":
        return _confirm(request, context)
    try:
        changed = await _client(request).queue.cancel(message_id, recipients=item)
    except responses.SUBMIT_FAILURES as exc:
        return _failed(request, context, exc, _detail_url(message_id))
    log.info("%s cancelled queue message %s (%s %r)", _user(request).name, message_id, scope, item)
    if scope == "message":
        messages.success(request, gettext("The message was removed from the queue."))
        return HttpResponseRedirect(_list_url())
    if changed:
        count = len(affected)
        messages.success(
            request,
            ngettext("Delivery to %(count)s recipient cancelled.", "Delivery to %(count)s recipients cancelled.", count)
            % {"count": count},
        )
    else:
        messages.info(request, gettext("No recipient matched any more; nothing was cancelled."))
    return HttpResponseRedirect(_list_url() if not remaining else _detail_url(message_id))


# --- bulk by filter -------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@require(BULK_ACCESS)
async def bulk(request: PortalRequest) -> HttpResponse:
    """Retry or cancel everything a filter selects: preview first, then act on exactly that filter."""
    source = request.POST if request.method == "POST" else request.GET
    form, paging = queue_filters(request, source)
    user = _user(request)
    action = source.get("action", "")
    context = {
        "form": form,
        "paging": paging,
        "can_update": user.has("message-queue-update"),
        "can_delete": user.has("message-queue-delete"),
        "action": action if action in ("retry", "cancel") else "",
    }
    if form.errors:
        return render(request, "queue/bulk.html", context, status=422)
    selection = form.selection()
    preview = await _client(request).queue.preview(selection, limit=SAMPLE_SIZE)
    context.update({"preview": preview, "selection": selection})
    if request.method == "GET":
        return render(request, "queue/bulk.html", context)

    needed = {"retry": "message-queue-update", "cancel": "message-queue-delete"}.get(action)
    if needed is None:
        return render(request, "queue/bulk.html", context, status=400)
    if not user.has(needed):
        return responses.forbidden(request, user, needs(needed))
    try:
        expected = int(source.get("expected", ""))
    except ValueError:
        expected = -1
    if preview.total == 0:
        messages.info(request, gettext("No queued message matches any more; nothing was done."))
        return HttpResponseRedirect(_list_url(paging.filters_query))
    if expected != preview.total:
        context["changed"] = True
        return render(request, "queue/bulk.html", context, status=409)
    try:
        if action == "retry":
            matched = await _client(request).queue.retry_matching(selection)
        else:
            matched = await _client(request).queue.cancel_matching(selection)
    except responses.SUBMIT_FAILURES as exc:
        check_url = _list_url(paging.filters_query)
        return _failed(request, context, exc, check_url, template="queue/bulk.html", idempotent=action == "retry")
    if action == "retry":
        text = ngettext(
            "Stalwart is retrying %(count)s message now, in the background. Refresh in a moment to see the result.",
            "Stalwart is retrying %(count)s messages now, in the background. Refresh in a moment to see the result.",
            preview.total,
        )
    else:
        text = ngettext(
            "Stalwart is removing %(count)s message from the queue, in the background. "
            "Refresh in a moment to see the result.",
            "Stalwart is removing %(count)s messages from the queue, in the background. "
            "Refresh in a moment to see the result.",
            preview.total,
        )
    log.info("%s bulk %s of %d queued messages (%s)", user.name, action, preview.total, selection.params())
    if matched:
        messages.success(request, text % {"count": preview.total})
    else:
        messages.info(request, gettext("No queued message matched any more; nothing was done."))
    return HttpResponseRedirect(_list_url(paging.filters_query if action == "retry" else ""))


# --- outgoing reports -------------------------------------------------------------------
def _report_filters(request: PortalRequest, source=None) -> tuple[ReportFilterForm, FilteredPaging, str]:
    data = source if source is not None else request.GET
    form = ReportFilterForm(data)
    form.is_valid()
    kind = form.cleaned_data.get("type", "") if hasattr(form, "cleaned_data") else ""
    base = Paging.from_request(request)
    paging = FilteredPaging(
        query=(data.get("q") or "").strip()[:200], page=base.page, size=base.size, extra=(("type", kind or ""),)
    )
    return form, paging, kind or ""


async def _report_domains(request: PortalRequest) -> frozenset[str] | None:
    """The domains whose outgoing reports this person may see, where the server does not confine
    them itself (0.16 keeps one queue of reports for every tenant; the area says, `report_scope`);
    None for all of them (<= 0.15 confines them itself; an administrator of the whole server)."""
    user = _user(request)
    if not user.enterprise or holds_everything(user) or user.native_all:
        return None
    return await _client(request).queue.report_scope()


def _report_in_scope(domains: frozenset[str] | None, domain: str) -> bool:
    return domains is None or domain.lower() in domains


async def _reports(
    request: PortalRequest, domains: frozenset[str] | None, *, kind: str, query: str, page: int, limit: int
) -> Page[OutgoingReportId]:
    """A page of the queued reports this person may see (see `_report_domains`)."""
    queue = _client(request).queue
    if domains is None:
        return await queue.reports(kind=kind, domain=query, page=page, limit=limit)
    wanted = [query.strip().lower()] if query.strip() else sorted(domains)
    wanted = [domain for domain in wanted if domain in domains]
    if len(wanted) == 1:
        return await queue.reports(kind=kind, domain=wanted[0], page=page, limit=limit)
    merged: list[OutgoingReportId] = []
    total = 0
    for domain in wanted:  # a tenant's few domains, each the whole domain name 0.16 filters by
        found = await queue.reports(kind=kind, domain=domain, page=1, limit=page * limit)
        merged += found.items
        total += found.total
    merged.sort(key=lambda report: (report.domain, report.kind))
    return Page(items=tuple(merged[(page - 1) * limit : page * limit]), total=total)


@require_GET
@require(needs("outgoing-report-list"))
async def report_list(request: PortalRequest) -> HttpResponse:
    """Aggregate reports this server will send, with their due times (the id says it all)."""
    form, paging, kind = _report_filters(request)
    domains = await _report_domains(request)
    page = await _reports(request, domains, kind=kind, query=paging.query, page=paging.page, limit=paging.size)
    user = _user(request)
    context = {
        "domain_exact": user.capabilities.report_domain_exact,
        "form": form,
        "page": page,
        "paging": paging.with_total(page.total),
        "kind": kind,
        "can_get": user.has("outgoing-report-get"),
        "can_delete": user.has("outgoing-report-delete"),
        "filtered": bool(kind or paging.query),
    }
    template = "queue/reports.html#results" if request.htmx else "queue/reports.html"
    return render(request, template, context)


@require_GET
@require(needs("outgoing-report-get"))
async def report_detail(request: PortalRequest, report_id: str) -> HttpResponse:
    try:
        report = await _client(request).queue.report(report_id)
    except (errors.NotFound, errors.ItemNotFound):
        return responses.not_found(request, REPORT_GONE)
    if not _report_in_scope(await _report_domains(request), report.domain):
        return responses.not_found(request, REPORT_GONE)  # another tenant's: as if it did not exist
    user = _user(request)
    context = {
        "report": report,
        "can_delete": user.has("outgoing-report-delete"),
        "can_reschedule": user.has("outgoing-report-delete") and user.capabilities.report_reschedule,
    }
    return render(request, "queue/report.html", context)


@require_http_methods(["GET", "POST"])
@require(needs("outgoing-report-delete"))
async def report_delete(request: PortalRequest, report_id: str) -> HttpResponse:
    # <= 0.15: the id says it all (no call); 0.16+: the report is read.
    parsed = await _client(request).queue.report_ref(report_id)
    if parsed is None or not _report_in_scope(await _report_domains(request), parsed.domain):
        return responses.not_found(request, REPORT_GONE)
    if request.method == "GET":
        template = "queue/report_delete.html#confirm" if request.htmx else "queue/report_delete.html"
        return render(request, template, {"report": parsed})
    try:
        deleted = await _client(request).queue.delete_report(report_id)
    except (errors.NotFound, errors.ItemNotFound):
        return responses.not_found(request, REPORT_GONE)
    except responses.SUBMIT_FAILURES as exc:
        template = "queue/report_delete.html#confirm" if request.htmx else "queue/report_delete.html"
        return _failed(request, {"report": parsed}, exc, reverse("queue:reports"), template=template)
    log.info("%s cancelled outgoing report %s", _user(request).name, report_id)
    if deleted:
        messages.success(
            request,
            gettext("The %(kind)s report for %(domain)s will not be sent.")
            % {"kind": parsed.kind.upper(), "domain": parsed.domain},
        )
    else:
        messages.info(request, gettext("This report could not be cancelled."))
    return HttpResponseRedirect(reverse("queue:reports"))


@require_http_methods(["GET", "POST"])
@require(needs("outgoing-report-delete"))
async def report_reschedule(request: PortalRequest, report_id: str) -> HttpResponse:
    """Send a queued report now or at another time (0.16+: `deliverAt`; <= 0.15 has no such call
    and the page is not offered there). Gated as cancelling is: whoever may drop a report may
    send it at another time; the server also checks its own update permission."""
    parsed = await _client(request).queue.report_ref(report_id)
    if parsed is None or not _report_in_scope(await _report_domains(request), parsed.domain):
        return responses.not_found(request, REPORT_GONE)
    form = ReportRescheduleForm(request.POST if request.method == "POST" else None)
    context = {"report": parsed, "form": form}
    template = "queue/report_reschedule.html"
    if request.method == "GET":
        return render(request, template, context)
    if not form.is_valid():
        return render(request, template, context, status=422)
    deliver_at = form.send_at()
    try:
        await _client(request).queue.reschedule_report(report_id, deliver_at)
    except (errors.NotFound, errors.ItemNotFound):
        return responses.not_found(request, REPORT_GONE)
    except errors.OtherError as exc:  # the server refused the time (in the past by its clock)
        reason = (exc.details or exc.message)[:200]
        form.add_error(
            "deliver_at" if form.cleaned_data.get("when") == "at" else None,
            gettext("Stalwart did not accept this time (%(reason)s): choose a later one.") % {"reason": reason},
        )
        return render(request, template, context, status=422)
    except responses.SUBMIT_FAILURES as exc:
        return responses.form_upstream_failure(
            request,
            template,
            context,
            exc,
            form=form,
            check_url=reverse("queue:report", kwargs={"report_id": report_id}),
            check_label=gettext("See the report as it is now"),
            idempotent=True,
        )
    log.info("%s rescheduled outgoing report %s to %s", _user(request).name, report_id, deliver_at.isoformat())
    kind, domain = parsed.kind.upper(), parsed.domain
    if form.cleaned_data.get("when") == "at":
        text = gettext("The %(kind)s report for %(domain)s will be sent at %(when)s UTC.") % {
            "kind": kind,
            "domain": domain,
            "when": deliver_at.strftime("%Y-%m-%d %H:%M"),
        }
    else:
        text = gettext("The %(kind)s report for %(domain)s will be sent within a minute.") % {
            "kind": kind,
            "domain": domain,
        }
    messages.success(request, text)
    return HttpResponseRedirect(reverse("queue:report", kwargs={"report_id": report_id}))


@require_http_methods(["GET", "POST"])
@require(REPORTS_BULK_ACCESS)
async def reports_delete_matching(request: PortalRequest) -> HttpResponse:
    """Cancel every queued report matching the type/domain filter, after a preview."""
    source = request.POST if request.method == "POST" else request.GET
    form, paging, kind = _report_filters(request, source)
    queue = _client(request).queue
    domains = await _report_domains(request)
    preview = await _reports(request, domains, kind=kind, query=paging.query, page=1, limit=SAMPLE_SIZE)
    context = {
        "form": form,
        "paging": paging,
        "kind": kind,
        "preview": preview,
        "domain_exact": _user(request).capabilities.report_domain_exact,
    }
    if request.method == "GET":
        return render(request, "queue/reports_delete.html", context)
    try:
        expected = int(source.get("expected", ""))
    except ValueError:
        expected = -1
    if preview.total == 0:
        messages.info(request, gettext("No queued report matches any more; nothing was cancelled."))
        return HttpResponseRedirect(reverse("queue:reports"))
    if expected != preview.total:
        context["changed"] = True
        return render(request, "queue/reports_delete.html", context, status=409)
    if domains is None:
        targets = [paging.query]
    else:  # only the person's own domains, each by its whole name
        targets = [paging.query.strip().lower()] if paging.query.strip() else sorted(domains)
        targets = [domain for domain in targets if domain in domains]
    try:
        for domain in targets:
            await queue.delete_reports_matching(kind=kind, domain=domain)
    except responses.SUBMIT_FAILURES as exc:
        return _failed(request, context, exc, reverse("queue:reports"), template="queue/reports_delete.html")
    log.info(
        "%s cancelled %d outgoing reports (type %r, domain %r)", _user(request).name, preview.total, kind, paging.query
    )
    messages.success(
        request,
        ngettext(
            "Cancelling %(count)s report in the background.",
            "Cancelling %(count)s reports in the background.",
            preview.total,
        )
        % {"count": preview.total},
    )
    return HttpResponseRedirect(reverse("queue:reports"))


__all__ = ["QueueFilterForm"]
