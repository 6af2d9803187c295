"""Hashes the portal sends verify with independent implementations (libxcrypt for SHA-512
crypt, OpenSSL's Argon2id through `cryptography`), and hashing leaves the event loop free."""

import asyncio
import base64
import ctypes
import ctypes.util
import hmac
import re
import threading

import pytest
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from portal.stalwart.secrets import (
    MAX_PASSWORD_LENGTH,
    PasswordTooLong,
    api_key_token,
    app_password_name,
    app_password_secret,
    generate_app_password,
    hash_password,
    hash_password_async,
    hash_passwords,
)
from portal.stalwart.types import AppPassword


@pytest.fixture(scope="module")
def libc_crypt():
    path = ctypes.util.find_library("crypt")
    if path is None:
        pytest.fail("libcrypt (libxcrypt) is needed as an independent verifier")
    crypt = ctypes.CDLL(path).crypt
    crypt.restype = ctypes.c_char_p
    crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    return lambda password, setting: crypt(password.encode(), setting.encode()).decode()


def argon2id_verifies(password: str, hashed: str) -> bool:
    """An Argon2id PHC string checked with OpenSSL's implementation (not argon2-cffi's)."""
    _empty, variant, version, costs, salt, digest = hashed.split("$")
    assert (variant, version) == ("argon2id", "v=19")
    params = dict(pair.split("=") for pair in costs.split(","))
    expected = base64.b64decode(digest + "=" * (-len(digest) % 4))
    kdf = Argon2id(
        salt=base64.b64decode(salt + "=" * (-len(salt) % 4)),
        length=len(expected),
        iterations=int(params["t"]),
        lanes=int(params["p"]),
        memory_cost=int(params["m"]),
    )
    return hmac.compare_digest(kdf.derive(password.encode()), expected)


PASSWORDS = ["correct horse", "ünïcødé-Pässwört", "with$dollar and 'quotes'", "x" * MAX_PASSWORD_LENGTH]


@pytest.mark.parametrize("password", PASSWORDS)
def test_argon2id_by_default_verifies_with_openssl(password):
    hashed = hash_password(password)
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert argon2id_verifies(password, hashed)
    assert not argon2id_verifies(password + "x", hashed)


def test_argon2id_costs_follow_the_settings(settings):
    settings.PASSWORD_ARGON2_TIME_COST, settings.PASSWORD_ARGON2_MEMORY_KIB = 3, 8192
    settings.PASSWORD_ARGON2_PARALLELISM = 2
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$v=19$m=8192,t=3,p=2$") and argon2id_verifies("correct horse", hashed)


@pytest.mark.parametrize("password", PASSWORDS)
def test_sha512_crypt_when_chosen_verifies_with_libxcrypt(libc_crypt, settings, password):
    settings.PASSWORD_HASH_SCHEME, settings.PASSWORD_HASH_ROUNDS = "sha512-crypt", 6000
    hashed = hash_password(password)
    assert hashed.startswith("$6$rounds=6000$")
    assert libc_crypt(password, hashed) == hashed
    assert libc_crypt(password + "x", hashed) != hashed


def test_overlong_passwords_are_never_hashed():
    with pytest.raises(PasswordTooLong):
        hash_password("x" * (MAX_PASSWORD_LENGTH + 1))
    with pytest.raises(PasswordTooLong):
        asyncio.run(hash_password_async("x" * 5000))


def test_hashing_runs_in_its_own_bounded_pool_while_the_event_loop_goes_on(settings):
    """The event loop keeps turning while a batch hashes (a hash in the loop, or in a thread
    that holds the GIL, would stop it), and the work runs in the pool's threads only."""

    async def batch_and_ticks() -> tuple[list[str], int]:
        ticks = 0
        hashing = asyncio.ensure_future(hash_passwords([f"password number {n}" for n in range(8)]))
        while not hashing.done():
            ticks += 1
            await asyncio.sleep(0.005)
        return hashing.result(), ticks

    hashes, ticks = asyncio.run(batch_and_ticks())
    assert len(set(hashes)) == 8 and all(argon2id_verifies(f"password number {n}", h) for n, h in enumerate(hashes))
    assert ticks >= 4
    pool = [thread for thread in threading.enumerate() if thread.name.startswith("portal-password-hash")]
    assert 1 <= len(pool) <= settings.PASSWORD_HASH_THREADS


def test_hashes_are_salted():
    assert hash_password("same") != hash_password("same")


def test_app_password_name_round_trip():
    name = app_password_name("Phone")
    label, _, when = base64.b64decode(name).decode().rpartition("$")
    assert label == "Phone" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", when)
    parsed = AppPassword.from_raw_name(name)
    assert parsed.label == "Phone" and parsed.created is not None


def test_app_password_secret_shape():
    secret = app_password_secret("TmFtZQ==", "pw")
    prefix, hashed = secret[: len("$app$TmFtZQ==$")], secret[len("$app$TmFtZQ==$") :]
    assert prefix == "$app$TmFtZQ==$" and argon2id_verifies("pw", hashed)


def test_generated_app_passwords_are_readable_and_distinct():
    passwords = {generate_app_password() for _ in range(50)}
    assert len(passwords) == 50
    for value in passwords:
        assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", value)


def test_api_key_token():
    assert api_key_token("monitoring", "s3cret") == "api_" + base64.b64encode(b"monitoring:s3cret").decode()
