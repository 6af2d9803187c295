"""The principal types the directory pages show, with their words and columns."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404

from portal.permissions import Access, needs, principal_permission


@dataclass(frozen=True, slots=True)
class Kind:
    slug: str  # in URLs
    type: str  # Stalwart's wire name
    singular: str
    plural: str
    # Fields the list asks Stalwart for (`fields=`): only what it shows.
    fields: tuple[str, ...]
    enterprise: bool = False
    empty_hint: str = ""

    def access(self, action: str) -> Access:
        return needs(principal_permission(self.type, action), enterprise=self.enterprise)


KINDS: dict[str, Kind] = {
    kind.slug: kind
    for kind in (
        Kind(
            "accounts",
            "individual",
            "Account",
            "Accounts",
            ("name", "description", "emails", "quota", "usedQuota", "memberOf", "roles"),
            empty_hint="Accounts are people who sign in and receive mail.",
        ),
        Kind("groups", "group", "Group", "Groups", ("name", "description", "emails", "members")),
        Kind(
            "lists",
            "list",
            "Mailing list",
            "Mailing lists",
            ("name", "description", "emails", "members", "externalMembers"),
        ),
        Kind("domains", "domain", "Domain", "Domains", ("name", "description", "members")),
        Kind("tenants", "tenant", "Tenant", "Tenants", ("name", "description", "quota", "members"), enterprise=True),
        Kind(
            "roles",
            "role",
            "Role",
            "Roles",
            ("name", "description", "roles", "enabledPermissions", "disabledPermissions"),
        ),
        Kind("api-keys", "apiKey", "API key", "API keys", ("name", "description", "enabledPermissions")),
        Kind("oauth-clients", "oauthClient", "OAuth client", "OAuth clients", ("name", "description", "urls")),
    )
}


def kind_for(slug: str) -> Kind:
    try:
        return KINDS[slug]
    except KeyError:
        raise Http404("No such directory") from None


def list_access(kind: str) -> Access:
    return kind_for(kind).access("list")
