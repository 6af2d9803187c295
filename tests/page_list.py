"""Every page a person can open with GET, for the whole-portal checks.

The list starts from the URL walk (`tests.test_url_walk.ROUTES`, so new views are covered
without touching this file), gives the routes whose sample arguments name nothing a real
argument, and adds representative detail pages (an account, a group, a domain, a queued
message, a DMARC report, the settings pages, ...). Ids the sandbox makes up (queue
messages, reports, traces) are found on the list pages that link to them, through
`fetch(path) -> html`, so the same list serves the test client and the browser.

Used by the accessibility test, the no-JavaScript check and `make screenshots`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from tests.test_url_walk import ROUTES


@dataclass(frozen=True, slots=True)
class Page:
    slug: str  # a file name for screenshots
    path: str
    who: str = "admin"  # a persona key, or "" for a signed-out visitor


# Not pages: POST-only actions, downloads, event streams and htmx fragments.
NOT_PAGES = {
    "healthz",
    "javascript-catalog",
    "auth:sign-out",
    "auth:throttle-clear",
    "account:app-password-revoke",
    "account:app-passwords-revoke-all",
    "account:two-factor-disable",
    "account:password-strength",
    "account:encryption-disable",
    "directory:picker",
    "directory:account-sign-in",
    "directory:bulk-delete",
    "directory:export",
    "queue:status",
    "undelete:restore",
    "audit:csv",
    "observability:live-stream",
    "observability:metrics-stream",
    "config:reload",
    "tools:delivery-run",
    "tools:delivery-events",
}

# Routes whose walk arguments ("x", "1", jane.doe as a domain) name nothing: the real ones.
# "{name}" is filled from DISCOVER.
REAL_PATHS = {
    "home": None,  # a redirect to the landing page, which is in the list anyway
    "auth:sign-in": None,  # signed in it redirects; SIGNED_OUT has it
    "directory:domain-dns": "/directory/domains/example.org/dns",
    "queue:detail": "{queue_message}",
    "queue:retry": "{queue_message}retry",
    "queue:cancel": "{queue_message}cancel",
    "queue:report": "{outgoing_report}",
    "queue:report-delete": "{outgoing_report}cancel",
    "reports:index": None,  # redirects to the DMARC list
    "reports:list": "/reports/dmarc/",
    "reports:delete-matching": "/reports/dmarc/delete-matching",
    "reports:detail": "{dmarc_report}",
    "reports:delete": "{dmarc_report}delete",
    "observability:span": "{span}",
    "observability:history": "/observability/history/received/",
    "config:key-edit": "{setting_key}",
    "config:key-delete": "{setting_key_delete}",
    "config:record-edit": "{record}",
    "config:record-delete": "{record_delete}",
    "config:reveal": "/settings/reveal?key=store.postgresql.password",
    "tools:maintenance-action": "/tools/maintenance/reset-uids",
}

# Where the made-up ids are found: (list page, pattern of the link to follow).
DISCOVER = {
    "queue_message": ("/queue/", r"/queue/messages/\d+/"),
    "outgoing_report": ("/queue/reports/", r"/queue/reports/[^/\"?]+/"),
    "dmarc_report": ("/reports/dmarc/", r"/reports/dmarc/(?!overview)[^/\"?]+/"),
    "tls_report": ("/reports/tls/", r"/reports/tls/[^/\"?]+/"),
    "arf_report": ("/reports/arf/", r"/reports/arf/[^/\"?]+/"),
    "span": ("/observability/history/received/", r"/observability/history/span/\d+/"),
    "group": ("/directory/groups/", r"/directory/groups/(?!new\b)[^/\"?]+/"),
    "list": ("/directory/lists/", r"/directory/lists/(?!new\b)[^/\"?]+/"),
    "tenant": ("/directory/tenants/", r"/directory/tenants/(?!new\b)[^/\"?]+/"),
    "role": ("/directory/roles/", r"/directory/roles/(?!new\b)[^/\"?]+/"),
    "api_key": ("/directory/api-keys/", r"/directory/api-keys/(?!new\b)[^/\"?]+/"),
    "oauth_client": ("/directory/oauth-clients/", r"/directory/oauth-clients/(?!new\b)[^/\"?]+/"),
    "setting_key": ("/settings/?prefix=server", r"/settings/key/\?key=[^\"]+"),
    "setting_key_delete": ("/settings/?prefix=server", r"/settings/key/delete\?key=[^\"]+"),
    "record": ("/settings/groups/?group=listeners", r"/settings/record/\?[^\"]+"),
    "record_delete": ("/settings/groups/?group=listeners", r"/settings/record/delete\?[^\"]+"),
}

# Representative pages beyond one per route.
EXTRA = [
    ("account-detail-totp", "/directory/accounts/theo.martin/"),
    ("group-detail", "{group}"),
    ("group-edit", "{group}edit"),
    ("list-detail", "{list}"),
    ("domain-detail", "/directory/domains/example.org/"),
    ("domain-edit", "/directory/domains/example.org/edit"),
    ("tenant-detail", "{tenant}"),
    ("role-detail", "{role}"),
    ("role-permissions", "{role}permissions"),
    ("api-key-detail", "{api_key}"),
    ("oauth-client-detail", "{oauth_client}"),
    ("groups", "/directory/groups/"),
    ("lists", "/directory/lists/"),
    ("domains", "/directory/domains/"),
    ("tenants", "/directory/tenants/"),
    ("roles", "/directory/roles/"),
    ("api-keys", "/directory/api-keys/"),
    ("oauth-clients", "/directory/oauth-clients/"),
    ("group-new", "/directory/groups/new"),
    ("domain-new", "/directory/domains/new"),
    ("accounts-search", "/directory/accounts/?q=zzz-nothing"),
    ("reports-tls", "/reports/tls/"),
    ("reports-tls-detail", "{tls_report}"),
    ("reports-arf", "/reports/arf/"),
    ("reports-arf-detail", "{arf_report}"),
    ("history-delivery", "/observability/history/delivery/"),
    ("settings-section", "/settings/?prefix=server"),
    ("settings-groups-listeners", "/settings/groups/?group=listeners"),
    ("settings-record-new-listener", "/settings/record/new?group=listeners"),
    ("maintenance-restart", "/tools/maintenance/restart"),
    ("delivery-result", "/tools/delivery/?target=bob%40reject.example.net"),
    ("not-found", "/directory/accounts/no-such-account-anywhere/"),
    ("search-results", "/search/?q=jane"),
    ("search-nothing", "/search/?q=zzz-nothing"),
]

# A plain user (the person who visits once for an app password).
USER_PAGES = [
    ("user-account", "/account/"),
    ("user-security", "/account/security/"),
    ("user-app-passwords", "/account/security/app-passwords/"),
    ("user-app-password-new", "/account/security/app-passwords/new"),
    ("user-two-factor", "/account/security/two-factor/"),
    ("user-two-factor-enable", "/account/security/two-factor/enable"),
    ("user-password", "/account/security/password"),
    ("user-encryption", "/account/security/encryption"),
    ("user-audit", "/audit/"),
    ("user-forbidden", "/directory/accounts/"),
    ("user-search", "/search/?q=pass"),
]

SIGNED_OUT = [("sign-in", "/auth/sign-in")]


def _slug(name: str) -> str:
    return name.replace(":", "-")


def discover(fetch: Callable[[str], str], keys: set[str]) -> dict[str, str]:
    """The first link of each kind found on its list page (an html-unescaped path)."""
    found: dict[str, str] = {}
    cache: dict[str, str] = {}
    for key in sorted(keys):
        list_path, pattern = DISCOVER[key]
        if list_path not in cache:
            cache[list_path] = fetch(list_path)
        match = re.search(r'href="(' + pattern + ')"', cache[list_path])
        assert match, f"no link like {pattern} on {list_path}: the sandbox seed changed?"
        found[key] = html.unescape(match.group(1))
    return found


def _needed(templates: list[str]) -> set[str]:
    return {key for template in templates for key in re.findall(r"\{(\w+)\}", template)}


def admin_pages(fetch: Callable[[str], str]) -> list[Page]:
    """Every GET page of the URL walk and the extras, as the administrator sees them."""
    entries: list[tuple[str, str]] = []
    for name, url, _kwargs, _rule in ROUTES:
        if name in NOT_PAGES:
            continue
        path = REAL_PATHS.get(name, url)
        if path is None:
            continue
        entries.append((_slug(name), path))
    entries.extend(EXTRA)
    ids = discover(fetch, _needed([path for _, path in entries]))
    return [Page(slug, path.format(**ids)) for slug, path in entries]


def user_pages() -> list[Page]:
    return [Page(slug, path, "user") for slug, path in USER_PAGES]


def signed_out_pages() -> list[Page]:
    return [Page(slug, path, "") for slug, path in SIGNED_OUT]
