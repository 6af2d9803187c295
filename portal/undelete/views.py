"""Restore deleted mail of an account (Stalwart Enterprise: `/api/store/undelete/{account}` up
to 0.15, `x:ArchivedItem` from 0.16). Where the server describes what was deleted
(`Capabilities.undelete_search`), the list can be searched by sender, subject and date received."""

from __future__ import annotations

import logging
from datetime import datetime

from django import forms
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from portal import responses
from portal.access import require
from portal.paging import Paging
from portal.permissions import Target, needs
from portal.request import PortalRequest
from portal.stalwart import errors
from portal.stalwart.blobs import DeletedItem, Search

log = logging.getLogger("portal.undelete")

UNDELETE = needs("undelete", enterprise=True)
IMPERSONATE = needs("impersonate")
ENTERPRISE_NOTICE = _(
    "Restoring deleted mail is an Enterprise feature of Stalwart, and this server has no Enterprise licence."
)


class AccountForm(forms.Form):
    account = forms.CharField(
        label=_("Account name"),
        max_length=320,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}),
    )


def _list_url(account: str) -> str:
    return reverse("undelete:list", kwargs={"account": account})


def _encode(item: DeletedItem) -> str:
    """One checkbox value: everything Stalwart needs to restore the item."""
    deleted = item.deleted_at.isoformat() if item.deleted_at else ""
    expires = item.expires_at.isoformat() if item.expires_at else ""
    return f"{item.hash}|{item.collection}|{deleted}|{expires}"


def _decode(value: str) -> DeletedItem | None:
    parts = value.split("|")
    if len(parts) != 4 or not parts[0] or not parts[2]:
        return None
    try:
        deleted = datetime.fromisoformat(parts[2])
        expires = datetime.fromisoformat(parts[3]) if parts[3] else None
    except ValueError:
        return None
    return DeletedItem(hash=parts[0][:100], size=0, deleted_at=deleted, expires_at=expires, collection=parts[1][:40])


def _needs_impersonate(request: PortalRequest, account: str) -> HttpResponse | None:
    """0.16+: another account's archive without `impersonate` is refused here, before any call.
    The server would not refuse: it would drop the account filter and answer with the caller's
    own archived items, so the page would show an empty (or wrong) list for that account."""
    user = request.portal_user
    if not (user.capabilities.undelete_impersonate and user.needs_impersonate_for(account)):
        return None
    reason = gettext(
        "On this server, another account's deleted mail can be seen and restored only with the impersonate "
        "permission: without it, Stalwart answers with your own account's items."
    )
    return responses.forbidden(request, user, IMPERSONATE, reason=reason)


def _enterprise_notice(request: PortalRequest, account: str = "") -> HttpResponse:
    return render(request, "undelete/list.html", {"account": account, "enterprise_missing": True}, status=403)


@require_GET
@require(UNDELETE)
async def choose_account(request: PortalRequest) -> HttpResponse:
    form = AccountForm(request.GET or None)
    # account names are e-mail addresses from 0.16 (as on the maintenance forms)
    addresses = request.portal_user.capabilities.names_are_addresses
    form.fields["account"].widget.attrs["placeholder"] = "jane.doe@example.org" if addresses else "jane.doe"
    if form.is_valid():
        return HttpResponseRedirect(_list_url(form.cleaned_data["account"]))
    return render(request, "undelete/index.html", {"form": form}, status=422 if form.errors else 200)


@require_GET
@require(UNDELETE, target=Target("account"))
async def deleted_list(request: PortalRequest, account: str) -> HttpResponse:
    if (refusal := _needs_impersonate(request, account)) is not None:
        return refusal
    paging = Paging.from_request(request)
    searchable = request.portal_user.capabilities.undelete_search
    search = Search(paging.query) if searchable and paging.query else None
    try:
        page = await request.stalwart.undelete.list(account, page=paging.page, limit=paging.size, search=search)
    except errors.EnterpriseRequired:
        return _enterprise_notice(request, account)
    except errors.NotFound:
        return responses.not_found(request, gettext("There is no account called %(account)s.") % {"account": account})
    context = {
        "account": account,
        "page": page,
        "paging": paging.with_total(page.total),
        "items": [(item, _encode(item)) for item in page.items],
        "searchable": searchable,
        "search": paging.query if search else "",
    }
    return render(request, "undelete/list.html", context)


@require_POST
@require(UNDELETE, target=Target("account"))
async def restore(request: PortalRequest, account: str) -> HttpResponse:
    """Restore the selected items (or everything), after a confirmation step."""
    if (refusal := _needs_impersonate(request, account)) is not None:
        return refusal
    everything = request.POST.get("all") == "1"
    items = [item for item in (_decode(value) for value in request.POST.getlist("item")[:200]) if item]
    if not everything and not items:
        messages.info(request, gettext("Select the messages to restore first."))
        return HttpResponseRedirect(_list_url(account))
    context = {
        "account": account,
        "everything": everything,
        "items": [(item, value) for item, value in zip(items, request.POST.getlist("item"), strict=False)],
    }
    if request.POST.get("confirmed") != "yes":
        return render(request, "undelete/confirm.html", context)
    try:
        results = await request.stalwart.undelete.restore(account, None if everything else items)
    except responses.SUBMIT_FAILURES as exc:
        return responses.form_upstream_failure(
            request,
            "undelete/confirm.html",
            context,
            exc,
            check_url=_list_url(account),
            check_label=gettext("See what is still deleted"),
        )
    except errors.EnterpriseRequired:
        return _enterprise_notice(request, account)
    except errors.NotFound:
        return responses.not_found(request, gettext("There is no account called %(account)s.") % {"account": account})
    restored = sum(1 for r in results if r.outcome == "success")
    scheduled = sum(1 for r in results if r.outcome == "scheduled")
    missing = sum(1 for r in results if r.outcome == "notFound")
    failed = [r.reason for r in results if r.outcome == "error"]
    log.info("%s restored %d deleted messages of %s", request.portal_user.name, restored + scheduled, account)
    if restored:
        messages.success(
            request,
            ngettext(
                "Restored %(count)s message to the Inbox of %(account)s.",
                "Restored %(count)s messages to the Inbox of %(account)s.",
                restored,
            )
            % {"count": restored, "account": account},
        )
    if scheduled:
        messages.success(
            request,
            ngettext(
                "Stalwart is restoring %(count)s item of %(account)s in the background.",
                "Stalwart is restoring %(count)s items of %(account)s in the background.",
                scheduled,
            )
            % {"count": scheduled, "account": account},
        )
    if missing:
        messages.warning(
            request,
            ngettext(
                "%(count)s could not be found any more (already restored or purged).",
                "%(count)s could not be found any more (already restored or purged).",
                missing,
            )
            % {"count": missing},
        )
    for reason in dict.fromkeys(failed):
        messages.error(request, gettext("Not restored: %(reason)s") % {"reason": reason})
    if not results:
        messages.info(request, gettext("There was nothing to restore."))
    return HttpResponseRedirect(_list_url(account))
