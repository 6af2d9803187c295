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
    "config:schema-reload",  # POST only
    "tools:blocked-ip-unblock",  # POST only
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
    "queue:report-reschedule": "{outgoing_report}reschedule",
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
    from portal.capabilities import JMAP_ONLY_PAGES

    only_016 = frozenset().union(*JMAP_ONLY_PAGES.values())  # on <= 0.15 they only say so
    entries: list[tuple[str, str]] = []
    for name, url, _kwargs, _rule in ROUTES:
        if name in NOT_PAGES or name in only_016:
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


# --- Stalwart 0.16 --------------------------------------------------------------------------------
# The same walk on a 0.16 sandbox: only the pages 0.16 offers (one page saying another is not
# available stands for them all), account names are e-mail addresses, the pages only 0.16 has
# (settings from the server's schema, tasks, app-password edit) are added, and ids are found on
# their lists. `prepare_jmap` adds what the demo seed has none of (a settings collection item, an
# app password of the plain user) through the sandbox's own JMAP API, before the walk.
JANE_16 = "jane.doe@example.org"
SETTINGS_ITEM = ("MtaRoute", {"@type": "Local", "name": "walk-local"})

JMAP_REAL_PATHS = {
    **REAL_PATHS,
    "auth:sso-start": None,  # a redirect to the identity provider (tested in tests/jmap/test_sso.py)
    "auth:sso-callback": None,
    "directory:account-password": f"/directory/accounts/{JANE_16}/password",
    "directory:detail": f"/directory/accounts/{JANE_16}/",
    "directory:edit": f"/directory/accounts/{JANE_16}/edit",
    "directory:delete": f"/directory/accounts/{JANE_16}/delete",
    "directory:permissions": f"/directory/accounts/{JANE_16}/permissions",
    "undelete:list": f"/undelete/{JANE_16}/",
    "tools:account-empty-trash": f"/tools/accounts/{JANE_16}/empty-trash",
    "tools:task-rerun": None,  # POST-only: the task list's buttons
    "tools:task-cancel": None,
    "tools:blocked-ip-unblock": None,
    "tools:account-delete-bayes": None,  # 0.16 keeps no per-account model: a redirect with the reason
    "config:schema-reload": None,  # POST-only
    "account:app-password-edit": None,  # the user's page (JMAP_USER_PAGES)
    "config:schema-page": "/settings/objects/Security/",
    "config:schema-create": "/settings/objects/NetworkListener/create/",
    "config:schema-item": "{settings_item}",
    "config:schema-delete": "{settings_item}delete/",
}
#: Pages 0.16 does not offer that are walked anyway: they stand for all the others (404, with the reason).
STAND_INS = {"config:browse"}

JMAP_DISCOVER = {
    **DISCOVER,
    "settings_item": (f"/settings/objects/{SETTINGS_ITEM[0]}/", rf"/settings/objects/{SETTINGS_ITEM[0]}/items/\w+/"),
    "group": ("/directory/groups/", r"/directory/groups/(?!new\b)[^/\"?]+@[^/\"?]+/"),
    "list": ("/directory/lists/", r"/directory/lists/(?!new\b)[^/\"?]+@[^/\"?]+/"),
}

JMAP_EXTRA = [
    ("account-detail-totp", "/directory/accounts/theo.martin@example.org/"),
    *[
        (slug, path)
        for slug, path in EXTRA
        if not slug.startswith(("account-detail", "api-key", "settings-", "maintenance-restart"))
        # API keys are no principals on 0.16, the key/value settings are gone, restart is not offered
    ],
    ("settings-singleton-system", "/settings/objects/SystemSettings.NetworkSettings/"),
    ("settings-collection", f"/settings/objects/{SETTINGS_ITEM[0]}/"),
    ("settings-collection-empty", "/settings/objects/SpamRule/"),
    ("tasks-failed", "/tools/maintenance/tasks/?failed=1"),
    ("undelete-search", f"/undelete/{JANE_16}/?q=invoice"),
]

JMAP_USER_PAGES = [
    *USER_PAGES,
    ("user-app-password-edit", "{app_password}"),
]
JMAP_USER_DISCOVER = {
    "app_password": ("/account/security/app-passwords/", r"/account/security/app-passwords/(?!new\b)[^/\"?]+/edit"),
}


def prepare_jmap(base_url: str) -> None:
    """What the walk needs and the demo seed lacks, made through the 0.16 sandbox's JMAP API."""
    import httpx

    from sandbox.seed import PERSONAS

    def create(who: str, object_name: str, value: dict) -> None:
        entry = PERSONAS[who]
        auth = (entry["name"], entry["password"]) if isinstance(entry, dict) else (entry.name, entry.password)
        with httpx.Client(base_url=base_url, auth=auth, timeout=10) as client:
            account = client.get("/jmap/session").json()["primaryAccounts"]["urn:stalwart:jmap"]
            call = [f"x:{object_name}/set", {"accountId": account, "create": {"new": value}}, "0"]
            answer = client.post(
                "/jmap/", json={"using": ["urn:ietf:params:jmap:core", "urn:stalwart:jmap"], "methodCalls": [call]}
            ).json()
            assert "created" in answer["methodResponses"][0][1], answer

    create("admin", *SETTINGS_ITEM)
    create("user", "AppPassword", {"description": "Walk phone"})


def _jmap_entries(entries: list[tuple[str, str]], discover_from: dict, fetch: Callable[[str], str]) -> list[Page]:
    needed = _needed([path for _, path in entries])
    ids = _discover_with(discover_from, fetch, needed)
    return [Page(slug, path.format(**ids)) for slug, path in entries]


def _discover_with(table: dict, fetch: Callable[[str], str], keys: set[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    cache: dict[str, str] = {}
    for key in sorted(keys):
        list_path, pattern = table[key]
        if list_path not in cache:
            cache[list_path] = fetch(list_path)
        links = re.findall(r'href="(' + pattern + ')"', cache[list_path])
        assert links, f"no link like {pattern} on {list_path}: the 0.16 sandbox seed changed?"
        # The queue lists the next delivery first: the last message stays queued the longest.
        found[key] = html.unescape(links[-1] if key == "queue_message" else links[0])
    return found


def jmap_admin_pages(fetch: Callable[[str], str]) -> list[Page]:
    """Every GET page a 0.16 server offers, as the administrator sees it (after `prepare_jmap`)."""
    from portal.capabilities import for_server, unavailable

    capabilities = for_server("jmap", "0.16.18", True)
    entries: list[tuple[str, str]] = []
    for name, url, kwargs, _rule in ROUTES:
        if name in NOT_PAGES:
            continue
        path = JMAP_REAL_PATHS.get(name, url)
        if path is None or (name not in STAND_INS and unavailable(capabilities, name, kwargs)):
            continue
        entries.append((_slug(name), path))
    entries.extend(JMAP_EXTRA)
    return _jmap_entries(entries, JMAP_DISCOVER, fetch)


def jmap_user_pages(fetch: Callable[[str], str]) -> list[Page]:
    """The plain user's pages on 0.16 (after `prepare_jmap`: one app password to edit)."""
    pages = _jmap_entries(JMAP_USER_PAGES, JMAP_USER_DISCOVER, fetch)
    return [Page(item.slug, item.path, "user") for item in pages]
