from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.paging import Paging
from portal.permissions import require

from .kinds import kind_for, list_access


@require_GET
@require(list_access)
async def principal_list(request: HttpRequest, kind: str) -> HttpResponse:
    """One page of accounts (or groups, lists, ...), searched by Stalwart."""
    spec = kind_for(kind)
    paging = Paging.from_request(request)
    page = await request.stalwart.principals.list(  # type: ignore[attr-defined]
        types=[spec.type], filter=paging.query, page=paging.page, limit=paging.size, fields=spec.fields
    )
    context = {"kind": spec, "page": page, "paging": paging.with_total(page.total)}
    template = "directory/list.html#results" if request.htmx else "directory/list.html"  # type: ignore[attr-defined]
    return render(request, template, context)
