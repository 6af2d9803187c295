"""Self-service on Stalwart 0.16: encryption at rest (x:AccountSettings + x:PublicKey) and the
options of an app password (x:AppPassword), on the same pages as up to 0.15."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from portal.stalwart import backend
from portal.stalwart.account import AccountApi
from portal.stalwart.jmap.account import JmapAccount
from sandbox.jmap.selfservice import crypto_state
from sandbox.jmap.store import jmap_state
from sandbox.permissions import PERMISSION_NAMES
from tests.conftest import persona
from tests.crypto_fixtures import pgp_key, smime_bundle

PAGE = "/account/security/encryption"
OFF = "/account/security/encryption/disable"
APPS = "/account/security/app-passwords/"


def field_errors(response, name: str) -> list[str]:
    return re.findall(rf'<p class="field-error" id="id_{name}_error">([^<]*)</p>', response.content.decode())


def setting(sandbox) -> dict:
    jane = next(p for p in sandbox.principals.values() if p.name == persona("user").name)
    return jmap_state(sandbox).extras.get(jane.id, {}).get("encryptionAtRest") or {"@type": "Disabled"}


def keys(sandbox) -> list[dict]:
    return list(crypto_state(sandbox).keys.values())


def turn_on(client, **fields):
    data = {"method": "pGP", "algo": "Aes256", "certs": pgp_key(), "password": persona("user").password, **fields}
    return client.post(PAGE, data)


def test_both_generations_share_the_account_protocol():
    import inspect

    for area in (AccountApi, JmapAccount):
        for name, value in vars(backend.AccountArea).items():
            if inspect.isfunction(value) and not name.startswith("_"):
                wanted = list(inspect.signature(value).parameters)
                offered = list(inspect.signature(getattr(area, name)).parameters)
                assert offered[: len(wanted)] == wanted, (area, name)
                assert inspect.iscoroutinefunction(getattr(area, name)), (area, name)


def test_off_then_on_with_a_pgp_key_then_replaced_then_off(signed_in, sandbox):
    client = signed_in("user")
    page = client.get(PAGE).content.decode()
    assert "Messages are stored as they arrive" in page
    assert 'name="encrypt_on_append"' in page and 'value="ChaCha20Poly1305"' in page
    assert 'name="code"' not in page

    done = turn_on(client, allow_spam_training="on", encrypt_on_append="on")
    assert done.status_code == 302 and done.url == PAGE, done.content[:3000]
    (key,) = keys(sandbox)
    assert key["key"].startswith("-----BEGIN PGP PUBLIC KEY BLOCK")
    assert setting(sandbox)["@type"] == "Aes256"
    assert setting(sandbox)["encryptOnAppend"] is True and setting(sandbox)["allowSpamTraining"] is True
    content = client.get(PAGE).content.decode()
    assert "Encryption at rest is on" in content and "OpenPGP" in content and "AES-256" in content
    assert "Encrypted too" in content and "Turn off encryption" in content

    # Replacing the key: the new one is used, the old one is gone (no pile-up against the quota).
    replaced = turn_on(client, method="sMIME", algo="ChaCha20Poly1305", certs=smime_bundle(2))
    assert replaced.status_code == 302, replaced.content[:3000]
    (key,) = keys(sandbox)
    assert "CERTIFICATE" in key["key"] and setting(sandbox)["@type"] == "ChaCha20Poly1305"
    content = client.get(PAGE).content.decode()
    assert "(2 certificates accepted)" in content and "S/MIME" in content and "ChaCha20-Poly1305" in content
    assert "Stored as they are" in content

    wrong = client.post(OFF, {"off-password": "not-my-password"})
    assert wrong.status_code == 401 and setting(sandbox)["@type"] == "ChaCha20Poly1305"
    off = client.post(OFF, {"off-password": persona("user").password})
    assert off.status_code == 302
    assert setting(sandbox) == {"@type": "Disabled"} and keys(sandbox) == []
    assert "Messages are stored as they arrive" in client.get(PAGE).content.decode()


def test_a_wrong_password_changes_nothing(signed_in, sandbox):
    client = signed_in("user")
    response = turn_on(client, password="not-my-password")
    assert response.status_code == 401
    assert field_errors(response, "password") == ["This is not your current password. Check it and try again."]
    assert keys(sandbox) == [] and setting(sandbox) == {"@type": "Disabled"}
    assert "BEGIN PGP PUBLIC KEY BLOCK" in response.content.decode()  # what was pasted stays


def test_keys_the_server_refuses_are_explained_next_to_the_field(signed_in, sandbox):
    client = signed_in("user")
    garbage = turn_on(client, certs="-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!\n-----END PGP PUBLIC KEY BLOCK-----\n")
    assert garbage.status_code == 400
    assert field_errors(garbage, "certs") == ["The mail server cannot use this: Failed to decode base64 certificate."]
    mixed = turn_on(client, method="sMIME", certs=pgp_key())
    assert field_errors(mixed, "certs") == [
        "The mail server cannot use this: This is an OpenPGP key, not an S/MIME certificate."
    ]
    cipher = turn_on(client, algo="Aes256Gcm")
    assert field_errors(cipher, "algo") == [
        "This cipher works with S/MIME certificates only: choose AES-256 for an OpenPGP key."
    ]
    assert keys(sandbox) == [] and setting(sandbox) == {"@type": "Disabled"}


def test_the_server_refusing_the_setting_leaves_no_key_behind(sandbox):
    """The server's own check (AEAD with an OpenPGP key), past the portal's: named at the cipher."""
    import asyncio

    import pytest

    from portal.stalwart import errors
    from portal.stalwart.jmap.client import JmapClient

    area = JmapAccount(JmapClient(basic=(persona("user").name, persona("user").password)))
    with pytest.raises(errors.OtherError) as refused:
        asyncio.run(area.set_crypto("pGP", "Aes256Gcm", pgp_key()))
    assert refused.value.field == "algo" and "only supported for S/MIME encryption" in refused.value.details
    assert keys(sandbox) == [] and setting(sandbox) == {"@type": "Disabled"}


def test_without_manage_encryption_nothing_is_asked(signed_in, sandbox):
    jane = next(p for p in sandbox.principals.values() if p.name == persona("user").name)
    jane.disabled_permissions.append(PERMISSION_NAMES.index("manage-encryption"))
    client = signed_in("user")
    for response in (client.get(PAGE), turn_on(client), client.post(OFF, {"off-password": "x"})):
        assert response.status_code == 403 and b"manage-encryption" in response.content
    assert sandbox.requests == []
    overview = client.get("/account/security/").content.decode()
    assert 'href="/account/security/encryption"' not in overview


def test_an_upstream_failure_gives_the_explanatory_page(signed_in, sandbox):
    client = signed_in("user")
    sandbox.faults.server_error(500, prefix="/jmap/")
    response = client.get(PAGE)
    assert response.status_code == 502 and "POST /jmap/" in response.content.decode()


# --- app password options ---------------------------------------------------------------
def make_app_password(client, label="Laptop", **extra) -> None:
    form = client.get("/account/security/app-passwords/new").content.decode()
    token = re.search(r'name="form_token" value="([^"]+)"', form).group(1)
    made = client.post("/account/security/app-passwords/new", {"label": label, "form_token": token, **extra})
    assert made.status_code == 200, made.content[:2000]


def creds(sandbox) -> list[dict]:
    jane = next(p for p in sandbox.principals.values() if p.name == persona("user").name)
    return [c for c in jmap_state(sandbox).credentials(sandbox, jane) if c["@type"] == "AppPassword"]


def test_an_app_password_is_renamed_limited_and_given_an_expiry(signed_in, sandbox):
    client = signed_in("user")
    make_app_password(client, allowed_ips="192.0.2.7")
    listing = client.get(APPS).content.decode()
    edit = re.search(r'href="(/account/security/app-passwords/[^/"]+/edit)"', listing).group(1)
    page = client.get(edit).content.decode()
    assert 'value="Laptop"' in page and "192.0.2.7/32" in page and 'type="date"' in page

    day = (datetime.now(UTC) + timedelta(days=10)).date()
    bad = client.post(edit, {"label": "Work laptop", "expires": day.isoformat(), "allowed_ips": "nope"})
    assert bad.status_code == 400
    assert field_errors(bad, "allowed_ips") == ["“nope” is not an IP address or network."]
    past = client.post(edit, {"label": "Work laptop", "expires": "2001-01-01", "allowed_ips": ""})
    assert field_errors(past, "expires") == ["Choose today or a later day."]

    saved = client.post(edit, {"label": "Work laptop", "expires": day.isoformat(), "allowed_ips": "10.0.0.0/8"})
    assert saved.status_code == 302, saved.content[:2000]
    (cred,) = creds(sandbox)
    assert cred["description"] == "Work laptop" and cred["allowedIps"] == {"10.0.0.0/8": True}
    assert datetime.fromtimestamp(cred["expiresAt"], UTC).date() == day
    listing = client.get(APPS).content.decode()
    assert "“Work laptop” is saved." in listing and "10.0.0.0/8" in listing

    never = client.post(edit, {"label": "Work laptop", "expires": "", "allowed_ips": ""})
    assert never.status_code == 302
    (cred,) = creds(sandbox)
    assert cred["expiresAt"] is None and cred["allowedIps"] == {}


def test_an_app_password_that_is_gone_sends_back_to_the_list(signed_in, sandbox):
    client = signed_in("user")
    response = client.get("/account/security/app-passwords/zzzz/edit")
    assert response.status_code == 302 and response.url == APPS


def test_the_rest_generation_has_no_edit_page(sandbox_server, client, settings):
    rest, url = sandbox_server
    settings.STALWART_URL = url
    rest.reset()
    from tests.conftest import sign_in

    assert sign_in(client, "user").status_code == 302
    response = client.get("/account/security/app-passwords/1/edit")
    assert "Only Stalwart 0.16 and later have this page." in response.content.decode()
