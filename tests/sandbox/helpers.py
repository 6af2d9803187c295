"""Helpers of the sandbox tests."""

from __future__ import annotations

import base64

import httpx
import pyotp

from sandbox import Sandbox
from sandbox.seed import PERSONAS, TOTP_SECRET


def basic(login: str, password: str) -> dict:
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def persona_auth(key: str, suffix: str = "") -> dict:
    p = PERSONAS[key]
    return basic(p["login"], p["password"] + suffix)


class Env:
    """A running sandbox plus an httpx client bound to it."""

    def __init__(self, sandbox: Sandbox, base_url: str):
        self.sb = sandbox
        self.url = base_url
        self.client = httpx.Client(base_url=base_url, timeout=10)
        self.admin = persona_auth("admin")

    def request(self, method: str, path: str, *, auth="admin", **kwargs) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if isinstance(auth, str):
            headers.update(persona_auth(auth))
        elif isinstance(auth, dict):
            headers.update(auth)
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def data(self, method: str, path: str, **kw):
        """Request and return the ``data`` of a success envelope (asserts HTTP 200)."""
        r = self.request(method, path, **kw)
        assert r.status_code == 200, r.text
        body = r.json()
        assert "data" in body, body
        return body["data"]

    def bearer_for(self, persona: str) -> str:
        """Run the OAuth code flow and return an access token."""
        code = self.data(
            "POST",
            "/api/oauth",
            auth=persona,
            json={"type": "code", "client_id": "webadmin", "redirect_uri": "stalwart://auth"},
        )["code"]
        r = self.client.post(
            "/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": "webadmin",
                "redirect_uri": "stalwart://auth",
            },
        )
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def totp_code(self) -> str:
        return pyotp.TOTP(TOTP_SECRET).at(self.sb.now())
