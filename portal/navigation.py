"""The navigation and the landing page, both computed from permissions.

Every area of the portal has its place here with the rule that gates it. An
item whose page does not exist yet has `url_name=None` and is not shown; it
appears as soon as its view lands.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.urls import get_script_prefix, reverse
from django.utils.functional import Promise, cached_property
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from portal.capabilities import unavailable
from portal.markup import kept
from portal.permissions import SETTINGS_OBJECTS, SIGNED_IN, Access, PortalUser, needs, needs_any


@functools.lru_cache(maxsize=256)
def _reverse(prefix: str, url_name: str, kwargs: tuple[tuple[str, str], ...]) -> str:
    # The menu is built on every page; its URLs never change for a given prefix.
    return reverse(url_name, kwargs=dict(kwargs))


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str | Promise
    url_name: str | None
    access: Access
    url_kwargs: tuple[tuple[str, str], ...] = ()

    def url(self) -> str:
        assert self.url_name is not None
        return _reverse(get_script_prefix(), self.url_name, self.url_kwargs)


@dataclass(frozen=True, slots=True)
class NavSection:
    label: str | Promise
    items: tuple[NavItem, ...]


def _directory(label: str | Promise, kind: str, permission: str, *, enterprise: bool = False) -> NavItem:
    return NavItem(label, "directory:list", needs(permission, enterprise=enterprise), (("kind", kind),))


DASHBOARD = NavItem(_("Dashboard"), "observability:dashboard", needs("metrics-list", "metrics-live", enterprise=True))

SECTIONS: tuple[NavSection, ...] = (
    NavSection(_("Overview"), (DASHBOARD,)),
    NavSection(
        _("Directory"),
        (
            _directory(_("Accounts"), "accounts", "individual-list"),
            _directory(_("Groups"), "groups", "group-list"),
            _directory(_("Mailing lists"), "lists", "mailing-list-list"),
            _directory(_("Domains"), "domains", "domain-list"),
            _directory(_("Tenants"), "tenants", "tenant-list", enterprise=True),
            _directory(_("Roles"), "roles", "role-list"),
            _directory(_("API keys"), "api-keys", "api-key-list"),
            _directory(_("OAuth clients"), "oauth-clients", "oauth-client-list"),
        ),
    ),
    NavSection(
        _("Mail flow"),
        (
            NavItem(_("Message queue"), "queue:list", needs("message-queue-list")),
            NavItem(_("Outgoing reports"), "queue:reports", needs("outgoing-report-list")),
            NavItem(_("Incoming reports"), "reports:list", needs("incoming-report-list"), (("kind", "dmarc"),)),
            NavItem(_("Undelete"), "undelete:index", needs("undelete", enterprise=True)),
        ),
    ),
    NavSection(
        _("Tools"),
        (
            NavItem(_("Delivery troubleshooting"), "tools:delivery", needs("troubleshoot")),
            NavItem(_("DMARC check"), "tools:dmarc", needs("troubleshoot")),
            # 0.15 tests messages with spam-filter-test (portal.capabilities)
            NavItem(_("Spam filter"), "tools:spam", needs_any("spam-filter-train", "spam-filter-test")),
        ),
    ),
    NavSection(
        _("Observability"),
        (
            NavItem(_("Logs"), "observability:logs", needs("logs-view")),
            NavItem(
                _("Message history"),
                "observability:history",
                needs("tracing-list", enterprise=True),
                (("kind", "received"),),
            ),
            NavItem(_("Live tracing"), "observability:live", needs("tracing-live", enterprise=True)),
            NavItem(_("Audit trail"), "audit:list", SIGNED_IN),
        ),
    ),
    NavSection(
        _("Server"),
        (
            NavItem(_("Settings"), "config:browse", needs("settings-list")),
            # Stalwart 0.16+: the settings objects of the server's schema (one of the two is offered)
            NavItem(_("Settings"), "config:schema-index", SETTINGS_OBJECTS),
            NavItem(_("Sign-in throttle"), "auth:throttle", needs("settings-update")),
            NavItem(
                _("Maintenance"),
                "tools:maintenance",
                needs_any(
                    "settings-reload",
                    "restart",
                    "spam-filter-update",
                    "webadmin-update",
                    "fts-reindex",
                    "purge-blob-store",
                    "purge-data-store",
                    "purge-in-memory-store",
                    "purge-account",
                ),
            ),
        ),
    ),
    NavSection(
        _("My account"),
        (
            NavItem(_("Overview"), "account:overview", SIGNED_IN),
            NavItem(_("Security"), "account:security", needs_any("manage-passwords", "manage-encryption")),
        ),
    ),
)


@functools.lru_cache(maxsize=512)
def _visible(user: PortalUser) -> tuple[tuple[int, int], ...]:
    """(section, item) positions of the menu entries `user` may open.

    Kept per signed-in person (a `PortalUser` is an immutable value: the same permissions and
    server give the same menu), since every page asks."""
    return tuple(
        (index, position)
        for index, section in enumerate(SECTIONS)
        for position, item in enumerate(section.items)
        if item.url_name and item.access.allows(user) and _offered(user, item)
    )


def menu_key(user: PortalUser) -> tuple[tuple[int, int], ...]:
    """What decides `user`'s side menu (two people with the same key see the same menu)."""
    return _visible(user)


def _offered(user: PortalUser, item: NavItem) -> bool:
    """The server has this page (each generation lacks some: `capabilities.unavailable`)."""
    return not unavailable(user.capabilities, item.url_name or "", dict(item.url_kwargs))


def _sections(visible: tuple[tuple[int, int], ...]) -> list[tuple[str | Promise, list[tuple[str | Promise, str]]]]:
    sections: dict[int, tuple[str | Promise, list[tuple[str | Promise, str]]]] = {}
    for index, position in visible:
        item = SECTIONS[index].items[position]
        sections.setdefault(index, (SECTIONS[index].label, []))[1].append((item.label, item.url()))
    return list(sections.values())


def sections_for(user: PortalUser) -> list[tuple[str | Promise, list[tuple[str | Promise, str]]]]:
    """[(section label, [(item label, url), ...]), ...] for what `user` may open."""
    return _sections(_visible(user))


class Menu:
    """The side menu of one page, rendered from templates/components/menu.html.

    The menu is the same on every page for everyone with the same permissions, so its
    HTML is rendered once per (visible items, language, script prefix) and kept; the
    current page is then marked with `aria-current` by a string replacement, since the
    menu's links are exactly the escaped URLs of the items.
    """

    def __init__(self, user: PortalUser, path: str):
        self.user = user
        self.path = path

    @cached_property
    def html(self) -> SafeString:
        rendered = kept(_menu_html)(_visible(self.user), get_language(), get_script_prefix())
        link = f'<a href="{html.escape(self.path)}">'
        return SafeString(rendered.replace(link, link[:-1] + ' aria-current="page">', 1))


@functools.lru_cache(maxsize=128)
def _menu_html(visible: tuple[tuple[int, int], ...], language: str | None, prefix: str) -> str:
    sections = _sections(visible)
    return render_to_string("components/menu.html", {"nav_sections": sections}) if sections else ""


# Where a person lands after sign-in: the first page they may use, in this
# order (the official web admin's order, which starts with the dashboard).
# The dashboard is left out here: it costs three upstream calls (history, a live token
# and the first live frame), and sign-in should stay quick. Put DASHBOARD first to follow
# the official web admin exactly.
LANDING_ORDER: tuple[NavItem, ...] = (
    *SECTIONS[1].items,
    *SECTIONS[2].items,
    *SECTIONS[4].items,
    *SECTIONS[6].items[::-1],
)


def landing_url(user: PortalUser) -> str:
    for item in LANDING_ORDER:
        if item.url_name and item.access is not SIGNED_IN and item.access.allows(user) and _offered(user, item):
            return item.url()
    return reverse("account:overview")
