"""Certificates for the encryption-at-rest tests, made on the fly (nothing secret is stored).

* `smime_bundle(n)`: n self-signed RSA certificates as concatenated PEM blocks;
* `pgp_key()`: an armored OpenPGP public key (RSA primary key, user id, RSA subkey);
* `pgp_signing_only_key()`: an armored key whose only key cannot encrypt (EdDSA);
* `ec_certificate()`: a PEM certificate with an EC key (S/MIME encryption needs RSA);
* `tls_server_certificate()`: a certificate and its key (PEM) for a TLS server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import datetime
import functools
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


@functools.cache
def _rsa_key(index: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(key, common_name: str, *extensions: x509.ExtensionType) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=isinstance(extension, x509.BasicConstraints))
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode("ascii")


@functools.cache
def smime_bundle(count: int = 3) -> str:
    return "".join(_certificate(_rsa_key(i), f"jane.doe{i}@example.org") for i in range(count))


@functools.cache
def ec_certificate() -> str:
    return _certificate(ec.generate_private_key(ec.SECP256R1()), "ec@example.org")


@functools.cache
def tls_server_certificate() -> tuple[str, str]:
    """Self-signed, so it is its own authority: trust the certificate to trust the server."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    certificate = _certificate(key, "localhost", names, x509.BasicConstraints(ca=True, path_length=None))
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate, private.decode("ascii")


# --- OpenPGP, built packet by packet (RFC 4880) ----------------------------------------------
def _packet(tag: int, body: bytes) -> bytes:
    length = len(body)
    if length < 192:
        header = bytes([length])
    elif length < 8384:
        length -= 192
        header = bytes([(length >> 8) + 192, length & 0xFF])
    else:
        header = b"\xff" + length.to_bytes(4, "big")
    return bytes([0xC0 | tag]) + header + body


def _mpi(value: int) -> bytes:
    return value.bit_length().to_bytes(2, "big") + value.to_bytes((value.bit_length() + 7) // 8, "big")


def _rsa_key_packet(tag: int, key: rsa.RSAPrivateKey) -> bytes:
    numbers = key.public_key().public_numbers()
    created = (1_700_000_000).to_bytes(4, "big")
    return _packet(tag, b"\x04" + created + b"\x01" + _mpi(numbers.n) + _mpi(numbers.e))


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def _armor(data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    checksum = base64.b64encode(_crc24(data).to_bytes(3, "big")).decode("ascii")
    return "\n".join(
        [
            "-----BEGIN PGP PUBLIC KEY BLOCK-----",
            "Comment: made by the portal's tests",
            "",
            *lines,
            "=" + checksum,
            "-----END PGP PUBLIC KEY BLOCK-----",
            "",
        ]
    )


@functools.cache
def pgp_key() -> str:
    data = (
        _rsa_key_packet(6, _rsa_key(10))
        + _packet(13, b"Jane Doe <jane.doe@example.org>")
        + _rsa_key_packet(14, _rsa_key(11))
    )
    return _armor(data)


@functools.cache
def pgp_signing_only_key() -> str:
    # Version 4, creation time, algorithm 22 (EdDSA), curve OID length + Ed25519 OID, a point.
    oid = bytes.fromhex("2b06010401da470f01")
    body = b"\x04" + (1_700_000_000).to_bytes(4, "big") + bytes([22, len(oid)]) + oid + _mpi(0x40 << 256 | 1)
    return _armor(_packet(6, body) + _packet(13, b"Signer <signer@example.org>"))
