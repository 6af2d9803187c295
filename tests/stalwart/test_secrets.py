"""Hashes the portal sends verify with an independent implementation (libxcrypt)."""

import base64
import ctypes
import ctypes.util
import re

import pytest

from portal.stalwart.secrets import (
    api_key_token,
    app_password_name,
    app_password_secret,
    generate_app_password,
    hash_password,
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


@pytest.mark.parametrize("password", ["correct horse", "ünïcødé-Pässwört", "with$dollar and 'quotes'"])
def test_hash_verifies_with_libxcrypt(libc_crypt, password):
    hashed = hash_password(password)
    assert hashed.startswith("$6$rounds=")
    assert libc_crypt(password, hashed) == hashed
    assert libc_crypt(password + "x", hashed) != hashed


def test_hashes_are_salted():
    assert hash_password("same") != hash_password("same")


def test_app_password_name_round_trip():
    name = app_password_name("Phone")
    label, _, when = base64.b64decode(name).decode().rpartition("$")
    assert label == "Phone" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", when)
    parsed = AppPassword.from_raw_name(name)
    assert parsed.label == "Phone" and parsed.created is not None


def test_app_password_secret_shape(libc_crypt):
    secret = app_password_secret("TmFtZQ==", "pw")
    prefix, hashed = secret[: len("$app$TmFtZQ==$")], secret[len("$app$TmFtZQ==$") :]
    assert prefix == "$app$TmFtZQ==$" and libc_crypt("pw", hashed) == hashed


def test_generated_app_passwords_are_readable_and_distinct():
    passwords = {generate_app_password() for _ in range(50)}
    assert len(passwords) == 50
    for value in passwords:
        assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", value)


def test_api_key_token():
    assert api_key_token("monitoring", "s3cret") == "api_" + base64.b64encode(b"monitoring:s3cret").decode()
