"""A BIND zone-file snippet from the records Stalwart suggests for a domain.

Only records inside the domain's zone are written, with names relative to it (`@` for the
apex) and columns aligned. TXT values are split into quoted strings of at most 255 bytes, the
limit of one DNS character-string; long ones continue on the next lines in parentheses.
Everything comes from Stalwart and is escaped for the zone-file syntax, so a hostile value
cannot end a string, start a comment or add a record.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext, ngettext

from portal.stalwart.types import DnsRecord

TXT_CHUNK = 255

# Characters a name may hold as they are; others are written as \DDD.
_NAME_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_*")


def origin(domain: str) -> str:
    return domain.rstrip(".") + "."


def relative_name(name: str, domain: str) -> str | None:
    """`x.example.org.` -> `x`, `example.org.` -> `@`; None when outside the zone."""
    zone = origin(domain).lower()
    lowered = name.lower()
    if not lowered.endswith("."):
        lowered += "."
        name += "."
    if lowered == zone:
        return "@"
    if lowered.endswith("." + zone):
        return name[: -(len(zone) + 1)]
    return None


def in_zone(records: Iterable[DnsRecord], domain: str) -> tuple[list[DnsRecord], list[DnsRecord]]:
    """(records inside the zone, records elsewhere)."""
    inside: list[DnsRecord] = []
    outside: list[DnsRecord] = []
    for record in records:
        (inside if relative_name(record.name, domain) is not None else outside).append(record)
    return inside, outside


def _escape_byte(byte: int) -> str:
    return f"\\{byte:03d}"


def escape_name(name: str) -> str:
    """Escape each label; dots stay separators."""
    if name == "@":
        return name
    labels = []
    for label in name.split("."):
        labels.append(
            "".join(ch if ch in _NAME_SAFE else "".join(_escape_byte(b) for b in ch.encode()) for ch in label)
        )
    return ".".join(labels)


def txt_chunks(value: str, limit: int = TXT_CHUNK) -> list[bytes]:
    """Split into pieces of at most `limit` bytes without cutting a UTF-8 character."""
    data = value.encode("utf-8")
    chunks = []
    while len(data) > limit:
        cut = limit
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # do not start the next piece mid-character
            cut -= 1
        chunks.append(data[:cut])
        data = data[cut:]
    chunks.append(data)
    return chunks


def quote_chunk(chunk: bytes) -> str:
    out = ['"']
    for byte in chunk:
        if byte in (0x22, 0x5C):  # " and backslash
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(_escape_byte(byte))
    out.append('"')
    return "".join(out)


def escape_content(value: str) -> str:
    """Unquoted record data (MX, SRV, CNAME, TLSA...): keep spaces, escape what zone syntax means."""
    out = []
    for byte in value.encode("utf-8"):
        if byte in b';"()\\':
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(_escape_byte(byte))
    return "".join(out)


def content_lines(record: DnsRecord) -> list[str]:
    """The data part of a record, one entry per output line."""
    if record.type.upper() != "TXT":
        return [escape_content(record.content)]
    quoted = [quote_chunk(chunk) for chunk in txt_chunks(record.content)]
    if len(quoted) == 1:
        return quoted
    return ["( " + quoted[0], *("  " + piece for piece in quoted[1:-1]), "  " + quoted[-1] + " )"]


def zone_snippet(domain: str, records: Iterable[DnsRecord]) -> str:
    inside, outside = in_zone(records, domain)
    lines = [
        "; " + gettext("DNS records for %(origin)s suggested by Stalwart") % {"origin": escape_name(origin(domain))},
        f"$ORIGIN {escape_name(origin(domain))}",
    ]
    rows = []
    for record in inside:
        name = escape_name(relative_name(record.name, domain) or "@")
        rows.append((name, escape_content(record.type), content_lines(record)))
    name_width = max((len(name) for name, _, _ in rows), default=1)
    type_width = max((len(typ) for _, typ, _ in rows), default=1)
    for name, typ, data in rows:
        prefix = f"{name.ljust(name_width)}  IN  {typ.ljust(type_width)}  "
        lines.append(prefix + data[0])
        lines.extend(" " * len(prefix) + more for more in data[1:])
    if outside:
        lines.append(
            "; "
            + ngettext(
                "%(count)s more record belongs to another zone; see the table.",
                "%(count)s more records belong to other zones; see the table.",
                len(outside),
            )
            % {"count": len(outside)}
        )
    return "\n".join(lines) + "\n"
