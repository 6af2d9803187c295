"""List rows prepared in Python: the table is the hottest template of the portal.

Every value stays plain text; the template escapes it. Only the arithmetic and
the URL building happen here, once per row, instead of in template tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from django.urls import reverse
from django.utils.translation import gettext as _

from portal.converters import PrincipalName
from portal.stalwart.types import Principal
from portal.templatetags.portal import binary_size

from .kinds import Kind

_PLACEHOLDER = "__principal__"
# What Django's reverse() leaves unquoted (RFC 3986 sub-delimiters and "/~:@").
_REVERSE_SAFE = "!$&'()*+,;=/~:@"
_CONVERTER = PrincipalName()


def detail_url_factory(kind: Kind):
    """A function name -> detail URL, equal to reverse() but without its cost per row."""
    template = reverse("directory:detail", kwargs={"kind": kind.slug, "name": _PLACEHOLDER})
    return lambda name: template.replace(_PLACEHOLDER, quote(_CONVERTER.to_url(name), safe=_REVERSE_SAFE))


@dataclass(frozen=True, slots=True)
class Row:
    item: Principal
    url: str
    email: str = ""
    alias_count: int = 0
    aliases: str = ""
    quota_percent: str = ""
    usage: str = ""
    joined: str = ""  # groups, roles or redirect URIs, comma separated
    count: str = ""  # members, addresses, permissions


def build_rows(kind: Kind, items: tuple[Principal, ...], *, linked: bool) -> list[Row]:
    url_for = detail_url_factory(kind) if linked else None
    rows = []
    for item in items:
        values: dict = {"item": item, "url": url_for(item.name) if url_for else ""}
        if kind.type in {"individual", "group", "list"}:
            values["email"] = item.primary_email
            values["alias_count"] = len(item.aliases)
            values["aliases"] = ", ".join(item.aliases)
        if kind.type == "individual":
            if item.quota:
                percent = item.quota_percent or 0
                values["quota_percent"] = str(percent)
                values["usage"] = _("%(used)s of %(quota)s (%(percent)s%%)") % {
                    "used": binary_size(item.used_quota),
                    "quota": binary_size(item.quota),
                    "percent": percent,
                }
            else:
                values["usage"] = (f"{binary_size(item.used_quota)} · " if item.used_quota else "") + _("No limit")
            values["joined"] = ", ".join(item.member_of)
        elif kind.type in {"group", "list", "domain"}:
            values["count"] = str(item.total_members)
        elif kind.type == "tenant":
            values["count"] = str(item.member_count or 0)
            values["usage"] = binary_size(item.quota) if item.quota else _("No limit")
        elif kind.type == "role":
            values["joined"] = ", ".join(item.roles)
            off = len(item.disabled_permissions)
            values["count"] = _("%(count)d on") % {"count": len(item.enabled_permissions)} + (
                _(", %(count)d off") % {"count": off} if off else ""
            )
        elif kind.type == "apiKey":
            values["count"] = str(len(item.enabled_permissions))
        elif kind.type == "oauthClient":
            values["joined"] = ", ".join(item.urls)
        rows.append(Row(**values))
    return rows
