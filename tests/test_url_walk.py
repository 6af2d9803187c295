"""Walk every URL of the portal: sign-in, permission rules, CSRF.

New views are covered automatically: each must be public on purpose or carry
an access rule (`@require`), and the rule's verdict must match what the portal
does, without any call to Stalwart when it refuses.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter

from portal.permissions import Access, PortalUser
from tests.conftest import persona

# The script's words (Django's JavaScript catalog) are public: the sign-in page uses them.
# The redirect sign-in (Stalwart 0.16+ SSO) starts and ends before anyone is signed in.
PUBLIC = {
    "home",
    "healthz",
    "javascript-catalog",
    "auth:sign-in",
    "auth:sign-out",
    "auth:sso-start",
    "auth:sso-callback",
}
PERSONAS = ["admin", "helpdesk", "tenant_admin", "user"]


@pytest.fixture
def sandbox(versioned_sandbox):
    """The walk runs against every supported Stalwart version (tests/conftest.py)."""
    return versioned_sandbox


def sample(name: str, converter) -> str:
    if name == "kind":
        return "accounts"
    if name == "field":
        return "memberOf"
    if isinstance(converter, IntConverter):
        return "1"
    if name in {"name", "account"}:
        return persona("user").name
    if name == "domain":
        return "example.org"
    return "x"


def walk(resolver: URLResolver | None = None, prefix: str = "", namespace: str = ""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            yield namespace + (pattern.name or ""), prefix + str(pattern.pattern), pattern


def concrete(route: str, pattern: URLPattern) -> tuple[str, dict]:
    kwargs = {}
    url = route
    converters = getattr(pattern.pattern, "converters", {})
    import re

    for match in re.finditer(r"<(?:(\w+):)?(\w+)>", route):
        value = sample(match.group(2), converters.get(match.group(2)))
        kwargs[match.group(2)] = value
        url = url.replace(match.group(0), value, 1)
    return "/" + url.lstrip("^").rstrip("$"), kwargs


def rule_of(pattern: URLPattern):
    return getattr(pattern.callback, "access_rule", None)


ROUTES = [(name, *concrete(route, pattern), rule_of(pattern)) for name, route, pattern in walk() if name]


def test_every_view_is_public_on_purpose_or_guarded():
    unguarded = [name for name, _, _, rule in ROUTES if rule is None and name not in PUBLIC]
    assert unguarded == [], f"views without @require(...): {unguarded}"


def verdict(rule, kwargs, user: PortalUser) -> bool | None:
    try:
        access = rule if isinstance(rule, Access) else rule(**kwargs)
    except Exception:  # the sample kwargs do not exist (404 before the check)
        return None
    return access.allows(user)


@pytest.mark.parametrize("who", PERSONAS)
def test_authorization_matrix(signed_in, client, sandbox, who):
    signed_in(who)
    user = PortalUser(**{k: v for k, v in _identity(client).items()})
    for name, url, kwargs, rule in ROUTES:
        if rule is None:
            continue
        allowed = verdict(rule, kwargs, user)
        for method in ("get", "post"):
            sandbox.requests.clear()
            response = getattr(client, method)(url)
            if allowed is False:
                assert response.status_code in (403, 405), (who, name, method, response.status_code)
                assert sandbox.requests == [], f"{who} {method} {name}: refused but Stalwart was called"
            elif allowed:
                # Views may refine the rule (a POST needing one more permission);
                # whatever they answer, it is never a crash.
                assert response.status_code < 500 or response.status_code in (502, 503, 504), (who, name, method)
        # htmx partial requests are gated the same way.
        if allowed is False:
            sandbox.requests.clear()
            response = client.get(url, headers={"HX-Request": "true"})
            assert response.status_code in (403, 405) and sandbox.requests == []


def _identity(client) -> dict:
    data = client.session["portal.identity"]
    return {
        "name": data["name"],
        "permissions": frozenset(data["permissions"]),
        "version": data["version"],
        "enterprise": data["enterprise"],
        "tenant": data.get("tenant", ""),
        "tenant_known": data.get("tenant_known", False),
        "generation": data.get("generation", "rest"),
        "native_permissions": frozenset(data.get("native") or ()),
        "native_all": data.get("native_all", False),
        "reads_settings": data.get("reads_settings", False),
    }


def test_signed_out_visitors_never_reach_stalwart(client, sandbox):
    for name, url, _, rule in ROUTES:
        if rule is None:
            continue
        response = client.get(url)
        assert response.status_code in (302, 404, 405), (name, response.status_code)
        if response.status_code == 302:
            assert response.url.startswith("/auth/sign-in"), name
    assert [r for r in sandbox.requests if r.path.startswith("/api/")] == []


def test_every_post_needs_the_csrf_token(signed_in, client, sandbox):
    signed_in("admin")
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies
    for name, url, _, _ in ROUTES:
        sandbox.requests.clear()
        response = strict.post(url, {"confirmed": "yes", "names": "sales"})
        assert response.status_code == 403, (name, response.status_code)
        assert b"CSRF" in response.content or b"csrf" in response.content, name
        assert [r for r in sandbox.requests if r.method != "GET"] == [], name


# Pages about one queued message or report: the walk's sample id does not exist (Stalwart: 404).
SAMPLE_NOT_FOUND = {"queue:detail", "queue:retry", "queue:cancel", "queue:report"}


def test_every_page_works_on_every_version(signed_in, client, sandbox, stalwart_version):
    """As the administrator, every page answers without a server error, and the portal
    sends no request the version rejects (404 unknown route, 400 bad request)."""
    signed_in("admin")
    failures = []
    for name, url, _, rule in ROUTES:
        if rule is None:
            continue
        sandbox.requests.clear()
        response = client.get(url)
        if response.status_code >= 500:
            failures.append((name, response.status_code))
        rejected = [
            (r.method, r.path, r.status)
            for r in sandbox.requests
            if r.path.startswith("/api/")
            and r.status in (400, 404, 405)
            and not (r.status == 404 and name in SAMPLE_NOT_FOUND)
        ]
        if rejected:
            failures.append((name, rejected))
    assert failures == [], (stalwart_version, failures)
