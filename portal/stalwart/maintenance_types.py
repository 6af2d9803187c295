"""Typed results of the maintenance area: blocked IP addresses and background tasks.

Both generations return these. Up to 0.15 a blocked address is a settings key
(`server.blocked-ip.<address>`) and has no reason, creation time or expiry; on 0.16 it is an
`x:BlockedIp` with all three. Tasks (`x:Task`) exist only on 0.16.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime


def network(text: str) -> str | None:
    """An IP address or CIDR network as Stalwart writes it (one address without a prefix); None when it is none."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    return str(net.network_address) if net.num_addresses == 1 else str(net)


@dataclass(frozen=True, slots=True)
class BlockedIp:
    """One blocked address or network.

    `id` names the entry for unblocking: the `x:BlockedIp` id on 0.16, the address itself (the
    end of its settings key) before.
    """

    id: str
    address: str
    #: 0.16 `BlockReason` (rcptToFailure, authFailure, loitering, portScanning, manual, other); "" before 0.16
    reason: str = ""
    created: datetime | None = None
    #: None: until unblocked
    expires: datetime | None = None


@dataclass(frozen=True, slots=True)
class Task:
    """One task of the server's queue (0.16 `x:Task`): waiting, retrying or failed."""

    id: str
    type: str  # @type: StoreMaintenance, AccountMaintenance, DkimManagement, ...
    maintenance_type: str = ""  # purge, reindex, updateRules, ... ("" for types without one)
    #: what it acts on, by name where the portal could resolve it (account, domain, tenant)
    target: str = ""
    status: str = ""  # Pending, Retry or Failed
    due: datetime | None = None
    created: datetime | None = None
    failed_at: datetime | None = None
    attempts: int = 0
    failure: str = ""
    #: the server's words for `type` and `maintenance_type` (its schema's enums; "" where unknown)
    type_label: str = ""
    maintenance_label: str = ""

    @property
    def label(self) -> str:
        """What the task does, in the server's words where it has some (else its raw names)."""
        return self.maintenance_label or self.type_label or self.maintenance_type or self.type
