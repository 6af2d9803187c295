"""A domain's DNS records and DKIM keys on Stalwart 0.16+ (objects.md §3, §17).

The records to publish are the domain's `dnsZoneFile` (computed on `/get`: one record per
line, `<fqdn>. IN <TYPE> <data>`, no TTL or SOA), split here into the same `DnsRecord` values
the REST area returns. DKIM keys are `x:DkimSignature` objects of the domain; 0.16 has no
"generate one key now" call: with automatic DKIM management (`x:Domain.dkimManagement`
`Automatic`, the default for new domains) the `DkimManagement` task makes a key for each
configured algorithm that has no active one, and switching a domain to automatic schedules
that task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext

from .. import errors
from ..types import DnsRecord
from .client import Call, JmapClient, ref

#: x:DkimSignature `@type` -> the name people know.
ALGORITHMS = {
    "Dkim1Ed25519Sha256": "Ed25519",
    "Dkim1RsaSha256": "RSA",
    "Dkim2Ed25519Sha256": "Ed25519 (DKIM2)",
    "Dkim2RsaSha256": "RSA (DKIM2)",
}
#: What automatic management sets when the portal switches it on (DkimManagementProperties::default).
AUTOMATIC_DEFAULTS: dict[str, Any] = {
    "@type": "Automatic",
    "algorithms": {"Dkim1Ed25519Sha256": True, "Dkim1RsaSha256": True},
    "selectorTemplate": "v{version}-{algorithm}-{date-%Y%m%d}",
    "rotateAfter": 7776000000,
    "retireAfter": 604800000,
    "deleteAfter": 2592000000,
}


def _unquote(data: str) -> str:
    """The character-strings of a TXT record's data joined (`"a" "b"` -> `ab`)."""
    parts: list[str] = []
    current: list[str] = []
    inside = escaped = False
    for ch in data:
        if not inside:
            if ch == '"':
                inside = True
            continue
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            inside = False
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if inside:  # an unterminated string: keep what it has
        parts.append("".join(current))
    return "".join(parts) if parts else data


def parse_zone(text: str) -> tuple[DnsRecord, ...]:
    """The records of a `dnsZoneFile`; lines that are not `<name> IN <TYPE> <data>` are skipped."""
    records = []
    for line in text.splitlines():
        name, sep, rest = line.strip().partition(" IN ")
        kind, _space, data = rest.strip().partition(" ")
        if not sep or not name or not kind.isalnum() or not data.strip():
            continue
        content = _unquote(data.strip()) if kind.upper() == "TXT" else data.strip()
        records.append(DnsRecord(type=kind.upper(), name=name.strip(), content=content))
    return tuple(records)


@dataclass(frozen=True, slots=True)
class DkimKey:
    """One x:DkimSignature of a domain (never its private key)."""

    id: str
    selector: str
    algorithm: str  # the @type
    stage: str  # active, pending, retiring, retired
    public_key: str
    created_at: str

    @property
    def algorithm_label(self) -> str:
        return ALGORITHMS.get(self.algorithm, self.algorithm)


@dataclass(frozen=True, slots=True)
class DkimOverview:
    """How a domain's DKIM keys are managed, and the keys it has."""

    domain_id: str
    automatic: bool
    algorithms: tuple[str, ...]
    selector_template: str
    keys: tuple[DkimKey, ...]

    @property
    def algorithm_labels(self) -> tuple[str, ...]:
        return tuple(ALGORITHMS.get(name, name) for name in self.algorithms)


def _not_found(domain: str) -> errors.ItemNotFound:
    return errors.ItemNotFound(
        gettext("%(item)s was not found.") % {"item": domain}, body={"error": "notFound", "item": domain}
    )


class JmapDns:
    """`dns.records(domain)` for a 0.16+ server."""

    def __init__(self, client: JmapClient) -> None:
        self._client = client

    async def records(self, domain: str) -> tuple[DnsRecord, ...]:
        """One request: the domain by name and its `dnsZoneFile` by back-reference."""
        query_id, get_id = self._client.next_id(), self._client.next_id()
        results = await self._client.call(
            [
                Call("x:Domain/query", {"filter": {"name": domain.lower()}}, query_id),
                Call(
                    "x:Domain/get",
                    {"#ids": ref(query_id, "x:Domain/query"), "properties": ["name", "dnsZoneFile"]},
                    get_id,
                ),
            ]
        )
        for item in results[get_id].get("list") or []:
            if isinstance(item, dict) and str(item.get("name") or "").lower() == domain.lower():
                zone = item.get("dnsZoneFile")
                return parse_zone(zone) if isinstance(zone, str) else ()
        raise _not_found(domain)


class JmapDkim:
    """A domain's DKIM keys and their management on a 0.16+ server."""

    def __init__(self, client: JmapClient) -> None:
        self._client = client

    async def overview(self, domain: str) -> DkimOverview:
        """The domain's DKIM management and its x:DkimSignature objects (two requests: the
        signatures are found by the domain's id)."""
        query_id, get_id = self._client.next_id(), self._client.next_id()
        results = await self._client.call(
            [
                Call("x:Domain/query", {"filter": {"name": domain.lower()}}, query_id),
                Call(
                    "x:Domain/get",
                    {"#ids": ref(query_id, "x:Domain/query"), "properties": ["name", "dkimManagement"]},
                    get_id,
                ),
            ]
        )
        found = [
            item
            for item in results[get_id].get("list") or []
            if isinstance(item, dict) and str(item.get("name") or "").lower() == domain.lower()
        ]
        if not found:
            raise _not_found(domain)
        domain_id = str(found[0].get("id"))
        management = found[0].get("dkimManagement")
        management = management if isinstance(management, dict) else {}
        algorithms = management.get("algorithms")
        keys_q, keys_get = self._client.next_id(), self._client.next_id()
        properties = ["@type", "selector", "stage", "publicKey", "createdAt"]
        answer = await self._client.call(
            [
                Call("x:DkimSignature/query", {"filter": {"domainId": domain_id}}, keys_q),
                Call(
                    "x:DkimSignature/get",
                    {"#ids": ref(keys_q, "x:DkimSignature/query"), "properties": properties},
                    keys_get,
                ),
            ]
        )
        keys = tuple(
            DkimKey(
                id=str(item.get("id") or ""),
                selector=str(item.get("selector") or ""),
                algorithm=str(item.get("@type") or ""),
                stage=str(item.get("stage") or "active"),
                public_key=str(item.get("publicKey") or ""),
                created_at=str(item.get("createdAt") or ""),
            )
            for item in answer[keys_get].get("list") or []
            if isinstance(item, dict)
        )
        return DkimOverview(
            domain_id=domain_id,
            automatic=management.get("@type") == "Automatic",
            algorithms=tuple(sorted(str(a) for a, on in algorithms.items() if on))
            if isinstance(algorithms, dict)
            else (),
            selector_template=str(management.get("selectorTemplate") or ""),
            keys=keys,
        )

    async def generate(self, overview: DkimOverview) -> None:
        """Have the server make the domain's missing keys: the `DkimManagement` task when
        management is automatic, otherwise switch it to automatic (which schedules that task)."""
        if overview.automatic:
            await self._client.set("Task", create={"dkim": {"@type": "DkimManagement", "domainId": overview.domain_id}})
        else:
            await self._client.set("Domain", update={overview.domain_id: {"dkimManagement": AUTOMATIC_DEFAULTS}})
