"""Fixtures of the 0.16 sandbox tests: one 0.16.18 server for the session, reset per test."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets

import httpx
import pyotp
import pytest

from sandbox import Sandbox
from sandbox.seed import PERSONAS, TOTP_SECRET
from sandbox.server import run_in_thread

USING = ["urn:ietf:params:jmap:core", "urn:stalwart:jmap"]
REDIRECT = "http://127.0.0.1:8000/auth/callback"
CLIENT = "stalwart-portal"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class Env16:
    def __init__(self, sb: Sandbox, url: str):
        self.sb = sb
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=10)

    def login(self, name: str, secret: str, **extra) -> httpx.Response:
        verifier, challenge = pkce()
        body = {"type": "authCode", "accountName": name, "accountSecret": secret, "clientId": CLIENT,
                "redirectUri": REDIRECT, "codeChallenge": challenge, "codeChallengeMethod": "S256", **extra}
        r = self.client.post("/api/auth", json=body)
        r.verifier = verifier
        return r

    def exchange(self, code: str, verifier: str | None, **extra) -> httpx.Response:
        form = {"grant_type": "authorization_code", "code": code, "client_id": CLIENT, "redirect_uri": REDIRECT}
        if verifier is not None:
            form["code_verifier"] = verifier
        form.update(extra)
        return self.client.post("/auth/token", data=form)

    def token(self, persona: str) -> str:
        p = PERSONAS[persona]
        extra = {}
        if p.get("totp_secret"):
            extra["mfaToken"] = pyotp.TOTP(TOTP_SECRET).at(self.sb.now())
        r = self.login(p["login"], p["password"], **extra)
        assert r.json()["type"] == "authenticated", r.text
        t = self.exchange(r.json()["client_code"], r.verifier)
        assert t.status_code == 200, t.text
        return t.json()["access_token"]

    def bearer(self, persona_or_token: str) -> dict:
        token = self.token(persona_or_token) if persona_or_token in PERSONAS else persona_or_token
        return {"Authorization": f"Bearer {token}"}

    def jmap(self, who: str, calls: list, *, using=None, raw: bool = False, **body):
        r = self.client.post("/jmap/", json={"using": using or USING, "methodCalls": calls, **body},
                             headers=self.bearer(who))
        if raw:
            return r
        assert r.status_code == 200, r.text
        return r.json()["methodResponses"]

    def call(self, who: str, name: str, args: dict):
        (response,) = self.jmap(who, [[name, args, "c"]])
        return response


@pytest.fixture(scope="session")
def _v16_servers():
    stack = contextlib.ExitStack()
    envs: dict[str, Env16] = {}

    def get(enterprise: bool) -> Env16:
        if enterprise not in envs:
            sb = Sandbox(version="0.16.18", enterprise=enterprise)
            envs[enterprise] = Env16(sb, stack.enter_context(run_in_thread(sb)))
        return envs[enterprise]

    yield get
    for env in envs.values():
        env.client.close()
    stack.close()


@pytest.fixture
def v16(_v16_servers) -> Env16:
    """Stalwart 0.16.18, Enterprise edition, demo seed."""
    env = _v16_servers(True)
    env.sb.reset()
    return env


@pytest.fixture
def v16ce(_v16_servers) -> Env16:
    env = _v16_servers(False)
    env.sb.reset()
    return env
