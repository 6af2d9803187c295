"""Helpers of the self-service security tests: sign-in with two-factor, admin calls, parsing."""

from __future__ import annotations

import re

import httpx
import pyotp
import pytest
from django.conf import settings

from sandbox.seed import TOTP_SECRET
from tests.conftest import persona, sign_in


def admin_api(method: str, path: str, **kwargs) -> httpx.Response:
    """Talk to the sandbox as the seeded admin, like any API client would."""
    admin = persona("admin")
    return httpx.request(method, settings.STALWART_URL + path, auth=(admin.name, admin.password), **kwargs)


def basic_api(method: str, path: str, name: str, secret: str, **kwargs) -> httpx.Response:
    return httpx.request(method, settings.STALWART_URL + path, auth=(name, secret), **kwargs)


def revoke_permissions(name: str, *permissions: str) -> None:
    """Take permissions away from an account before it signs in."""
    changes = [{"action": "addItem", "field": "disabledPermissions", "value": p} for p in permissions]
    assert admin_api("PATCH", f"/api/principal/{name}", json=changes).json() == {"data": None}


def totp_code(sandbox, secret: str = TOTP_SECRET) -> str:
    return pyotp.TOTP(secret).at(sandbox.now())


def field_errors(response, name: str) -> list[str]:
    html = response.content.decode()
    return re.findall(rf'<p class="field-error" id="id_{name}_error">([^<]*)</p>', html)


@pytest.fixture
def signed_in_totp(client, sandbox):
    """The two-factor persona, signed in through both steps."""

    def _sign_in():
        response = sign_in(client, "totp_user")
        assert response.status_code == 200  # the code step
        done = client.post("/auth/sign-in", {"step": "totp", "code": totp_code(sandbox)})
        assert done.status_code == 302, done.content[:500]
        sandbox.requests.clear()
        return client

    return _sign_in
