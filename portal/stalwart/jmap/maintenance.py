"""Maintenance and blocked IPs on Stalwart 0.16+: the `maintenance` area over `x:Task`,
`x:Action` and `x:BlockedIp` (v0.16 objects.md §18, §19, §23; rest-to-jmap.md #28-#60).

The <= 0.15 operations map as follows; what runs as a task is queued and answers at once:

| <= 0.15 (REST area)                 | 0.16                                                        |
|-------------------------------------|-------------------------------------------------------------|
| `reload(scope)`                     | Action `ReloadSettings` (or `Reload<Scope>`), no dry run    |
| `update_spam_rules()`               | Task `SpamFilterMaintenance`/`updateRules` (no version)     |
| `update_webadmin()`                 | Action `UpdateApps`                                         |
| `reindex(account)`                  | Task `AccountMaintenance`/`reindex`, all: `StoreMaintenance`/`reindexAccounts` |
| `purge_blobs()` / `purge_data()`    | Task `StoreMaintenance`/`purgeBlob` / `purgeData` (no store id) |
| `purge_account(account)`            | Task `AccountMaintenance`/`purge`, all: `StoreMaintenance`/`purgeAccounts` |
| `reset_uids(account)`               | Task `AccountMaintenance`/`recalculateImapUid` (no counts)  |
| `restart()`, `purge_in_memory()`, Bayes keys | none (`Capabilities.restart`, `in_memory_purge`, `bayes_purge`) |

0.16 adds the task queue itself (`tasks`, `rerun_task`, `cancel_task`), the other task types
clients may create (`create_task`) and the cache actions (`run_action`). Tasks carry the
server's labels of their type and maintenance type (its schema's enums, `labelled`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from django.utils.translation import gettext

from .. import errors
from ..maintenance_types import BlockedIp, Task, network
from ..observability_types import ReloadIssue, ReloadResult
from ..settings_types import SettingsSchema
from ..types import Page
from . import lookup
from .client import Call, JmapClient, ref, set_error
from .settings import JmapSettings

#: Reload scopes of the REST area -> the action that does it on 0.16.
RELOAD_ACTIONS = {
    "": "ReloadSettings",
    "lookup": "ReloadLookupStores",
    "certificate": "ReloadTlsCertificates",
    "server.blocked-ip": "ReloadBlockedIps",
}
#: Actions without properties the portal offers besides the reloads.
SIMPLE_ACTIONS = ("UpdateApps", "InvalidateCaches", "InvalidateNegativeCaches", "ReloadBlockedIps")
#: StoreMaintenance types a person picks on the maintenance page (the others have their own action).
STORE_TASKS = (
    "resetRateLimiters",
    "removeGreylist",
    "removeAuthTokens",
    "resetBlobQuotas",
    "resetUserQuotas",
    "resetTenantQuotas",
    "removeLockQueueMessage",
    "removeLockTask",
    "removeLockDav",
    "removeSieveId",
    "reindexTelemetry",
)
SPAM_TASKS = ("train", "retrain", "abort", "reset", "updateRules")
DOMAIN_TASKS = ("DkimManagement", "DnsManagement", "AcmeRenewal")
#: JMAP property -> the portal's form field.
FIELD_MAP = {"accountId": "account", "domainId": "domain", "tenantId": "tenant", "address": "address",
             "reason": "reason", "expiresAt": "expires"}
BLOCK_REASONS = ("rcptToFailure", "authFailure", "loitering", "portScanning", "manual", "other")


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unsupported(reason: str) -> errors.Unsupported:
    return errors.Unsupported(reason + ".", body={"error": "unsupported", "details": reason})


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def to_blocked(item: Mapping[str, Any]) -> BlockedIp:
    reason = str(item.get("reason") or "")
    return BlockedIp(
        id=str(item.get("id") or ""),
        address=str(item.get("address") or ""),
        reason=reason if reason in BLOCK_REASONS else ("other" if reason else ""),
        created=_utc(item.get("createdAt")),
        expires=_utc(item.get("expiresAt")),
    )


def to_task(item: Mapping[str, Any], names: Mapping[str, Mapping[str, str]]) -> Task:
    status = item.get("status") if isinstance(item.get("status"), dict) else {}
    assert isinstance(status, dict)
    target = ""
    for prop in ("accountId", "domainId", "tenantId"):
        ident = item.get(prop)
        if isinstance(ident, str) and ident:
            target = names.get(prop, {}).get(ident, ident)
            break
    return Task(
        id=str(item.get("id") or ""),
        type=str(item.get("@type") or ""),
        maintenance_type=str(item.get("maintenanceType") or ""),
        target=target,
        status=str(status.get("@type") or ""),
        due=_utc(item.get("due")) or _utc(status.get("due")),
        created=_utc(status.get("createdAt")),
        failed_at=_utc(status.get("failedAt")),
        attempts=_int(status.get("attemptNumber")) or _int(status.get("failedAttemptNumber")),
        failure=str(status.get("failureReason") or ""),
    )


#: The polymorphic task object and the schema's enum of its types.
TASK_OBJECT = "x:Task"
TASK_TYPE_ENUM = "TaskType"


def labelled(task: Task, schema: SettingsSchema | None) -> Task:
    """The task with the server's labels of its type and maintenance type (the schema's
    `TaskType` and the enum its variant's `maintenanceType` takes); unchanged without a schema."""
    if schema is None:
        return task
    type_label = schema.enum_texts(TASK_TYPE_ENUM).get(task.type, ("", ""))[0]
    maintenance_label = ""
    if task.maintenance_type:
        enum = schema.variant_enum(TASK_OBJECT, task.type, "maintenanceType")
        maintenance_label = schema.enum_texts(enum).get(task.maintenance_type, ("", ""))[0] if enum else ""
    return dataclasses.replace(task, type_label=type_label, maintenance_label=maintenance_label)


class JmapMaintenance:
    """`request.stalwart.maintenance` on 0.16: the same operations as the REST area, as tasks and actions."""

    def __init__(self, client: JmapClient) -> None:
        self._client = client

    # --- sending ----------------------------------------------------------------------------
    async def run_action(self, kind: str) -> None:
        """One `x:Action` without properties (`UpdateApps`, `InvalidateCaches`, ...)."""
        if kind not in SIMPLE_ACTIONS and kind not in RELOAD_ACTIONS.values():
            raise ValueError(f"Unknown action {kind!r}")
        await self._client.set("Action", create={"a": {"@type": kind}}, field_map=FIELD_MAP)

    async def create_task(self, kind: str, maintenance_type: str = "", **targets: str) -> str:
        """Queue a task (runs at once); `targets` are names: `account=`, `domain=`, `tenant=`.
        Returns the task id."""
        value: dict[str, Any] = {"@type": kind}
        if maintenance_type:
            value["maintenanceType"] = maintenance_type
        if targets.get("account"):
            value["accountId"] = await self._find_id("Account", targets["account"], "account")
        if targets.get("domain"):
            value["domainId"] = await self._find_id("Domain", targets["domain"], "domain")
        if targets.get("tenant"):
            value["tenantId"] = await self._find_id("Tenant", targets["tenant"], "tenant")
        result = await self._client.set("Task", create={"t": value}, field_map=FIELD_MAP)
        return str((result["created"].get("t") or {}).get("id") or "")

    async def _find_id(self, obj: str, name: str, field: str) -> str:
        """The id of the account (by e-mail address, or a login unique across domains), domain or tenant."""
        wanted = name.strip().lower()
        if obj == "Account":
            account = (await lookup.find_accounts(self._client, [wanted])).get(wanted)
            if account is None:
                raise errors.ItemNotFound(
                    gettext("%(item)s was not found.") % {"item": name},
                    body={"error": "notFound", "item": name, "field": field},
                )
            return str(account["id"])
        condition = {"name" if obj == "Domain" else "text": wanted}
        query_id, get_id = self._client.next_id(), self._client.next_id()
        results = await self._client.call(
            [
                Call(f"x:{obj}/query", {"filter": condition}, query_id),
                Call(f"x:{obj}/get", {"#ids": ref(query_id, f"x:{obj}/query"), "properties": ["name"]}, get_id),
            ]
        )
        found = [item for item in results[get_id].get("list") or [] if isinstance(item, dict)]
        exact = [item for item in found if str(item.get("name") or "").lower() == wanted]
        if not exact:
            raise errors.ItemNotFound(
                gettext("%(item)s was not found.") % {"item": name},
                body={"error": "notFound", "item": name, "field": field},
            )
        return str(exact[0]["id"])

    # --- the operations of the REST area ----------------------------------------------------
    async def reload(self, scope: str = "", *, dry_run: bool = False) -> ReloadResult:
        """Reload through the matching action; configuration errors come back as the result's errors."""
        kind = RELOAD_ACTIONS.get(scope)
        if kind is None:
            raise ValueError(f"Unknown reload scope {scope!r}")
        if dry_run:
            raise _unsupported(gettext("Stalwart 0.16 cannot check the configuration without applying it"))
        answer = await self._client.one("x:Action/set", {"create": {"a": {"@type": kind}}})
        refused = (answer.get("notCreated") or {}).get("a")
        if isinstance(refused, dict):
            if refused.get("type") != "validationFailed":
                raise set_error(refused, field_map=FIELD_MAP, operation="x:Action/set")
            key = str(refused.get("objectId") or refused.get("properties") or "")
            message = str(refused.get("description") or gettext("The configuration has an error."))
            return ReloadResult(warnings=(), errors=(ReloadIssue(key, "validationFailed", message),))
        return ReloadResult(warnings=(), errors=())

    async def update_spam_rules(self, *, force: bool = False, overwrite: bool = False) -> str | None:
        """Queue the rule update (asynchronous: no version comes back, so None)."""
        await self.create_task("SpamFilterMaintenance", "updateRules")
        return None

    async def update_webadmin(self) -> None:
        await self.run_action("UpdateApps")

    async def restart(self) -> None:
        raise _unsupported(gettext("Stalwart 0.16 has no restart command"))

    async def reindex(self, account: str = "", index: str = "") -> None:
        if account:
            await self.create_task("AccountMaintenance", "reindex", account=account)
        else:
            await self.create_task("StoreMaintenance", "reindexAccounts")

    async def purge_blobs(self) -> None:
        await self.create_task("StoreMaintenance", "purgeBlob")

    async def purge_data(self, store: str = "") -> None:
        """0.16 purges the data store as a whole: no store id."""
        if store:
            raise ValueError("Stalwart 0.16 takes no store id.")
        await self.create_task("StoreMaintenance", "purgeData")

    async def purge_in_memory(
        self, store: str = "", prefix: str = "", account: str = "", *, known: Collection[str] = ()
    ) -> None:
        raise _unsupported(gettext("Stalwart 0.16 has no generic purge of the in-memory store"))

    async def delete_bayes_global(self) -> None:
        """The nearest 0.16 equivalent: reset the spam classifier (its model and training state)."""
        await self.create_task("SpamFilterMaintenance", "reset")

    async def delete_bayes_account(self, account: str) -> None:
        raise _unsupported(gettext("Stalwart 0.16 has no spam model per account"))

    async def purge_account(self, account: str = "") -> None:
        if account:
            await self.create_task("AccountMaintenance", "purge", account=account)
        else:
            await self.create_task("StoreMaintenance", "purgeAccounts")

    async def reset_uids(self, account: str) -> tuple[int, int] | None:
        """Queued: 0.16 reports no counts (None)."""
        await self.create_task("AccountMaintenance", "recalculateImapUid", account=account)
        return None

    # --- the task queue -------------------------------------------------------------------------
    async def tasks(self, *, page: int = 1, limit: int = 50, failed: bool = False) -> Page[Task]:
        """Waiting, retrying and failed tasks, soonest due first, with the names of what they act
        on: one request (query, get by reference, and the accounts, domains and tenants named)."""
        query_id, get_id = self._client.next_id(), self._client.next_id()
        query: dict[str, Any] = {
            "sort": [{"property": "due", "isAscending": True}],
            "position": max(0, (page - 1) * limit),
            "limit": limit,
            "calculateTotal": True,
        }
        if failed:
            query["filter"] = {"status": "Failed"}
        calls = [
            Call("x:Task/query", query, query_id),
            Call("x:Task/get", {"#ids": ref(query_id, "x:Task/query")}, get_id),
        ]
        lookups = {}
        for prop, obj, label in (("accountId", "Account", "emailAddress"), ("domainId", "Domain", "name"),
                                 ("tenantId", "Tenant", "name")):
            call_id = self._client.next_id()
            lookups[prop] = (call_id, label)
            by_ref = {"#ids": ref(get_id, "x:Task/get", f"/list/*/{prop}"), "properties": [label]}
            calls.append(Call(f"x:{obj}/get", by_ref, call_id))
        results = await self._client.call(calls)
        total = _int(results[query_id].get("total"))
        found = [item for item in results[get_id].get("list") or [] if isinstance(item, dict)]
        names: dict[str, dict[str, str]] = {}
        for prop, (call_id, label) in lookups.items():
            try:  # a name lookup the person may not make, or nothing to look up: show ids
                listed = results[call_id].get("list") or []
            except errors.StalwartError:
                listed = []
            names[prop] = {str(i.get("id")): str(i.get(label) or "") for i in listed if isinstance(i, dict)}
        order = {ident: n for n, ident in enumerate(results[query_id].get("ids") or [])}
        found.sort(key=lambda item: order.get(item.get("id"), len(order)))
        schema = await self._schema()
        return Page(tuple(labelled(to_task(item, names), schema) for item in found), total or len(found))

    async def _schema(self) -> SettingsSchema | None:
        """The server's schema (kept per hash by the settings area), for the task labels;
        None when it cannot be read: the tasks keep their bare names."""
        try:
            return await JmapSettings(self._client).schema()
        except errors.StalwartError:
            return None

    async def task(self, task_id: str) -> Task:
        found = await self._client.get("Task", [task_id])
        if not found:
            raise errors.ItemNotFound(gettext("This task is no longer queued."), body={"error": "notFound"})
        return to_task(found[0], {})

    async def rerun_task(self, task_id: str, *, due: datetime | None = None) -> None:
        """Make a failed (or waiting) task due again, now unless `due` says when."""
        when = utc_text(due or datetime.now(UTC))
        await self._client.set(
            "Task", update={task_id: {"status": {"@type": "Pending", "due": when}}}, field_map=FIELD_MAP
        )

    async def cancel_task(self, task_id: str) -> None:
        await self._client.set("Task", destroy=[task_id], field_map=FIELD_MAP)

    # --- blocked IP addresses -------------------------------------------------------------------
    async def blocked_ips(self) -> Page[BlockedIp]:
        """Every blocked address or network, in address order (one request per
        `maxObjectsInGet` of them)."""
        found = await self._client.every("BlockedIp", sort=[{"property": "address"}])
        return Page(tuple(to_blocked(item) for item in found), len(found))

    async def block_ip(
        self, address: str, *, reason: str = "manual", expires: datetime | None = None, reload: bool = True
    ) -> str:
        """Block an address or network (`x:BlockedIp` create); returns its id. An address
        already blocked raises `errors.FieldAlreadyExists` (field `address`). Without `reload`
        the caller runs `reload("server.blocked-ip")` itself (and says what became of it)."""
        normal = network(address)
        if normal is None:
            raise ValueError(f"Not an IP address or network: {address!r}")
        value: dict[str, Any] = {"address": normal, "reason": reason if reason in BLOCK_REASONS else "manual"}
        if expires is not None:
            value["expiresAt"] = utc_text(expires)
        try:
            result = await self._client.set("BlockedIp", create={"b": value}, field_map=FIELD_MAP)
        except errors.FieldAlreadyExists as exc:
            exc.body["value"] = normal
            raise
        if reload:
            await self.reload("server.blocked-ip")
        return str((result["created"].get("b") or {}).get("id") or "")

    async def unblock_ip(self, entry: str, *, reload: bool = True) -> None:
        """Destroy the entry (its id from `blocked_ips`); `reload` as for `block_ip`."""
        await self._client.set("BlockedIp", destroy=[entry], field_map=FIELD_MAP)
        if reload:
            await self.reload("server.blocked-ip")

