"""The DNS page of a domain: the records to publish, a zone snippet, DKIM keys."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from portal import access, responses
from portal.access import require
from portal.permissions import Target, needs
from portal.request import PortalRequest
from portal.stalwart import errors
from portal.stalwart.dkim import ALGORITHMS, default_signature_id

from .dkim import DkimKeyForm, already_exists_message, describe_failure
from .zone import in_zone, relative_name, zone_snippet

if TYPE_CHECKING:
    from portal.stalwart.jmap.backend import JmapBackend

CREATE_DKIM = needs("dkim-signature-create")


@require_http_methods(["GET", "POST"])
@require(needs("domain-get"), post=CREATE_DKIM, target=Target("name"))
async def domain_dns(request: PortalRequest, name: str) -> HttpResponse:
    """GET: the page. POST: create a DKIM key (needs dkim-signature-create as well)."""
    user = request.portal_user
    client = request.stalwart
    form = None
    if request.method == "POST":  # require(post=CREATE_DKIM) checked the permission
        form = DkimKeyForm(request.POST)

    # Stalwart answers for any name, so check first that this is a domain the person may see.
    domain = await access.read_target(request, name)
    if domain.type != "domain":
        return responses.not_found(request, _("There is no domain with this name."))
    page_url = reverse("directory:domain-dns", kwargs={"name": domain.name})
    if user.capabilities.dkim_automatic:
        return await _server_managed(request, domain.name, page_url)

    failure = None
    if form is not None and form.is_valid():
        algorithm, selector = form.cleaned_data["algorithm"], form.cleaned_data["selector"]
        try:
            await client.dkim.create(domain.name, algorithm, selector or None)
        except responses.SUBMIT_FAILURES as exc:
            failure = exc
        except errors.FieldAlreadyExists:
            form.add_error("algorithm", already_exists_message(domain.name, algorithm))
        except (errors.BadRequest, errors.ManagementError) as exc:
            form.add_error(None, describe_failure(exc))
        else:
            if selector:
                text = _(
                    "%(algorithm)s DKIM key generated with the selector %(selector)s. Publish its TXT record below."
                )
            else:
                text = _("%(algorithm)s DKIM key generated. Publish its TXT record below.")
            messages.success(request, text % {"algorithm": ALGORITHMS[algorithm], "selector": selector})
            if request.htmx:
                return HttpResponseClientRedirect(page_url)
            return HttpResponseRedirect(page_url)

    if form is not None and request.htmx:
        context = {"form": form, "page_url": page_url, "can_create_dkim": True}
        if failure is not None:
            return _failed(request, "directory/domain_dns.html#dkim-form", context, failure, form, page_url)
        return render(request, "directory/domain_dns.html#dkim-form", context)

    context = await _page_context(request, domain.name)
    context.update(
        domain=domain,
        page_url=page_url,
        form=form or DkimKeyForm(),
        can_create_dkim=CREATE_DKIM.allows(user),
        can_list_domains=user.has("domain-list"),
    )
    if failure is not None:
        return _failed(request, "directory/domain_dns.html", context, failure, form, page_url)
    return render(request, "directory/domain_dns.html", context, status=422 if form and form.errors else 200)


def _failed(request, template: str, context: dict, exc: errors.StalwartError, form, page_url: str) -> HttpResponse:
    """The DKIM form again after Stalwart failed to create the key; the page lists the keys it has."""
    return responses.form_upstream_failure(
        request, template, context, exc, form=form, check_url=page_url, check_label=_("See the domain's DKIM keys")
    )


async def _page_context(request: PortalRequest, domain: str) -> dict:
    user = request.portal_user
    client = request.stalwart

    async def count_accounts() -> int | None:
        # 0.16's account search matches words of local parts, not domains: no count there.
        if not user.has("individual-list") or user.capabilities.names_are_addresses:
            return None
        return await client.principals.count(types=["individual"], filter=domain)

    # At most two calls in flight: Stalwart limits concurrent requests per account.
    records, account_count = await asyncio.gather(client.dns.records(domain), count_accounts())

    keys = [(record, record.dkim) for record in records if record.dkim is not None]
    can_view_dkim = user.has("dkim-signature-get")
    signature_ids: dict[str, str] = {}
    if can_view_dkim and not user.capabilities.dkim_automatic:  # 0.16+: x:DkimSignature (see below)
        # Stalwart signs with the keys named after the domain; label the records they publish.
        async def lookup(algorithm: str) -> tuple[str, str | None]:
            signature_id = default_signature_id(algorithm, domain)
            try:
                return signature_id, await client.dkim.public_key(signature_id)
            except errors.NotFound:
                return signature_id, None

        for signature_id, public in await asyncio.gather(*(lookup(a) for a in ALGORITHMS)):
            if public:
                signature_ids[public] = signature_id

    inside, outside = in_zone(records, domain)
    return {
        "records": records,
        "rows": [{"record": record, "host": relative_name(record.name, domain)} for record in records],
        "zone": zone_snippet(domain, records),
        "zone_count": len(inside),
        "outside_count": len(outside),
        "account_count": account_count,
        "dkim_keys": [
            {
                "record": record,
                "key": key,
                "bits": key.key_bits,
                "signature_id": signature_ids.get(key.public_key, ""),
            }
            for record, key in keys
        ],
        "can_view_dkim": can_view_dkim,
    }


# --- Stalwart 0.16+: the server makes the keys ------------------------------------------------
async def _server_managed(request: PortalRequest, domain: str, page_url: str) -> HttpResponse:
    """The page on a server that makes DKIM keys itself (0.16+: x:DkimSignature, automatic DKIM
    management); POST asks it for the missing keys."""
    user = request.portal_user
    client = cast("JmapBackend", request.stalwart)  # the flag says it is the JMAP backend
    # The overview queries the x:DkimSignature objects: without the query permission (a tenant
    # administrator's role may hold only the get) the page shows the records without the keys.
    can_view_dkim = user.has("dkim-signature-get") and user.has_native("sysDkimSignatureQuery")
    wanted = can_view_dkim or CREATE_DKIM.allows(user)
    try:
        overview = await client.dkim.overview(domain) if wanted else None
    except errors.Forbidden:  # the keys cannot be listed: neither shown nor made from this page
        overview, can_view_dkim = None, False
    failure = None
    if request.method == "POST" and overview is not None:  # require(post=CREATE_DKIM) checked the permission
        try:
            await client.dkim.generate(overview)
        except responses.SUBMIT_FAILURES as exc:
            failure = exc
        except (errors.ManagementError, errors.Forbidden) as exc:
            messages.error(request, describe_failure(exc) if isinstance(exc, errors.Forbidden) else exc.message)
            return HttpResponseClientRedirect(page_url) if request.htmx else HttpResponseRedirect(page_url)
        else:
            if overview.automatic:
                text = _("Stalwart is generating the missing DKIM keys of %(domain)s. Refresh in a moment.")
            else:
                text = _(
                    "Stalwart now manages the DKIM keys of %(domain)s: it generates them and rotates them. "
                    "Refresh in a moment."
                )
            messages.success(request, text % {"domain": domain})
            return HttpResponseClientRedirect(page_url) if request.htmx else HttpResponseRedirect(page_url)
    context = await _page_context(request, domain)
    stages = {key.public_key: key for key in overview.keys} if overview is not None else {}
    for item in context["dkim_keys"]:
        key = stages.get(item["key"].public_key)
        item["stage"] = key.stage if key is not None else ""
        item["signs"] = key is not None and key.stage == "active"
    context.update(
        domain=await access.read_target(request, domain),
        page_url=page_url,
        dkim=overview,
        server_managed=True,
        can_create_dkim=CREATE_DKIM.allows(user) and overview is not None,
        can_view_dkim=can_view_dkim,
        can_list_domains=user.has("domain-list"),
    )
    if failure is not None:
        return responses.form_upstream_failure(
            request,
            "directory/domain_dns.html",
            context,
            failure,
            check_url=page_url,
            check_label=_("See the domain's DKIM keys"),
        )
    return render(request, "directory/domain_dns.html", context)
