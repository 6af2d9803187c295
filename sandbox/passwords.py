"""Secret verification (spec §2.4, §5.9): password hashes, app passwords and TOTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

import pyotp
from passlib.hash import (
    bsdi_crypt,
    des_crypt,
    md5_crypt,
    sha1_crypt,
    sha256_crypt,
    sha512_crypt,
)


class HashError(Exception):
    """An unsupported or malformed hash (the server answers 401)."""


class MissingTotp(Exception):
    """Right password, no TOTP code (the server answers 402)."""


def _b64decode_lenient(value: str) -> bytes:
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError):
        return b""


def _passlib_verify(handler, secret: str, hashed: str) -> bool:
    try:
        return handler.verify(secret, hashed)
    except (ValueError, TypeError):
        return False


def _verify_bcrypt(secret: str, hashed: str) -> bool:
    try:
        import bcrypt  # optional; not a dependency of the sandbox
    except ImportError:
        return False
    try:
        return bcrypt.checkpw(secret.encode(), hashed.encode())
    except ValueError:
        return False


def _b64_nopad(value: str) -> bytes:
    return base64.b64decode(value + "=" * (-len(value) % 4))


# What Stalwart's verifier (RustCrypto's argon2 crate) assumes when a PHC string leaves
# something out: version 0x13 and the crate's default costs.
_ARGON2_DEFAULTS = {"m": 19_456, "t": 2, "p": 1}


def _verify_argon2(secret: str, hashed: str, parts: list[str]) -> bool:
    """`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` checked as Stalwart checks it.

    A string that does not parse as PHC is an error (the login answers 401 without counting
    as a failed password); an unknown variant or version, unusable costs, or a missing salt
    or hash make the password wrong.
    """
    from argon2 import Type
    from argon2.exceptions import HashingError
    from argon2.low_level import hash_secret_raw

    variant = {"argon2id": Type.ID, "argon2i": Type.I, "argon2d": Type.D}.get(parts[1])
    fields = parts[2:]
    version = 0x13
    if fields and fields[0].startswith("v="):
        if not fields[0][2:].isdigit():
            raise HashError(hashed)
        version = int(fields.pop(0)[2:])
    params = dict(_ARGON2_DEFAULTS)
    if fields and "=" in fields[0]:
        for pair in fields.pop(0).split(","):
            key, sep, value = pair.partition("=")
            if not (sep and key and value):
                raise HashError(hashed)
            if key not in params or not value.isdigit():
                return False
            params[key] = int(value)
    if len(fields) > 2:
        raise HashError(hashed)
    try:
        salt, expected = (_b64_nopad(field) for field in fields) if len(fields) == 2 else (b"", b"")
    except ValueError as exc:
        raise HashError(hashed) from exc
    if variant is None or version not in (0x10, 0x13) or not salt or not expected:
        return False
    try:
        computed = hash_secret_raw(
            secret.encode(),
            salt,
            time_cost=params["t"],
            memory_cost=params["m"],
            parallelism=params["p"],
            hash_len=len(expected),
            type=variant,
            version=version,
        )
    except HashingError:
        return False
    return hmac.compare_digest(computed, expected)


def _verify_phc(secret: str, hashed: str) -> bool:
    """PHC strings: $pbkdf2-sha256$, $pbkdf2-sha512$, $scrypt$, $argon2id|i|d$."""
    parts = hashed.split("$")
    if len(parts) < 4:
        raise HashError(hashed)
    algo = parts[1]
    try:
        if algo.startswith("pbkdf2"):
            # $pbkdf2-sha256$i=600000,l=32$salt$hash
            digest = {"pbkdf2": "sha1", "pbkdf2-sha256": "sha256", "pbkdf2-sha512": "sha512"}.get(algo)
            params = dict(kv.split("=", 1) for kv in parts[2].split(","))
            salt, expected = _b64_nopad(parts[3]), _b64_nopad(parts[4])
            if digest is None:
                raise HashError(hashed)
            got = hashlib.pbkdf2_hmac(digest, secret.encode(), salt, int(params["i"]), len(expected))
            return hmac.compare_digest(got, expected)
        if algo == "scrypt":
            params = dict(kv.split("=", 1) for kv in parts[2].split(","))
            salt, expected = _b64_nopad(parts[3]), _b64_nopad(parts[4])
            got = hashlib.scrypt(
                secret.encode(),
                salt=salt,
                n=1 << int(params["ln"]),
                r=int(params["r"]),
                p=int(params["p"]),
                maxmem=2**31 - 1,
                dklen=len(expected),
            )
            return hmac.compare_digest(got, expected)
        if algo.startswith("argon2"):
            return _verify_argon2(secret, hashed, parts)
    except (KeyError, ValueError, IndexError) as exc:
        raise HashError(hashed) from exc
    raise HashError(hashed)


def _verify_hash_prefix(hashed: str, secret: str) -> bool:
    if hashed.startswith(("$argon2", "$pbkdf2", "$scrypt")):
        return _verify_phc(secret, hashed)
    if hashed.startswith("$2"):
        return _verify_bcrypt(secret, hashed)
    if hashed.startswith("$6$"):
        return _passlib_verify(sha512_crypt, secret, hashed)
    if hashed.startswith("$5$"):
        return _passlib_verify(sha256_crypt, secret, hashed)
    if hashed.startswith("$sha1"):
        return _passlib_verify(sha1_crypt, secret, hashed)
    if hashed.startswith("$1"):
        return _passlib_verify(md5_crypt, secret, hashed)
    raise HashError(hashed)


def _digest_b64(algo: str, secret: str) -> str:
    return base64.b64encode(hashlib.new(algo, secret.encode()).digest()).decode()


def _salted(algo: str, size: int, secret: str, hashed: str) -> bool:
    decoded = _b64decode_lenient(hashed)
    digest, salt = decoded[:size], decoded[size:]
    return hashlib.new(algo, secret.encode() + salt).digest() == digest


@lru_cache(maxsize=4096)
def verify_secret_hash(hashed: str, secret: str) -> bool:
    """Check ``secret`` against one stored password entry (``verify_secret_hash``)."""
    if hashed.startswith("$"):
        return _verify_hash_prefix(hashed, secret)
    if hashed.startswith("_"):
        return _passlib_verify(bsdi_crypt, secret, hashed)
    if hashed.startswith("{"):
        algo, sep, rest = hashed[1:].partition("}")
        if not sep:
            raise HashError(hashed)
        if algo in ("ARGON2", "ARGON2I", "ARGON2ID", "PBKDF2"):
            return _verify_hash_prefix(rest, secret)
        if algo == "SHA":
            return _digest_b64("sha1", secret) == rest
        if algo == "SSHA":
            return _salted("sha1", 20, secret, rest)
        if algo == "SHA256":
            return _digest_b64("sha256", secret) == rest
        if algo == "SSHA256":
            return _salted("sha256", 32, secret, rest)
        if algo == "SHA512":
            return _digest_b64("sha512", secret) == rest
        if algo == "SSHA512":
            return _salted("sha512", 64, secret, rest)
        if algo == "MD5":
            return _digest_b64("md5", secret) == rest
        if algo in ("CRYPT", "crypt"):
            if rest.startswith("$"):
                return _verify_hash_prefix(rest, secret)
            return _passlib_verify(des_crypt, secret, rest)
        if algo in ("PLAIN", "plain", "CLEAR", "clear"):
            return rest == secret
        raise HashError(hashed)
    if hashed:
        return hashed == secret
    return False


def _totp_check(url: str, code: str, now: int) -> bool:
    try:
        totp = pyotp.parse_uri(url)
    except Exception as exc:  # malformed URL: the server fails the login
        raise HashError(url) from exc
    if not isinstance(totp, pyotp.TOTP):
        raise HashError(url)
    try:
        return totp.verify(code, for_time=now, valid_window=1)
    except Exception:
        return False


def verify_secret(secrets: list[str], code: str, now: int) -> bool:
    """Check a login secret against a principal's ``secrets`` (``Principal::verify_secret``).

    Raises :class:`MissingTotp` when the password is right but TOTP is required and no code was
    given, and :class:`HashError` for an unsupported hash.
    """
    totp_token = None
    token_missing = totp_required = totp_verified = False
    authenticated = app_authenticated = False
    for secret in secrets:
        if secret.startswith("otpauth://"):
            if not totp_verified and not token_missing:
                totp_required = True
                if totp_token is None:
                    head, sep, tail = code.rpartition("$")
                    if sep and head and 6 <= len(tail) <= 8 and tail.isascii() and tail.isdigit():
                        totp_token = tail
                        code = head
                    else:
                        token_missing = True
                        continue
                totp_verified = _totp_check(secret, totp_token, now)
        elif not authenticated and not app_authenticated:
            if secret.startswith("$app$") and "$" in secret[5:]:
                app_secret = secret[5:].split("$", 1)[1]
                app_authenticated = verify_secret_hash(app_secret, code)
            else:
                authenticated = verify_secret_hash(secret, code)
    if authenticated:
        if not totp_required:
            return True
        if token_missing:
            raise MissingTotp()
        return totp_verified
    if app_authenticated:
        return True
    if totp_verified:
        for secret in secrets:
            if not secret.startswith(("otpauth://", "$app$")) and verify_secret_hash(secret, code):
                return True
    return False


def sha512_crypt_hash(password: str, salt: str = "sandboxsalt00000") -> str:
    """sha512-crypt with a fixed salt (deterministic seeds)."""
    return sha512_crypt.using(salt=salt[:16], rounds=5000).hash(password)
