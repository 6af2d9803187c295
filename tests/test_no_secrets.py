"""No password, hash or token ever shows up in a page, a URL or a log line."""

import logging

import pyotp
from django.urls import reverse

from sandbox.seed import TOTP_SECRET
from tests.conftest import persona


def test_secrets_stay_out_of_pages_and_logs(client, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    pages = []

    def keep(response):
        pages.append(response.content if not getattr(response, "streaming", False) else b"")
        if response.get("Location"):
            pages.append(response["Location"].encode())
        return response

    admin, totp = persona("admin"), persona("totp_user")
    keep(client.post("/auth/sign-in", {"username": admin.name, "password": "a wrong password"}))
    keep(client.post("/auth/sign-in", {"username": admin.name, "password": admin.password}))
    keep(client.get("/directory/accounts/"))
    keep(client.get(reverse("directory:detail", kwargs={"kind": "accounts", "name": totp.name})))
    new_password = "Another-Long-Password-42"
    keep(
        client.post(
            reverse("directory:account-password", kwargs={"name": persona("user").name}),
            {"password": new_password, "confirm": new_password},
        )
    )
    keep(client.get("/audit/"))
    keep(client.post("/auth/sign-out"))
    keep(client.post("/auth/sign-in", {"username": totp.name, "password": totp.password}))
    keep(client.post("/auth/sign-in", {"step": "totp", "code": pyotp.TOTP(TOTP_SECRET).at(sandbox.now())}))
    keep(client.get("/account/"))

    tokens = list(sandbox.tokens)
    assert tokens, "the sandbox issued tokens"
    hashes = [s for p in sandbox.principals.values() for s in p.secrets]
    secrets = [admin.password, totp.password, new_password, "a wrong password", TOTP_SECRET, *tokens]
    haystacks = [*pages, caplog.text.encode()]
    for haystack in haystacks:
        for secret in secrets:
            assert secret.encode() not in haystack, f"a secret leaked: {secret[:6]}…"
        for value in hashes:
            if value.startswith(("$", "otpauth")):
                assert value.encode() not in haystack, "a hash leaked"
        assert b"$6$" not in haystack and b"$argon2" not in haystack
