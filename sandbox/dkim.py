"""``/api/dkim`` and ``/api/dns`` (spec §11, §18 item 6).

Everything lives in the settings, as on the server: a DKIM key is the group of keys
``signature.<id>.*``, listeners are ``server.listener.<id>.*``, certificates are
``certificate.<id>.*`` and the MTA-STS policy comes from ``session.mta-sts.*``. The settings
dict is part of every snapshot, so :meth:`Sandbox.reset` restores the seeded keys and drops the
ones tests created; this module keeps no other state.

Keys created through the API are random, like the server's. Seeded keys and the seeded
certificate are derived from fixed seeds, so every sandbox (and every demo) publishes the same
records.

Differences from the server, none visible to a client: ``%{...}`` macros in signature settings
are not expanded, the MTA-STS policy id is a stable number derived from the policy (the server
uses Rust's ``DefaultHasher``), and certificates are read from the settings when the records are
built instead of at (re)load time.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import math

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import NameOID

from .errors import ManagementError, ProblemError
from .http import data_response, decode_path_element
from .routing import api_module, path_element
from .serde import Field, SerdeError, deserialize_struct

DEFAULT_HOSTNAME = "mail.example.org"

#: wire name -> (id prefix, ``signature.<id>.algorithm`` value, PEM label, selector suffix)
ALGORITHMS = {
    "Rsa": ("rsa", "rsa-sha256", "RSA PRIVATE KEY", "r"),
    "Ed25519": ("ed25519", "ed25519-sha256", "PRIVATE KEY", "e"),
}

#: ``struct DkimSignature`` of the server, for the serde error messages.
_REQUEST_FIELDS = [
    Field("id", "option"),
    Field("algorithm", "enum", "Algorithm", ("Rsa", "Ed25519")),
    Field("domain"),
    Field("selector", "option"),
]

_SIGNATURE_HEADERS = ("From", "To", "Date", "Subject", "Message-ID")


# --------------------------------------------------------------------------- keys
def _pem(label: str, der: bytes) -> str:
    """PEM the way the server writes DKIM keys: base64 in lines of 65 characters."""
    encoded = base64.b64encode(der).decode("ascii")
    lines = [encoded[i : i + 65] for i in range(0, len(encoded), 65)]
    return f"-----BEGIN {label}-----\n" + "".join(line + "\n" for line in lines) + f"-----END {label}-----\n"


def _stream(seed: bytes):
    counter = 0
    while True:
        yield hashlib.sha512(seed + counter.to_bytes(8, "big")).digest()
        counter += 1


def _random_int(stream, bits: int) -> int:
    data = b""
    while len(data) * 8 < bits:
        data += next(stream)
    return int.from_bytes(data[: bits // 8], "big")


_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % q for q in range(2, math.isqrt(p) + 1))]
_SMALL_PRODUCT = math.prod(_SMALL_PRIMES)


def _probable_prime(candidate: int, stream) -> bool:
    d, s = candidate - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(24):
        witness = 2 + _random_int(stream, 1024) % (candidate - 3)
        x = pow(witness, d, candidate)
        if x in (1, candidate - 1):
            continue
        for _ in range(s - 1):
            x = x * x % candidate
            if x == candidate - 1:
                break
        else:
            return False
    return True


def _prime(stream, bits: int, exponent: int) -> int:
    while True:
        candidate = _random_int(stream, bits) | (3 << (bits - 2)) | 1
        if math.gcd(candidate, _SMALL_PRODUCT) != 1 or math.gcd(exponent, candidate - 1) != 1:
            continue
        if _probable_prime(candidate, stream):
            return candidate


def _deterministic_rsa(seed: bytes) -> rsa.RSAPrivateKey:
    """An RSA-2048 key that depends only on ``seed`` (for the seeded demo keys)."""
    exponent = 65537
    stream = _stream(b"sandbox-rsa:" + seed)
    p = _prime(stream, 1024, exponent)
    q = _prime(stream, 1024, exponent)
    while q == p:  # pragma: no cover - astronomically unlikely
        q = _prime(stream, 1024, exponent)
    d = pow(exponent, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(exponent, p * q),
    )
    return numbers.private_key()


def _ed25519(seed: bytes | None) -> ed25519.Ed25519PrivateKey:
    if seed is None:
        return ed25519.Ed25519PrivateKey.generate()
    return ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"sandbox-ed25519:" + seed).digest())


@functools.lru_cache(maxsize=32)
def _seeded_private_key(algorithm: str, seed: bytes) -> str:
    return new_private_key(algorithm, seed)


def new_private_key(algorithm: str, seed: bytes | None = None) -> str:
    """A DKIM private key in the server's PEM format (PKCS#1 for RSA, PKCS#8 for Ed25519)."""
    label = ALGORITHMS[algorithm][2]
    if algorithm == "Rsa":
        key = _deterministic_rsa(seed) if seed is not None else rsa.generate_private_key(65537, 2048)
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    else:
        der = _ed25519(seed).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    return _pem(label, der)


def _simple_pem_parse(contents: str) -> bytes | None:
    """The server's lenient PEM reader: skip ``-----`` lines, keep base64 up to the next ``-``."""
    chars = iter(contents)
    collected: list[str] = []
    for ch in chars:
        if ch.isspace():
            continue
        if ch == "-":
            for rest in chars:
                if rest == "\n":
                    break
        else:
            collected.append(ch)
        done = False
        for rest in chars:
            if rest == "-":
                done = True
                break
            if not rest.isspace():
                collected.append(rest)
        if done:
            break
    try:
        return base64.b64decode("".join(collected), validate=True)
    except (binascii.Error, ValueError):
        return None


def parse_algorithm(value: str | None) -> str | None:
    """``signature.<id>.algorithm`` -> "Rsa" / "Ed25519" (the part before the first ``-``)."""
    if not value or "-" not in value:
        return None
    return {"rsa": "Rsa", "ed25519": "Ed25519"}.get(value.split("-", 1)[0])


@functools.lru_cache(maxsize=256)
def public_key(algorithm: str, private_pem: str) -> str:
    """Base64 of the SubjectPublicKeyInfo DER (RSA) or of the raw 32 bytes (Ed25519)."""
    der = _simple_pem_parse(private_pem)
    if der is None:
        raise ManagementError.other("Failed to decode private key", None)
    if algorithm == "Rsa":
        try:
            key = serialization.load_der_private_key(der, password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError("not an RSA key")
        except (ValueError, TypeError) as exc:
            raise ManagementError.other("Failed to read RSA DER", str(exc) or "invalid key") from None
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(spki).decode("ascii")
    try:
        key = serialization.load_der_private_key(der, password=None)
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ValueError("not an Ed25519 key")
    except (ValueError, TypeError) as exc:
        raise ManagementError.other("Crypto error", str(exc) or "invalid key") from None
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def store_signature(sb, signature_id: str, algorithm: str, domain: str, selector: str, private_pem: str) -> None:
    """Write the settings ``POST /api/dkim`` writes."""
    prefix = f"signature.{signature_id}."
    sb.settings.update(
        {
            prefix + "private-key": private_pem,
            prefix + "domain": domain,
            prefix + "selector": selector,
            prefix + "algorithm": ALGORITHMS[algorithm][1],
            prefix + "canonicalization": "relaxed/relaxed",
            **{f"{prefix}headers.{i}": header for i, header in enumerate(_SIGNATURE_HEADERS)},
            prefix + "report": "false",
        }
    )


def default_selector(sb, algorithm: str) -> str:
    """``YYYYMM`` of the sandbox clock (UTC) followed by ``r`` or ``e``."""
    now = dt.datetime.fromtimestamp(sb.now(), dt.UTC)
    return f"{now.year:04}{now.month:02}{ALGORITHMS[algorithm][3]}"


# --------------------------------------------------------------------------- /api/dkim
@api_module("dkim")
def handle_dkim(sb, req):
    access = req.access
    if req.method == "GET":
        access.require("dkim-signature-get")
        element = path_element(req, 1)
        if element is None:
            raise ProblemError.not_found()
        signature_id = decode_path_element(element)
        pem = sb.settings.get(f"signature.{signature_id}.private-key")
        algorithm = parse_algorithm(sb.settings.get(f"signature.{signature_id}.algorithm"))
        if pem is None or algorithm is None:
            raise ProblemError.not_found()
        return data_response(public_key(algorithm, pem))
    if req.method == "POST":
        access.require("dkim-signature-create")
        return _create(sb, req)
    raise ProblemError.not_found()


def _create(sb, req):
    try:
        request = deserialize_struct(req.body, "DkimSignature", _REQUEST_FIELDS)
    except SerdeError as exc:
        raise ProblemError.bad_parameters(str(exc)) from None
    algorithm = request["algorithm"]
    domain = request["domain"]
    signature_id = request["id"] if request["id"] is not None else f"{ALGORITHMS[algorithm][0]}-{domain}"
    selector = request["selector"] if request["selector"] is not None else default_selector(sb, algorithm)
    key = f"signature.{signature_id}.private-key"
    if key in sb.settings:
        # Yes: the server echoes the stored private key (spec §11, §20).
        raise ManagementError.field_already_exists(key, sb.settings[key])
    store_signature(sb, signature_id, algorithm, domain, selector, new_private_key(algorithm))
    return data_response(None)


# --------------------------------------------------------------------------- /api/dns
@api_module("dns")
def handle_dns(sb, req):
    domain_element = path_element(req, 2)
    if path_element(req, 1) != "records" or domain_element is None or req.method != "GET":
        raise ProblemError.not_found()
    req.access.require("domain-get")
    return data_response(dns_records(sb, decode_path_element(domain_element)))


def server_hostname(sb) -> str:
    return sb.settings.get("server.hostname") or sb.settings.get("lookup.default.hostname") or DEFAULT_HOSTNAME


def _record(typ: str, name: str, content: str) -> dict:
    return {"type": typ, "name": name, "content": content}


def _listeners(sb) -> list[tuple[str, int, bool]]:
    """``get_services``: (protocol, port, implicit TLS) sorted by protocol, TLS first, port."""
    prefix = "server.listener."
    ids = {
        key[len(prefix) : -len(".protocol")]
        for key in sb.settings
        if key.startswith(prefix) and key.endswith(".protocol")
    }
    services = []
    for listener in ids:
        base = f"{prefix}{listener}."
        bind = sb.settings.get(base + "bind")
        if bind is None:
            bind = next((v for k, v in sorted(sb.settings.items()) if k.startswith(base + "bind.")), None)
        port = 0
        if bind and ":" in bind:
            text = bind.rsplit(":", 1)[1]
            if text.isdigit() and int(text) <= 65535:
                port = int(text)
        if port > 0:
            tls = sb.settings.get(base + "tls.implicit") == "true"
            services.append((sb.settings.get(base + "protocol", ""), port, tls))
    services.sort(key=lambda s: (s[0], not s[2], s[1]))
    return services


def _certificates(sb) -> dict[str, list[bytes]]:
    """Loaded certificates by name (CN, SANs and ``subjects``; ``*.`` stripped; ``*`` = default)."""
    loaded: dict[str, list[bytes]] = {}
    ids = sorted(
        {
            k[len("certificate.") : -len(".cert")]
            for k in sb.settings
            if k.startswith("certificate.") and k.endswith(".cert")
        }
    )
    for cert_id in ids:
        base = f"certificate.{cert_id}."
        if base + "private-key" not in sb.settings:
            continue
        try:
            chain = x509.load_pem_x509_certificates(sb.settings[base + "cert"].encode())
        except ValueError:
            continue
        leaf = chain[0]
        names = {
            attr.value
            for attr in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            if isinstance(attr.value, str)
        }
        try:
            san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names.update(san.get_values_for_type(x509.DNSName))
            names.update(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
        except x509.ExtensionNotFound:
            pass
        names.update(
            v.strip() for k, v in sb.settings.items() if k == base + "subjects" or k.startswith(base + "subjects.")
        )
        ders = [cert.public_bytes(serialization.Encoding.DER) for cert in chain]
        for name in names:
            loaded[name[2:] if name.startswith("*.") else name] = ders
        if sb.settings.get(base + "default") == "true":
            loaded["*"] = ders
    return loaded


_SKIPPED_CERT_PREFIXES = ("mta-sts.", "autoconfig.", "autodiscover.")


def _duration(value: str) -> int | None:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for unit in sorted(units, key=len, reverse=True):
        if value.endswith(unit) and value[: -len(unit)].strip().isdigit():
            return int(int(value[: -len(unit)].strip()) * units[unit])
    return int(value) // 1000 if value.isdigit() else None


def _mta_sts_policy_id(sb, certificates: dict[str, list[bytes]]) -> str | None:
    mode = sb.settings.get("session.mta-sts.mode", "testing")
    mode = {"test": "testing"}.get(mode, mode)
    if mode not in ("enforce", "testing"):
        return None  # "none", or a value the server would refuse
    max_age = _duration(sb.settings.get("session.mta-sts.max-age", "7d"))
    if max_age is None:
        max_age = 604800
    mx = sorted(v for k, v in sb.settings.items() if k == "session.mta-sts.mx" or k.startswith("session.mta-sts.mx."))
    if not mx:
        for name in certificates:
            if name.startswith(_SKIPPED_CERT_PREFIXES):
                continue
            if name.startswith("."):
                mx.append("*" + name)
            elif name not in ("*", ""):
                mx.append(name)
        mx.sort()
    if not mx:
        return None
    digest = hashlib.sha256("\n".join([mode, str(max_age), *mx]).encode()).digest()
    return str(int.from_bytes(digest[:8], "big"))


def dns_records(sb, domain: str) -> list[dict]:
    """``build_dns_records``: the records the server suggests for ``domain`` (not checked)."""
    host = server_hostname(sb)
    records = [_record("MX", f"{domain}.", f"10 {host}.")]
    if host != f"mail.{domain}":
        records.append(_record("CNAME", f"mail.{domain}.", f"{host}."))

    # DKIM: every signature.<id>.domain equal to the domain, in key order.
    prefix = "signature."
    for key in sorted(k for k in sb.settings if k.startswith(prefix) and k.endswith(".domain")):
        if sb.settings[key] != domain:
            continue
        signature_id = key[len(prefix) : -len(".domain")]
        base = f"{prefix}{signature_id}."
        algorithm = parse_algorithm(sb.settings.get(base + "algorithm"))
        pem = sb.settings.get(base + "private-key")
        selector = sb.settings.get(base + "selector")
        if algorithm is None or pem is None or selector is None:
            continue
        try:
            public = public_key(algorithm, pem)
        except ManagementError:
            continue  # the server logs the error and leaves the record out
        k = "rsa" if algorithm == "Rsa" else "ed25519"
        records.append(_record("TXT", f"{selector}._domainkey.{domain}.", f"v=DKIM1; k={k}; h=sha256; p={public}"))

    if host.endswith(f".{domain}") or host == domain:
        records.append(_record("TXT", f"{host}.", "v=spf1 a ra=postmaster -all"))
    records.append(_record("TXT", f"{domain}.", "v=spf1 mx ra=postmaster -all"))

    has_https = False
    for protocol, port, tls in _listeners(sb):
        suffix = "s" if tls else ""
        if protocol == "smtp" and port >= 26:
            records.append(_record("SRV", f"_submission{suffix}._tcp.{domain}.", f"0 1 {port} {host}."))
        elif protocol in ("imap", "pop3"):
            records.append(_record("SRV", f"_{protocol}{suffix}._tcp.{domain}.", f"0 1 {port} {host}."))
        elif protocol == "http" and tls:
            has_https = True
            services = ("jmap", "caldavs", "carddavs") if sb.at_least((0, 12)) else ("jmap",)
            for service in services:
                records.append(_record("SRV", f"_{service}._tcp.{domain}.", f"0 1 {port} {host}."))

    certificates = _certificates(sb)
    if has_https:
        records.append(_record("CNAME", f"autoconfig.{domain}.", f"{host}."))
        records.append(_record("CNAME", f"autodiscover.{domain}.", f"{host}."))
        policy_id = _mta_sts_policy_id(sb, certificates)
        if policy_id is not None:
            records.append(_record("CNAME", f"mta-sts.{domain}.", f"{host}."))
            records.append(_record("TXT", f"_mta-sts.{domain}.", f"v=STSv1; id={policy_id}"))

    records.append(
        _record(
            "TXT",
            f"_dmarc.{domain}.",
            f"v=DMARC1; p=reject; rua=mailto:postmaster@{domain}; ruf=mailto:postmaster@{domain}",
        )
    )
    records.append(_record("TXT", f"_smtp._tls.{domain}.", f"v=TLSRPTv1; rua=mailto:postmaster@{domain}"))

    # TLSA: a plain suffix test, as on the server ("mail.example.org" ends with "le.org").
    for name in sorted(certificates):
        if not name.endswith(domain) or name.startswith(_SKIPPED_CERT_PREFIXES):
            continue
        # A wildcard certificate is stored as ".example.org"; the server's format string then
        # yields "_25._tcp.mail..example.org." (sic).
        tlsa_name = f"_25._tcp.{name}." if not name.startswith(".") else f"_25._tcp.mail.{name}."
        for number, der in enumerate(certificates[name]):
            usage = 3 if number == 0 else 2
            cert = x509.load_der_x509_certificate(der)
            spki = cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            for selector, data in enumerate((der, spki)):
                for matching, digest in enumerate((hashlib.sha256(data), hashlib.sha512(data)), start=1):
                    records.append(_record("TLSA", tlsa_name, f"{usage} {selector} {matching} {digest.hexdigest()}"))
    return records


# --------------------------------------------------------------------------- seed
#: Listeners of a default installation (the server's stock configuration).
DEFAULT_LISTENERS = {
    "smtp": ("smtp", "[::]:25", False),
    "submission": ("smtp", "[::]:587", False),
    "submissions": ("smtp", "[::]:465", True),
    "imap": ("imap", "[::]:143", False),
    "imaptls": ("imap", "[::]:993", True),
    "pop3": ("pop3", "[::]:110", False),
    "pop3s": ("pop3", "[::]:995", True),
    "sieve": ("managesieve", "[::]:4190", False),
    "https": ("http", "[::]:443", True),
    "http": ("http", "[::]:8080", False),
}

#: Seeded DKIM keys of the demo domains: (domain, algorithm, selector). example.net has none.
DEMO_KEYS = (
    ("example.org", "Ed25519", "202504e"),
    ("example.org", "Rsa", "202504r"),
    ("example.com", "Ed25519", "202504e"),
    ("example.com", "Rsa", "202504r"),
    ("acme.org", "Ed25519", "202506e"),
)


@functools.lru_cache(maxsize=4)
def _certificate(hostname: str) -> tuple[str, str]:
    """A self-signed Ed25519 certificate for ``hostname`` that depends only on the name."""
    key = _ed25519(b"certificate:" + hostname.encode())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(hashlib.sha256(hostname.encode()).digest()[:8], "big"))
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2035, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, None)
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def seed(sb) -> None:
    """Listeners for every seed; for the demo also a certificate and the DKIM keys of its domains."""
    for listener, (protocol, bind, tls) in DEFAULT_LISTENERS.items():
        base = f"server.listener.{listener}."
        if base + "protocol" in sb.settings:
            continue
        sb.settings[base + "protocol"] = protocol
        sb.settings[base + "bind"] = bind
        if tls:
            sb.settings[base + "tls.implicit"] = "true"
    if not sb.has_demo_data:
        return
    host = server_hostname(sb)
    if not any(k.startswith("certificate.") for k in sb.settings):
        cert_pem, key_pem = _certificate(host)
        sb.settings["certificate.default.cert"] = cert_pem
        sb.settings["certificate.default.private-key"] = key_pem
        sb.settings["certificate.default.default"] = "true"
    for domain, algorithm, selector in DEMO_KEYS:
        if domain not in sb.by_name:
            continue
        signature_id = f"{ALGORITHMS[algorithm][0]}-{domain}"
        pem = _seeded_private_key(algorithm, f"{signature_id}/{selector}".encode())
        store_signature(sb, signature_id, algorithm, domain, selector, pem)
