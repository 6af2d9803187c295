"""``/api/account/*``: the caller's own secrets and encryption at rest (spec §6).

* ``GET /api/account/auth`` lists whether TOTP is on and the app password names;
* ``POST /api/account/auth`` applies a list of ``setPassword`` / ``enableOtpAuth`` /
  ``disableOtpAuth`` / ``addAppPassword`` / ``removeAppPassword`` requests as one update;
* ``GET``/``POST /api/account/crypto`` read and set encryption at rest (PGP or S/MIME).

Certificates are checked the way the server parses them (PEM blocks tagged ``CERTIFICATE``,
armored ``PGP`` blocks, or the server's own ``-----STALWART CERTIFICATE-----`` export). S/MIME
certificates are parsed as X.509 and must hold an RSA key (the server encrypts the message key
with RSA); OpenPGP keys are read packet by packet and need a key whose algorithm can encrypt.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from typing import Any

from . import directory
from .auth import FALLBACK_ADMIN_ID
from .directory import PV, Change
from .errors import ManagementError, ProblemError
from .http import data_response
from .routing import api_module, path_element

# --------------------------------------------------------------------------- routing


@api_module("account")
def handle_account(sb, req):
    """Route first, then permission (spec §1.7)."""
    access = req.access
    sub = path_element(req, 1) or ""
    if sub == "crypto" and req.method == "POST":
        access.require("manage-encryption")
        return _crypto_post(sb, req, access)
    if sub == "crypto" and req.method == "GET":
        access.require("manage-encryption")
        return _crypto_get(sb, access)
    if sub == "auth" and req.method == "GET":
        access.require("manage-passwords")
        return _auth_get(sb, access)
    if sub == "auth" and req.method == "POST":
        access.require("manage-passwords")
        return _auth_post(sb, req, access)
    raise ProblemError.not_found()


# --------------------------------------------------------------------------- /api/account/auth


def _auth_get(sb, access):
    otp_enabled = False
    app_passwords: list[str] = []
    if access.account_id != FALLBACK_ADMIN_ID:
        p = sb.get_by_id(access.account_id)
        if p is None:
            raise ManagementError.not_found("")
        for secret in p.secrets:
            if secret.startswith("otpauth://"):
                otp_enabled = True
            elif secret.startswith("$app$") and "$" in secret[5:]:
                app_passwords.append(secret[5:].split("$", 1)[0])
    return data_response({"otpEnabled": otp_enabled, "appPasswords": app_passwords})


#: request type -> (required string fields, optional string fields)
_AUTH_REQUESTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "setPassword": (("password",), ()),
    "enableOtpAuth": (("url",), ()),
    "disableOtpAuth": ((), ("url",)),
    "addAppPassword": (("name", "password"), ()),
    "removeAppPassword": ((), ("name",)),
}
_NEEDS_BASIC = ("setPassword", "enableOtpAuth", "disableOtpAuth")

_DIRECTORY_CLASSES = {
    "ldap": "LDAP",
    "sql": "SQL",
    "imap": "IMAP",
    "smtp": "SMTP",
    "memory": "In-Memory",
    "oidc": "OpenID",
}


def _parse_auth_requests(body: Any) -> list[dict]:
    """Deserialize ``Vec<AccountAuthRequest>``; anything serde would reject is PP 400."""
    if type(body) is not list:
        raise ProblemError.json_failed()
    requests = []
    for item in body:
        if type(item) is not dict or item.get("type") not in _AUTH_REQUESTS:
            raise ProblemError.json_failed()
        required, optional = _AUTH_REQUESTS[item["type"]]
        parsed = {"type": item["type"]}
        for name in required:
            if type(item.get(name)) is not str:
                raise ProblemError.json_failed()
            parsed[name] = item[name]
        for name in optional:
            value = item.get(name)
            if value is not None and type(value) is not str:
                raise ProblemError.json_failed()
            parsed[name] = value
        requests.append(parsed)
    return requests


def _assert_internal_directory(sb) -> None:
    """ME unsupported unless the configured directory is the internal one."""
    directory_id = sb.settings.get("storage.directory", "internal")
    kind = sb.settings.get(f"directory.{directory_id}.type", "internal" if directory_id == "internal" else "")
    if kind.lower() == "internal":
        return
    name = _DIRECTORY_CLASSES.get(kind.lower(), kind or directory_id)
    raise ManagementError.unsupported(
        f"{name} directory cannot be managed. Only internal directories support inserts and update operations."
    )


def _auth_post(sb, req, access):
    requests = _parse_auth_requests(req.json_body())
    if not requests:
        raise ProblemError.bad_parameters("Empty request")

    if any(r["type"] in _NEEDS_BASIC for r in requests):
        header = req.header("authorization") or ""
        if not header.lower().startswith("basic "):
            raise ManagementError.other("Password changes only allowed using Basic auth", None)

    if access.account_id == FALLBACK_ADMIN_ID:
        # Only the first request is looked at.
        first = requests[0]
        if first["type"] == "setPassword":
            sb.settings["authentication.fallback-admin.secret"] = first["password"]
            return data_response(None)
        raise ManagementError.other("Fallback administrator accounts do not support 2FA or AppPasswords", None)

    _assert_internal_directory(sb)

    changes: list[Change] = []
    for r in requests:
        match r["type"]:
            case "setPassword":
                # Every plain password goes, then the new one is added (verbatim: clients hash).
                changes.append(Change("removeItem", "secrets", PV("S", "")))
                changes.append(Change("addItem", "secrets", PV("S", r["password"])))
            case "enableOtpAuth":
                changes.append(Change("addItem", "secrets", PV("S", r["url"])))
            case "disableOtpAuth":
                changes.append(Change("removeItem", "secrets", PV("S", r["url"] or "otpauth://")))
            case "addAppPassword":
                changes.append(Change("addItem", "secrets", PV("S", f"$app${r['name']}${r['password']}")))
            case "removeAppPassword":
                changes.append(Change("removeItem", "secrets", PV("S", f"$app${r['name'] or ''}")))

    p = sb.get_by_id(access.account_id)
    if p is None:
        raise ManagementError.not_found("")
    # One atomic update: the directory works on a copy and installs it at the end.
    directory.update_principal(sb, p, changes, access.tenant_id, None)
    return data_response(None)


# --------------------------------------------------------------------------- /api/account/crypto

STATE_NAME = "account.crypto"
INTERNAL_PREFIX = "-----STALWART CERTIFICATE-----"
METHODS = {"pGP": "PGP", "sMIME": "SMIME"}
WIRE_TYPES = {"PGP": "pGP", "SMIME": "sMIME"}
ALGORITHMS = ("Aes128", "Aes256")


def _crypto_store(sb) -> dict[int, dict]:
    """account id -> {"method", "algo", "certs": [bytes]}; reset with the sandbox."""
    store = getattr(sb, "account_crypto", None)
    if store is None:
        store = sb.account_crypto = {}

        def snapshot() -> dict:
            return copy.deepcopy(sb.account_crypto)

        def restore(value: dict) -> None:
            sb.account_crypto = value

        sb.register_state(STATE_NAME, snapshot, restore)
    return store


def _crypto_get(sb, access):
    params = _crypto_store(sb).get(access.account_id)
    if params is None:
        return data_response({"type": "disabled"})
    data = {"type": WIRE_TYPES[params["method"]], "algo": params["algo"], "certs": export_params(params)}
    if sb.at_least((0, 15)):
        data["allow_spam_training"] = params.get("allow_spam_training", False)
    return data_response(data)


def _crypto_post(sb, req, access):
    request = parse_encryption_type(req.body, spam_training=sb.at_least((0, 15)))
    store = _crypto_store(sb)
    if request["type"] == "disabled":
        store.pop(access.account_id, None)
        return data_response(None)

    certs = request["certs"]
    if not certs.endswith("\n"):
        certs += "\n"

    if sb.settings.get("storage.encryption.enable", "true").strip().lower() == "false":
        raise ManagementError.unsupported("Encryption-at-rest has been disabled by the system administrator")

    method = METHODS[request["type"]]
    try:
        parsed = parse_certificates(method, certs)
        trial_encryption(method, parsed)
    except CertificateError as exc:
        raise ManagementError.other(str(exc), None) from None

    store[access.account_id] = {"method": method, "algo": request["algo"], "certs": parsed}
    if "allow_spam_training" in request:
        store[access.account_id]["allow_spam_training"] = request["allow_spam_training"]
    return data_response(len(parsed))


# --- the request body, with serde_json-like messages (the detail of the PP 400) ----------


def _describe(value: Any) -> str:
    """serde's ``Unexpected`` for a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, list):
        return "sequence"
    return "map"


def _position(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1)
    return f"at line {line} column {column}"


def _bad(message: str, text: str, index: int) -> ProblemError:
    return ProblemError.bad_parameters(f"{message} {_position(text, index)}")


def parse_encryption_type(body: bytes | None, spam_training: bool = False) -> dict:
    """Deserialize ``EncryptionType`` (``#[serde(tag = "type", rename_all = "camelCase")]``).

    ``spam_training``: v0.15+, where both variants also require ``allow_spam_training`` (bool).
    """
    try:
        text = (body or b"").decode("utf-8")
    except UnicodeDecodeError:
        raise ProblemError.bad_parameters("invalid unicode code point at line 1 column 1") from None
    start = len(text) - len(text.lstrip())
    if start == len(text):
        raise _bad("EOF while parsing a value", text, len(text))
    try:
        value, end = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text):
            raise _bad("EOF while parsing a value", text, len(text)) from None
        message = "expected value" if exc.msg == "Expecting value" else exc.msg[0].lower() + exc.msg[1:]
        raise _bad(message, text, exc.pos + 1) from None
    if text[end:].strip():
        trailing = end + (len(text[end:]) - len(text[end:].lstrip()))
        raise _bad("trailing characters", text, trailing + 1)
    if type(value) is not dict:
        raise _bad(f"invalid type: {_describe(value)}, expected internally tagged enum EncryptionType", text, end)
    if "type" not in value:
        raise _bad("missing field `type`", text, end)
    kind = value["type"]
    if type(kind) is not str:
        raise _bad(f"invalid type: {_describe(kind)}, expected variant identifier", text, end)
    if kind == "disabled":
        return {"type": "disabled"}
    if kind not in METHODS:
        raise _bad(f"unknown variant `{kind}`, expected one of `pGP`, `sMIME`, `disabled`", text, end)
    for field in ("algo", "certs", "allow_spam_training") if spam_training else ("algo", "certs"):
        if field not in value:
            raise _bad(f"missing field `{field}`", text, end)
    algo, certs = value["algo"], value["certs"]
    if type(algo) is not str:
        raise _bad(f"invalid type: {_describe(algo)}, expected variant identifier", text, end)
    if algo not in ALGORITHMS:
        raise _bad(f"unknown variant `{algo}`, expected `Aes128` or `Aes256`", text, end)
    if type(certs) is not str:
        raise _bad(f"invalid type: {_describe(certs)}, expected a string", text, end)
    if spam_training:
        allow = value["allow_spam_training"]
        if type(allow) is not bool:
            raise _bad(f"invalid type: {_describe(allow)}, expected a boolean", text, end)
        return {"type": kind, "algo": algo, "certs": certs, "allow_spam_training": allow}
    return {"type": kind, "algo": algo, "certs": certs}


# --- certificates ---------------------------------------------------------------------------


class CertificateError(Exception):
    """Certificates the server cannot use; the message becomes the ME ``details``."""


def export_params(params: dict) -> str:
    """What GET shows instead of the certificates: the stored parameters, base64 in 76-column lines."""
    inner = {
        "method": params["method"],
        "algo": params["algo"],
        "certs": [base64.b64encode(cert).decode("ascii") for cert in params["certs"]],
    }
    encoded = base64.b64encode(b"\x01" + json.dumps(inner).encode()).decode("ascii")
    lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
    return INTERNAL_PREFIX + "\r\n" + "\r\n".join(lines) + "\r\n"


def _import_params(text: str) -> tuple[str, list[bytes]]:
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise CertificateError("Failed to decode base64") from None
    try:
        if raw[:1] != b"\x01":
            raise ValueError("version")
        inner = json.loads(raw[1:])
        method = inner["method"]
        certs = [base64.b64decode(cert, validate=True) for cert in inner["certs"]]
        if method not in WIRE_TYPES:
            raise ValueError("method")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise CertificateError("Failed to deserialize internal certificate") from None
    return method, certs


def parse_certificates(expected_method: str, text: str) -> list[bytes]:
    """The certificates of ``text`` for ``expected_method`` ("PGP" or "SMIME")."""
    if text.startswith(INTERNAL_PREFIX):
        method, certs = _import_params(text[len(INTERNAL_PREFIX) :])
    else:
        found = _parse_pem(text)
        if found is None:
            raise CertificateError("Could not find any valid certificates")
        method, certs = found
    if method != expected_method:
        raise CertificateError("No valid certificates found for the selected encryption")
    return certs


def _parse_pem(text: str) -> tuple[str, list[bytes]] | None:
    """PEM/armored blocks: ``CERTIFICATE`` tags are S/MIME, ``PGP`` tags OpenPGP, others skipped.

    None when the text is not made of such blocks (anything but whitespace between them).
    """
    lines = text.splitlines()
    method: str | None = None
    certs: list[bytes] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        if not line.startswith("-"):
            return None
        start = i
        tag = line.strip("-").strip().upper()
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].strip().startswith("-"):
            body.append(lines[i])
            i += 1
        block = "\n".join(lines[start : i + 1]) + "\n"
        i += 1  # the END line
        if "CERTIFICATE" in tag:
            if method == "PGP":
                raise CertificateError("Cannot mix OpenPGP and S/MIME certificates")
            method = "SMIME"
            certs.append(_x509(body))
        elif "PGP" in tag:
            if method == "SMIME":
                raise CertificateError("Cannot mix OpenPGP and S/MIME certificates")
            method = "PGP"
            _openpgp(body)
            certs.append(block.encode())
    if method is None:
        return None
    return method, certs


def _b64(lines: list[str]) -> bytes:
    try:
        return base64.b64decode("".join("".join(lines).split()), validate=True)
    except (binascii.Error, ValueError):
        raise CertificateError("Failed to decode base64 certificate.") from None


def _x509(body: list[str]) -> bytes:
    der = _b64(body)
    from cryptography import x509

    try:
        x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise CertificateError(f"Failed to decode X509 certificate: {exc}") from None
    return der


# OpenPGP public-key algorithms that can encrypt: RSA, RSA encrypt-only, Elgamal, ECDH, X25519, X448.
_PGP_ENCRYPTING = {1, 2, 16, 18, 25, 26}
_PGP_KEY_TAGS = {5, 6}  # secret key, public key (a primary key)
_PGP_SUBKEY_TAGS = {7, 14}


def _openpgp(body: list[str]) -> None:
    """Check an armored OpenPGP key: a primary key packet and a key able to encrypt."""
    # Armor headers ("Version: ...") end at the first blank line; "=XXXX" is the CRC-24.
    lines = [line.strip() for line in body]
    if any(":" in line for line in lines) and "" in lines:
        lines = lines[lines.index("") + 1 :]
    lines = [line for line in lines if line and not (line.startswith("=") and len(line) == 5)]
    data = _b64(lines)
    try:
        packets = _pgp_packets(data)
    except ValueError as exc:
        raise CertificateError(f"Failed to decode OpenPGP public key: {exc}") from None
    if not packets or packets[0][0] not in _PGP_KEY_TAGS:
        raise CertificateError("Failed to decode OpenPGP public key: No keys found")
    for tag, packet in packets:
        if tag in _PGP_KEY_TAGS | _PGP_SUBKEY_TAGS and _pgp_algorithm(packet) in _PGP_ENCRYPTING:
            return
    raise CertificateError("Could not find any suitable keys in OpenPGP public key")


def _pgp_packets(data: bytes) -> list[tuple[int, bytes]]:
    packets = []
    i = 0
    while i < len(data):
        ctb = data[i]
        i += 1
        if not ctb & 0x80:
            raise ValueError("Malformed packet: invalid packet tag")
        if ctb & 0x40:  # new format
            tag = ctb & 0x3F
            if i >= len(data):
                raise ValueError("Malformed packet: truncated length")
            first = data[i]
            i += 1
            if first < 192:
                length = first
            elif first < 224:
                if i >= len(data):
                    raise ValueError("Malformed packet: truncated length")
                length = ((first - 192) << 8) + data[i] + 192
                i += 1
            elif first == 255:
                length = int.from_bytes(data[i : i + 4], "big")
                i += 4
            else:
                raise ValueError("Malformed packet: partial body length in a key")
        else:  # old format
            tag = (ctb >> 2) & 0x0F
            kind = ctb & 0x03
            if kind == 3:
                length = len(data) - i
            else:
                size = (1, 2, 4)[kind]
                length = int.from_bytes(data[i : i + size], "big")
                i += size
        if i + length > len(data):
            raise ValueError("Malformed packet: truncated packet")
        packets.append((tag, data[i : i + length]))
        i += length
    return packets


def _pgp_algorithm(packet: bytes) -> int | None:
    if not packet:
        return None
    version = packet[0]
    if version in (4, 5, 6) and len(packet) > 5:
        return packet[5]
    if version in (2, 3) and len(packet) > 7:
        return packet[7]
    return None


def trial_encryption(method: str, certs: list[bytes]) -> None:
    """The server encrypts a test message; S/MIME needs RSA keys for that."""
    if method != "SMIME":
        return
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    for der in certs:
        try:
            key = x509.load_der_x509_certificate(der).public_key()
        except ValueError as exc:
            raise CertificateError(f"Failed to parse certificate: {exc}") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise CertificateError("Failed to parse public key: the certificate does not hold an RSA key")
