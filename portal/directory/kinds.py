"""The principal types the directory pages show, with their words and columns."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.http import Http404
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from portal.permissions import Access, needs, principal_permission


@dataclass(frozen=True, slots=True)
class Kind:
    slug: str  # in URLs
    type: str  # Stalwart's wire name
    singular: str | Promise  # in headings: "API key"
    plural: str | Promise  # in headings and the menu: "API keys"
    # Fields the list asks Stalwart for (`fields=`): only what it shows.
    fields: tuple[str, ...]
    enterprise: bool = False
    empty_hint: str | Promise = ""
    # Inside a sentence ("New API key", "Search mailing lists"): never `singular|lower`,
    # which would give "api key" and "oauth client".
    noun: str | Promise = ""
    nouns: str | Promise = ""

    def access(self, action: str) -> Access:
        return _access(self.type, action, self.enterprise)

    def shows_count(self, member_counts: bool) -> bool:
        """Whether this kind's list and export say how many members each entry has: groups,
        domains and tenants only where the server keeps it (`Capabilities.member_counts`)."""
        return member_counts or self.type not in {"group", "domain", "tenant"}


@functools.cache
def _access(principal_type: str, action: str, enterprise: bool) -> Access:
    # A list page asks four of these (list, get, create, delete): each built once per process.
    return needs(principal_permission(principal_type, action), enterprise=enterprise)


KINDS: dict[str, Kind] = {
    kind.slug: kind
    for kind in (
        Kind(
            "accounts",
            "individual",
            _("Account"),
            _("Accounts"),
            ("name", "description", "emails", "quota", "usedQuota", "memberOf", "roles"),
            empty_hint=_("Accounts are people who sign in and receive mail."),
            noun=_("account"),
            nouns=_("accounts"),
        ),
        Kind(
            "groups",
            "group",
            _("Group"),
            _("Groups"),
            ("name", "description", "emails", "members"),
            noun=_("group"),
            nouns=_("groups"),
        ),
        Kind(
            "lists",
            "list",
            _("Mailing list"),
            _("Mailing lists"),
            ("name", "description", "emails", "members", "externalMembers"),
            noun=_("mailing list"),
            nouns=_("mailing lists"),
        ),
        Kind(
            "domains",
            "domain",
            _("Domain"),
            _("Domains"),
            ("name", "description", "members"),
            noun=_("domain"),
            nouns=_("domains"),
        ),
        Kind(
            "tenants",
            "tenant",
            _("Tenant"),
            _("Tenants"),
            ("name", "description", "quota", "members"),
            enterprise=True,
            noun=_("tenant"),
            nouns=_("tenants"),
        ),
        Kind(
            "roles",
            "role",
            _("Role"),
            _("Roles"),
            ("name", "description", "roles", "enabledPermissions", "disabledPermissions"),
            noun=_("role"),
            nouns=_("roles"),
        ),
        Kind(
            "api-keys",
            "apiKey",
            _("API key"),
            _("API keys"),
            ("name", "description", "enabledPermissions"),
            noun=_("API key"),
            nouns=_("API keys"),
        ),
        Kind(
            "oauth-clients",
            "oauthClient",
            _("OAuth client"),
            _("OAuth clients"),
            ("name", "description", "urls"),
            noun=_("OAuth client"),
            nouns=_("OAuth clients"),
        ),
    )
}


def kind_for(slug: str) -> Kind:
    try:
        return KINDS[slug]
    except KeyError:
        raise Http404(_("No such directory")) from None


def list_access(kind: str) -> Access:
    return kind_for(kind).access("list")
