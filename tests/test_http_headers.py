"""Headers that protect what the portal shows: no caching of signed-in answers, and HSTS on
every HTTPS answer whether or not the portal itself redirects plain HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import sign_in


def no_store(response) -> bool:
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= directives


def test_signed_in_pages_are_never_stored(signed_in, sandbox):
    client = signed_in("admin")
    assert no_store(client.get("/directory/accounts/"))
    assert no_store(client.get("/directory/accounts/?q=jane", headers={"HX-Request": "true"}))  # a fragment
    assert no_store(client.get("/account/"))


def test_error_pages_and_refusals_of_signed_in_people_are_never_stored(signed_in, sandbox):
    client = signed_in("user")
    refused = client.get("/directory/accounts/")
    assert refused.status_code == 403 and no_store(refused)
    sandbox.faults.server_error(500, prefix="/api/")
    failed = client.get("/account/security/")
    assert failed.status_code == 502 and no_store(failed)


def test_signing_in_and_out_is_never_stored(client, sandbox):
    signed = sign_in(client, "admin")
    assert signed.status_code == 302 and no_store(signed)
    out = client.post("/auth/sign-out")
    assert out.status_code == 302 and no_store(out)


def test_public_answers_keep_their_caching(signed_in, sandbox):
    client = signed_in("admin")
    catalog = client.get("/i18n/catalog.js")  # the same for everyone
    assert "max-age=3600" in catalog["Cache-Control"] and "no-store" not in catalog["Cache-Control"]


def test_hsts_on_https_without_the_portal_redirecting(client, sandbox, settings):
    """Behind a TLS proxy that redirects plain HTTP itself, SECURE_SSL_REDIRECT stays off: HSTS
    must still be sent on HTTPS requests (the test settings are the production defaults)."""
    assert settings.SECURE_SSL_REDIRECT is False
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    secure = client.get("/auth/sign-in", headers={"X-Forwarded-Proto": "https"})
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    plain = client.get("/auth/sign-in")
    assert "Strict-Transport-Security" not in plain


def _settings_with(**environment: str) -> dict:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DEBUG", "DJANGO_"))}
    env = {
        **keep,
        "SECRET_KEY": "test-only-secret-key-0123456789abcdef",
        "ALLOWED_HOSTS": "portal.example.org",
        **environment,
    }
    code = (
        "import json, portal.settings as s; print(json.dumps([s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.SECURE_SSL_REDIRECT]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    seconds, subdomains, preload, redirect = json.loads(result.stdout.strip().splitlines()[-1])
    return {"seconds": seconds, "subdomains": subdomains, "preload": preload, "redirect": redirect}


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, {"seconds": 31536000, "subdomains": True, "preload": True, "redirect": False}),
        ({"SECURE_SSL_REDIRECT": "1"}, {"seconds": 31536000, "subdomains": True, "preload": True, "redirect": True}),
        (
            {"SECURE_HSTS_SECONDS": "600", "SECURE_HSTS_PRELOAD": "0"},
            {"seconds": 600, "subdomains": True, "preload": False, "redirect": False},
        ),
        ({"SECURE_HSTS_SECONDS": "0"}, {"seconds": 0, "subdomains": True, "preload": True, "redirect": False}),
        ({"DEBUG": "1"}, {"seconds": 0, "subdomains": False, "preload": False, "redirect": False}),
    ],
)
def test_hsts_settings_do_not_depend_on_the_https_redirect(environment, expected):
    assert _settings_with(**environment) == expected
