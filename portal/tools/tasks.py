"""The server's task queue (Stalwart 0.16+, `x:Task`): what waits, retries or failed, with
re-run and cancel.

Tasks that succeed leave the queue at once, so the list shows what is still to run (due
soonest first), what is being retried and what failed. Re-running makes a task due now;
cancelling deletes it. The queue is for administrators of the whole server (`TASKS_ACCESS`);
a change also needs the permission of the task's type (the <= 0.15 permission it replaced,
`TASK_ACCESS`), checked after the task is read and before it is changed.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from portal import responses
from portal.access import require
from portal.permissions import Access, needs, needs_any
from portal.request import PortalRequest
from portal.stalwart import errors

log = logging.getLogger("portal.tools")

PAGE_SIZE = 50

#: Task type -> who may re-run or cancel it (the <= 0.15 permission its `task<Type>` replaced;
#: the domain tasks take domain-update, tenant quotas tenant-update, the rest the whole server).
TASK_ACCESS: dict[str, Access] = {
    "StoreMaintenance": needs_any("purge-blob-store", "purge-data-store", "purge-in-memory-store"),
    "AccountMaintenance": needs_any("purge-account", "fts-reindex"),
    "SpamFilterMaintenance": needs("spam-filter-update"),
    "DkimManagement": needs("domain-update"),
    "DnsManagement": needs("domain-update"),
    "AcmeRenewal": needs("domain-update"),
    "TenantMaintenance": needs("tenant-update"),
}
OTHER_TASKS = needs("settings-update")
#: Reading the queue takes sysTaskQuery and sysTaskGet, changing a task sysTaskUpdate or
#: sysTaskDestroy: 0.16 permissions that replaced no <= 0.15 one, so only an administrator of
#: the whole server holds them. The portal asks for settings-list, which on 0.16 also only
#: such an administrator holds (no single 0.16 permission replaced it).
TASKS_ACCESS = needs("settings-list")


def task_access(task_type: str) -> Access:
    return TASK_ACCESS.get(task_type, OTHER_TASKS)


def _page(request: PortalRequest) -> int:
    try:
        return max(1, min(int(request.GET.get("page", "1")), 10_000))
    except ValueError:
        return 1


@require_GET
@require(TASKS_ACCESS)
async def tasks(request: PortalRequest) -> HttpResponse:
    page = _page(request)
    failed = request.GET.get("failed") == "1"
    listed = await request.stalwart.maintenance.tasks(page=page, limit=PAGE_SIZE, failed=failed)
    user = request.portal_user
    rows = [(task, task_access(task.type).allows(user)) for task in listed.items]
    pages = max(1, -(-listed.total // PAGE_SIZE))

    def link(number: int) -> str:
        query = {"page": number, **({"failed": "1"} if failed else {})}
        return reverse("tools:tasks") + "?" + urlencode(query)

    context = {
        "rows": rows,
        "total": listed.total,
        "failed": failed,
        "page": page,
        "pages": pages,
        "previous_url": link(page - 1) if page > 1 else "",
        "next_url": link(page + 1) if page < pages else "",
    }
    return render(request, "tools/tasks.html", context)


async def _change(request: PortalRequest, cancel: bool) -> HttpResponse:
    user = request.portal_user
    task_id = request.POST.get("task", "").strip()[:64]
    done = HttpResponseRedirect(reverse("tools:tasks"))
    api = request.stalwart.maintenance
    if not task_id:
        messages.error(request, gettext("That task is no longer queued."))
        return done
    try:
        task = await api.task(task_id)
    except errors.ItemNotFound:
        messages.info(request, gettext("That task is no longer queued: it ran or was cancelled."))
        return done
    needed = task_access(task.type)
    if not needed.allows(user):
        return responses.forbidden(request, user, needed)
    try:
        if cancel:
            await api.cancel_task(task_id)
        else:
            await api.rerun_task(task_id)
    except errors.ItemNotFound:
        messages.info(request, gettext("That task is no longer queued: it ran or was cancelled."))
        return done
    except errors.OtherError as exc:  # e.g. a task that is running cannot be changed
        messages.warning(request, gettext("Stalwart did not change the task: %(reason)s") % {"reason": exc.details})
        return done
    except responses.SUBMIT_FAILURES as exc:
        context = {"rows": [], "total": 0, "failed": False, "page": 1, "pages": 1, "failed_submit": True}
        return responses.form_upstream_failure(
            request, "tools/tasks.html", context, exc,
            check_url=reverse("tools:tasks"), check_label=gettext("See the task queue"), idempotent=True,
        )
    log.info("%s %s task %s (%s)", user.name, "cancelled" if cancel else "re-ran", task_id, task.type)
    if cancel:
        messages.success(request, gettext("The task was cancelled."))
    else:
        messages.success(request, gettext("The task runs again now."))
    return done


@require_POST
@require(TASKS_ACCESS)
async def task_rerun(request: PortalRequest) -> HttpResponse:
    return await _change(request, cancel=False)


@require_POST
@require(TASKS_ACCESS)
async def task_cancel(request: PortalRequest) -> HttpResponse:
    return await _change(request, cancel=True)
