"""Just enough RFC 5322 parsing for the spam filter and DMARC endpoints.

``parse_message`` returns the header fields and the body, or None when the text has no header
the server's parser (mail-parser) recognises; that is when Stalwart answers "Failed to parse
message." (spec §13, §14).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

#: Header names mail-parser knows (anything else is ``HeaderName::Other``).
KNOWN_HEADERS = {
    "subject",
    "from",
    "to",
    "cc",
    "date",
    "bcc",
    "reply-to",
    "sender",
    "comments",
    "in-reply-to",
    "keywords",
    "received",
    "message-id",
    "references",
    "return-path",
    "mime-version",
    "content-description",
    "content-id",
    "content-language",
    "content-location",
    "content-transfer-encoding",
    "content-type",
    "content-disposition",
    "resent-to",
    "resent-from",
    "resent-bcc",
    "resent-cc",
    "resent-sender",
    "resent-date",
    "resent-message-id",
    "list-archive",
    "list-help",
    "list-id",
    "list-owner",
    "list-post",
    "list-subscribe",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "arc-authentication-results",
    "arc-message-signature",
    "arc-seal",
    "dkim-signature",
}
_FIELD = re.compile(r"^([!-9;-~]+)[ \t]*:(.*)$")
_ADDRESS = re.compile(r"<([^<>]*)>|([^\s<>,;\"]+@[^\s<>,;\"]+)")


@dataclass(frozen=True)
class Message:
    headers: list[tuple[str, str]]  # (lowercased name, unfolded value)
    body: str

    def get(self, name: str) -> str | None:
        """The last value of a header (the one a reader sees), or None."""
        values = self.get_all(name)
        return values[-1] if values else None

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    def address(self, name: str) -> str:
        """The first address in a header, lowercased, or ""."""
        value = self.get(name) or ""
        match = _ADDRESS.search(value)
        if match is None:
            return ""
        return (match.group(1) or match.group(2) or "").strip().lower()


def parse_message(raw: bytes | str | None) -> Message | None:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes | bytearray) else (raw or "")
    lines = re.split(r"\r\n|\n", text)
    headers: list[tuple[str, str]] = []
    index = 0
    for index, line in enumerate(lines):  # noqa: B007 - index is used after the loop
        if line == "":
            break
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        match = _FIELD.match(line)
        if match is None:
            break
        headers.append((match.group(1).lower(), match.group(2).strip()))
    else:
        index = len(lines)
    if not any(name in KNOWN_HEADERS for name, _ in headers):
        return None
    return Message(headers, "\n".join(lines[index + 1 :]))


def digest(message: Message) -> str:
    """What identifies a message for the Bayes models: its subject and body."""
    content = f"{message.get('subject') or ''}\n{message.body.strip()}"
    return hashlib.sha256(content.encode()).hexdigest()


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower() if "@" in address else ""


def organizational_domain(domain: str) -> str:
    """The last two labels (the sandbox's stand-in for the public suffix list)."""
    labels = [label for label in domain.lower().strip(".").split(".") if label]
    return ".".join(labels[-2:])
