"""``x:Task`` (objects.md §18) and ``x:BlockedIp`` (§23) of the 0.16 front-end."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from . import ids
from .errors import SetError
from .objects import Kind
from .ops import ops_state, task_due
from .store import parse_utc, utc

CLIENT_TYPES = ("IndexDocument", "UnindexDocument", "IndexTrace", "AccountMaintenance", "TenantMaintenance",
                "StoreMaintenance", "SpamFilterMaintenance", "AcmeRenewal", "DkimManagement", "DnsManagement")
INTERNAL_TYPES = ("CalendarAlarmEmail", "CalendarAlarmNotification", "CalendarItipMessage", "MergeThreads",
                  "DmarcReport", "TlsReport", "RestoreArchivedItem", "DestroyAccount")
MAINTENANCE = {
    "AccountMaintenance": ("purge", "reindex", "recalculateImapUid", "recalculateQuota"),
    "TenantMaintenance": ("recalculateQuota",),
    "StoreMaintenance": ("reindexAccounts", "reindexTelemetry", "purgeAccounts", "purgeData", "purgeBlob",
                         "resetRateLimiters", "resetUserQuotas", "resetTenantQuotas", "resetBlobQuotas",
                         "removeAuthTokens", "removeLockQueueMessage", "removeLockTask", "removeLockDav",
                         "removeSieveId", "removeGreylist"),
    "SpamFilterMaintenance": ("train", "retrain", "abort", "reset", "updateRules"),
}
#: type -> (create-only/writable properties, required properties, foreign keys {prop: object})
SHAPES = {
    "IndexDocument": (("accountId", "documentId", "documentType"), ("accountId",), {"accountId": "Account"}),
    "UnindexDocument": (("accountId", "documentId", "documentType"), ("accountId",), {"accountId": "Account"}),
    "IndexTrace": (("traceId",), ("traceId",), {}),
    "AccountMaintenance": (("accountId", "maintenanceType"), ("accountId",), {"accountId": "Account"}),
    "TenantMaintenance": (("tenantId", "maintenanceType"), ("tenantId",), {"tenantId": "Tenant"}),
    "StoreMaintenance": (("maintenanceType", "shardIndex"), (), {}),
    "SpamFilterMaintenance": (("maintenanceType",), (), {}),
    "AcmeRenewal": (("domainId",), ("domainId",), {"domainId": "Domain"}),
    "DkimManagement": (("domainId",), ("domainId",), {"domainId": "Domain"}),
    "DnsManagement": (("domainId", "onSuccessRenewCertificate", "updateRecords"), ("domainId",),
                      {"domainId": "Domain"}),
}
_FK_TYPES = {"Account": ("individual", "group"), "Tenant": ("tenant",), "Domain": ("domain",)}


@dataclass
class TaskRec:
    id: int
    values: dict


class TaskKind(Kind):
    name = "Task"
    prefix = "sysTask"
    tenant_scoped = False
    properties = ("@type", "accountId", "documentId", "documentType", "traceId", "tenantId", "maintenanceType",
                  "shardIndex", "domainId", "onSuccessRenewCertificate", "updateRecords", "status", "due",
                  "archivedItemType", "archivedUntil", "blobId", "createdAt", "reportId", "accountName",
                  "accountDomainId", "accountType")
    filters = ("due", "@type", "status")
    sorts = ("due",)
    default_sort = "due"

    def records(self, sb, caller) -> dict:
        return {k: TaskRec(k, v) for k, v in ops_state(sb).tasks.items()}

    def view(self, sb, caller, rec) -> dict:
        obj = {k: v for k, v in rec.values.items() if not k.startswith("_")}
        due = task_due(rec.values)
        if due is not None:
            obj["due"] = due
        return obj

    def matches(self, sb, caller, rec, prop, op, value) -> bool:
        if prop == "@type":
            return rec.values["@type"] == value
        if prop == "status":
            return value != "Failed" or rec.values["status"]["@type"] == "Failed"
        due = task_due(rec.values)
        if due is None or not isinstance(value, str):
            return False
        return {"": due == value, "GreaterThan": due > value, "GreaterThanOrEqual": due >= value,
                "LessThan": due < value, "LessThanOrEqual": due <= value}[op]

    def sort_key(self, sb, rec, prop):
        return (task_due(rec.values) or "", rec.id)

    def create(self, sb, caller, obj: dict):
        kind = obj.get("@type")
        if kind not in CLIENT_TYPES and kind not in INTERNAL_TYPES:
            raise SetError.invalid_patch("@type", "Invalid value for property.")
        allowed, required, foreign = SHAPES.get(kind, ((), (), {}))
        for key, value in obj.items():
            if key in ("@type", "status"):
                continue
            if key == "due" or key not in allowed:
                raise SetError.invalid_patch(key, "Cannot modify server set property" if key in self.properties
                                             else "Invalid property")
            if value == "":
                raise SetError.invalid_patch(key, "Invalid value for property.")
        if kind in MAINTENANCE and obj.get("maintenanceType", MAINTENANCE[kind][0]) not in MAINTENANCE[kind]:
            raise SetError.invalid_patch("maintenanceType", "Invalid value for property.")
        missing = [p for p in required if not isinstance(obj.get(p), str) or ids.decode(obj.get(p)) is None]
        if kind == "DestroyAccount":
            missing = ["accountId", "accountName", "accountDomainId"]
        if missing:
            raise SetError.required(*missing)
        if not caller.has(f"task{kind}"):
            raise SetError("forbidden", f"Insufficient permissions to create task of type {kind}")
        if kind in INTERNAL_TYPES:
            raise SetError("forbidden", f"{kind} is an internal task type that cannot be created by clients")
        for prop, target in foreign.items():
            number = ids.decode(obj[prop])
            p = sb.principals.get(number)
            if p is None or p.type not in _FK_TYPES[target]:
                raise SetError.foreign_key(target, obj[prop])
            if caller.tenant_id is not None and target != "Tenant" and p.tenant != caller.tenant_id:
                raise SetError.foreign_key(target, obj[prop])
        values = {"@type": kind, **{k: v for k, v in obj.items() if k not in ("@type", "status")}}
        if kind in MAINTENANCE:
            values.setdefault("maintenanceType", MAINTENANCE[kind][0])
        due = None
        status = obj.get("status")
        if status is not None:
            due = parse_utc(status.get("due")) if isinstance(status, dict) else None
            if due is None:
                raise SetError.invalid_patch("status", "Invalid value for property.")
        from .ops import new_task

        return new_task(sb, values, due), {}

    def update(self, sb, caller, rec, patch: dict):
        if not caller.has(f"task{rec.values['@type']}"):
            raise SetError("forbidden", f"Insufficient permissions to update task of type {rec.values['@type']}")
        for key, value in patch.items():
            if key != "status":
                raise SetError.invalid_patch(key, "Cannot modify read-only property" if key in self.properties
                                             else "Invalid property")
            due = parse_utc(value.get("due")) if isinstance(value, dict) else None
            if due is None or value.get("@type") != "Pending":
                raise SetError.invalid_patch(key, "Invalid value for property.")
            created = rec.values["status"].get("createdAt")
            rec.values["status"] = {"@type": "Pending", "createdAt": created, "due": utc(due)}
        return None

    def destroy(self, sb, caller, rec) -> None:
        if not caller.has(f"task{rec.values['@type']}"):
            raise SetError("forbidden", f"Insufficient permissions to destroy task of type {rec.values['@type']}")
        ops_state(sb).tasks.pop(rec.id, None)


class BlockedIpKind(Kind):
    """Addresses blocked by the auto-ban (or by hand); destroy unblocks."""

    name = "BlockedIp"
    prefix = "sysBlockedIp"
    tenant_scoped = False
    properties = ("address", "createdAt", "expiresAt", "reason")
    filters = ("address",)
    sorts = ("id", "address")
    REASONS = ("rcptToFailure", "authFailure", "loitering", "portScanning", "manual", "other")

    def records(self, sb, caller) -> dict:
        _adopt_auto_bans(sb)
        return {k: TaskRec(k, v) for k, v in ops_state(sb).blocked.items()}

    def view(self, sb, caller, rec) -> dict:
        v = rec.values
        return {"address": v["address"], "createdAt": utc(v["createdAt"]), "expiresAt": utc(v.get("expiresAt")),
                "reason": v.get("reason") or "manual"}

    def filter_value(self, sb, rec, prop):
        return rec.values["address"]

    def matches(self, sb, caller, rec, prop, op, value) -> bool:
        return op == "" and rec.values["address"] == _network(value)

    def sort_key(self, sb, rec, prop):
        return rec.id if prop == "id" else (False, rec.values["address"])

    def _check(self, obj: dict, creating: bool) -> dict:
        out = {}
        for key, value in obj.items():
            if key == "createdAt":
                raise SetError.invalid_patch(key, "Cannot modify server set property")
            if key not in self.properties:
                raise SetError.invalid_patch(key, "Invalid property")
            if key == "address":
                if not creating:
                    raise SetError.invalid_patch(key, "Cannot modify read-only property")
                out[key] = _network(value)
                if out[key] is None:
                    raise SetError.invalid_patch(key, "Invalid value for property.")
            elif key == "expiresAt":
                at = parse_utc(value) if value is not None else None
                if value is not None and at is None:
                    raise SetError.invalid_patch(key, "Invalid value for property.")
                out[key] = at
            elif value not in self.REASONS:
                raise SetError.invalid_patch(key, "Invalid value for property.")
            else:
                out[key] = value
        if creating and "address" not in out:
            raise SetError.required("address")
        return out

    def create(self, sb, caller, obj: dict):
        values = self._check(obj, True)
        st = ops_state(sb)
        if any(v["address"] == values["address"] for v in st.blocked.values()):
            other = next(k for k, v in st.blocked.items() if v["address"] == values["address"])
            raise SetError.primary_key(["address"], "BlockedIp", ids.encode(other))
        number = st.new_id()
        st.blocked[number] = {"createdAt": sb.now(), "expiresAt": None, "reason": "manual", **values}
        _enforce(sb, st.blocked[number])
        return number, {"createdAt": utc(sb.now())}

    def update(self, sb, caller, rec, patch: dict):
        rec.values.update(self._check(patch, False))
        _enforce(sb, rec.values)
        return None

    def destroy(self, sb, caller, rec) -> None:
        ops_state(sb).blocked.pop(rec.id, None)
        sb.settings.pop(BANNED + rec.values["address"], None)


#: Where the shared auto-ban (``sandbox.limits``) records a banned address.
BANNED = "server.blocked-ip."


def _enforce(sb, values: dict) -> None:
    """What the connection check reads (``sandbox.limits.is_blocked``): the address, with its
    expiry as the value (epoch seconds; empty for none). Past it the address gets in again,
    as the server's in-memory list stops applying an entry whose ``expiresAt`` has passed."""
    expires = values.get("expiresAt")
    sb.settings[BANNED + values["address"]] = "" if expires is None else str(int(expires))


def purge_expired_blocks(sb) -> list[str]:
    """What the server does when it builds its blocked list (start-up, ``ReloadBlockedIps``):
    entries whose ``expiresAt`` has passed are deleted from the registry. Until then ``/get``
    and ``/query`` still list them (crates/common/src/network/security.rs, ``BlockedIps::parse``).
    Returns the addresses removed."""
    st = ops_state(sb)
    now = sb.now()
    gone = [number for number, v in st.blocked.items() if v.get("expiresAt") is not None and v["expiresAt"] <= now]
    addresses = []
    for number in gone:
        values = st.blocked.pop(number)
        sb.settings.pop(BANNED + values["address"], None)
        addresses.append(values["address"])
    return addresses


def _adopt_auto_bans(sb) -> None:
    """Addresses the auto-ban blocked appear as entries with reason ``authFailure`` (objects.md §23)."""
    st = ops_state(sb)
    known = {v["address"] for v in st.blocked.values()}
    for key in sorted(sb.settings):
        address = _network(key[len(BANNED):]) if key.startswith(BANNED) else None
        if address is not None and address not in known:
            st.blocked[st.new_id()] = {"address": address, "createdAt": sb.now(), "expiresAt": None,
                                       "reason": "authFailure"}
            known.add(address)


def _network(value) -> str | None:
    """An IP address or CIDR network as the server writes it (a single address without a prefix)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    return str(net.network_address) if net.num_addresses == 1 else str(net)


TASK = TaskKind()
BLOCKED_IP = BlockedIpKind()
KINDS = (TASK, BLOCKED_IP)
