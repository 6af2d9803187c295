"""Argon2 secrets verified as Stalwart verifies them (RustCrypto's `argon2` crate, spec §5.9)."""

from __future__ import annotations

import base64

import pytest
from argon2 import PasswordHasher, Type
from argon2.low_level import hash_secret

from sandbox.passwords import HashError, verify_secret_hash
from sandbox.seed import PERSONAS

from .helpers import basic

JANE = PERSONAS["user"]
CHEAP = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1, "hash_len": 32}


def phc(password: str, *, variant: Type = Type.ID, version: int = 19) -> str:
    return hash_secret(password.encode(), b"sandbox-salt-16b", type=variant, version=version, **CHEAP).decode()


def check(hashed: str, password: str) -> bool:
    verify_secret_hash.cache_clear()
    return verify_secret_hash(hashed, password)


@pytest.mark.parametrize("variant", [Type.ID, Type.I, Type.D])
@pytest.mark.parametrize("version", [19, 16])
def test_every_variant_and_version(variant, version):
    hashed = phc("correct horse", variant=variant, version=version)
    assert check(hashed, "correct horse")
    assert not check(hashed, "correct horsE")


def test_a_missing_version_means_0x13_as_in_rustcrypto():
    hashed = phc("correct horse").replace("$v=19", "")
    assert check(hashed, "correct horse")
    assert check("{ARGON2ID}" + phc("correct horse"), "correct horse")


def test_the_default_parameters_of_argon2_cffi():
    assert check(PasswordHasher().hash("correct horse"), "correct horse")


def test_unusable_costs_or_parts_make_the_password_wrong():
    salt, digest = phc("pw").split("$")[-2:]
    assert not check(f"$argon2id$v=19$m=1,t=1,p=1${salt}${digest}", "pw")  # m below 8 * p
    assert not check(f"$argon2id$v=18$m=1024,t=1,p=1${salt}${digest}", "pw")
    assert not check(f"$argon2x$v=19$m=1024,t=1,p=1${salt}${digest}", "pw")
    assert not check("$argon2id$v=19$m=1024,t=1,p=1", "pw")


def test_a_string_that_is_not_phc_is_an_error():
    with pytest.raises(HashError):
        check("$argon2id$v=nineteen$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "pw")
    with pytest.raises(HashError):
        check("$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA$extra", "pw")


def test_an_argon2id_password_signs_in_over_http(ce):
    jane = ce.sb.get(JANE["login"])
    name = base64.b64encode(b"Phone$2025-03-01T10:00:00Z").decode()
    jane.secrets[:] = [phc("Argon-Password-1"), f"$app${name}${phc('abcd-efgh-jkmn-pqrs')}"]
    status = lambda secret: ce.get("/api/account/auth", auth=basic(JANE["login"], secret)).status_code  # noqa: E731
    assert status("Argon-Password-1") == 200
    assert status("abcd-efgh-jkmn-pqrs") == 200
    assert status("Argon-Password-2") == 401
