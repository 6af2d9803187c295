"""Blocked IP addresses: the list, block and unblock (every server generation).

Up to 0.15 a blocked address is the settings key `server.blocked-ip.<address>` (Stalwart's
auto-ban writes it after too many failed sign-ins); the portal lists the keys, writes or
deletes one and reloads the blocked addresses. On 0.16 they are `x:BlockedIp` objects with a
reason and an optional expiry. Administrators locked out by the auto-ban are sent here from
the sign-in throttle page.

Gated on the settings permissions (what changing these keys takes up to 0.15): settings-list
to see the list, settings-update and settings-reload to block or unblock.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_POST

from portal import responses
from portal.access import require
from portal.paging import Paging
from portal.permissions import needs
from portal.request import PortalRequest
from portal.stalwart import errors
from portal.stalwart.maintenance_types import network

from .maintenance_forms import BLOCK_REASON_CHOICES, BlockForm

log = logging.getLogger("portal.tools")

BLOCKED_ACCESS = needs("settings-list")
BLOCKED_CHANGE = needs("settings-list", "settings-update", "settings-reload")
#: The reload scope of the blocked addresses (on 0.16 the ReloadBlockedIps action).
BLOCKED_SCOPE = "server.blocked-ip"


async def _context(request: PortalRequest, form: BlockForm | None = None) -> dict[str, object]:
    user = request.portal_user
    details = user.capabilities.maintenance_tasks
    listed = await request.stalwart.maintenance.blocked_ips()
    reasons = dict(BLOCK_REASON_CHOICES)
    # 0.16 stops applying an entry once its expiry has passed, but lists it until it next
    # builds its blocked list (start-up, or the reload after a block or unblock) deletes it.
    now = datetime.now(UTC)
    expired = [entry.expires is not None and entry.expires <= now for entry in listed.items]
    # A busy server blocks thousands: a page of them at a time, found by part of the address.
    paging = Paging.from_request(request)
    wanted = paging.query.lower()
    matching = [
        (entry, reasons.get(entry.reason, entry.reason), gone)
        for entry, gone in zip(listed.items, expired, strict=True)
        if wanted in entry.address.lower()
    ]
    paging = paging.with_total(len(matching))
    start = (paging.page - 1) * paging.size  # past the last page: an empty page that says so
    return {
        "entries": matching[start : start + paging.size],
        "paging": paging,
        "plain_links": True,
        "expired": sum(expired),
        "total": listed.total,
        "form": form or BlockForm(details=details),
        "details": details,
        "may_change": BLOCKED_CHANGE.allows(user),
    }


@require_http_methods(["GET", "POST"])
@require(BLOCKED_ACCESS)
async def blocked_ips(request: PortalRequest) -> HttpResponse:
    """GET: the list and the block form. POST: block an address (settings-update and settings-reload)."""
    user = request.portal_user
    if request.method == "GET":
        return render(request, "tools/blocked_ips.html", await _context(request))
    if not BLOCKED_CHANGE.allows(user):
        return responses.forbidden(request, user, BLOCKED_CHANGE)
    details = user.capabilities.maintenance_tasks
    form = BlockForm(request.POST, details=details)
    if form.is_valid():
        address = form.cleaned_data["address"]
        try:
            await request.stalwart.maintenance.block_ip(
                address, reason=form.cleaned_data.get("reason") or "manual", expires=form.expires_at(), reload=False
            )
        except errors.FieldAlreadyExists:
            form.add_error("address", gettext("%(address)s is already blocked.") % {"address": address})
        except responses.SUBMIT_FAILURES as exc:
            context = {"entries": (), "total": 0, "form": form, "details": details, "may_change": True, "failed": True}
            return responses.form_upstream_failure(
                request, "tools/blocked_ips.html", context, exc, form=form,
                check_url=reverse("tools:blocked-ips"), check_label=gettext("See the blocked addresses"),
                idempotent=True,
            )
        else:
            log.info("%s blocked %s", user.name, address)
            await _reload(request, address, blocked=True)
            return HttpResponseRedirect(reverse("tools:blocked-ips"))
    return render(request, "tools/blocked_ips.html", await _context(request, form), status=422)


@require_POST
@require(BLOCKED_CHANGE)
async def blocked_ip_unblock(request: PortalRequest) -> HttpResponse:
    """Unblock one entry (`entry`: its id from the list; `address` for the message)."""
    user = request.portal_user
    entry = request.POST.get("entry", "").strip()[:128]
    address = network(request.POST.get("address", "")) or ""
    done = HttpResponseRedirect(reverse("tools:blocked-ips"))
    if not entry or (not user.capabilities.maintenance_tasks and network(entry) is None):
        messages.error(request, gettext("That entry is no longer there."))
        return done
    try:
        await request.stalwart.maintenance.unblock_ip(entry, reload=False)
    except errors.ItemNotFound:
        messages.info(request, gettext("That entry was already gone."))
        return done
    except responses.SUBMIT_FAILURES as exc:
        context = {"entries": (), "total": 0, "form": BlockForm(details=user.capabilities.maintenance_tasks),
                   "details": user.capabilities.maintenance_tasks, "may_change": True,
                   "failed": True}
        return responses.form_upstream_failure(
            request, "tools/blocked_ips.html", context, exc,
            check_url=reverse("tools:blocked-ips"), check_label=gettext("See the blocked addresses"),
            idempotent=True,
        )
    log.info("%s unblocked %s", user.name, address or entry)
    await _reload(request, address or entry, blocked=False)
    return done


async def _reload(request: PortalRequest, address: str, *, blocked: bool) -> None:
    """Apply the confirmed change at once (the blocked addresses reloaded) and say what is known:
    the change is made either way, the reload only decides whether it applies now."""
    values = {"address": address}
    try:
        result = await request.stalwart.maintenance.reload(BLOCKED_SCOPE)
    except errors.Unauthorized:
        raise
    except (errors.ServerError, errors.StalwartUnavailable, errors.StalwartBadResponse) as exc:
        log.warning("reload of the blocked addresses unconfirmed after a change: %s", type(exc).__name__)
        text = (
            gettext(
                "%(address)s is blocked, but whether the reload went through is not known: "
                "the block applies at the server's next reload at the latest."
            )
            if blocked
            else gettext(
                "%(address)s is unblocked, but whether the reload went through is not known: "
                "it may stay blocked until the server's next reload."
            )
        )
        messages.warning(request, text % values)
        return
    except errors.StalwartError as exc:
        log.warning("reload of the blocked addresses refused after a change: %s", type(exc).__name__)
        text = (
            gettext(
                "%(address)s is blocked, but the reload was refused: the block applies at the server's next reload."
            )
            if blocked
            else gettext(
                "%(address)s is unblocked, but the reload was refused: it stays blocked until the server's next reload."
            )
        )
        messages.warning(request, text % values)
        return
    if result.errors:
        text = (
            gettext("%(address)s is blocked, but the reload reported an error: %(error)s")
            if blocked
            else gettext("%(address)s is unblocked, but the reload reported an error: %(error)s")
        )
        messages.warning(request, text % {**values, "error": result.errors[0].message})
        return
    messages.success(
        request,
        (gettext("%(address)s is blocked.") if blocked else gettext("%(address)s is unblocked.")) % values,
    )
