"""The seam between views and the two generations of Stalwart's management API.

Views call `request.stalwart.<area>.<operation>(...)` and get the typed results of
`portal.stalwart.types`. For servers up to 0.15 `request.stalwart` is a `StalwartClient`
(REST `/api/*`), for 0.16 and later a `jmap.backend.JmapBackend` (JMAP `x:` objects). Each
area both generations implement is described by a `Protocol` here; the REST areas satisfy
them as they are (a test checks it), so a view written against one works with the other.
`for_session` builds the handle from the generation the session recorded at sign-in.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from .blobs import DeletedItem, RestoreResult, Search
from .changes_types import NewPrincipal, PrincipalChange
from .maintenance_types import BlockedIp, Task
from .observability_types import LogEntry, MetricPoint, ReloadResult, TraceEvent, TraceSummary
from .queue_types import OutgoingReportId, QueuedMessage, QueuePage, QueueSelection
from .report_types import IncomingReport, IncomingReportId, OutgoingReport
from .settings_types import SetOutcome, SettingsItem, SettingsPage, SettingsRecord, SettingsSchema
from .telemetry import LiveStream
from .tools_types import DeliveryStage, DmarcReport, SpamClassification
from .types import AccountAuth, DnsRecord, EncryptionAtRest, Page, Principal


@runtime_checkable
class PrincipalsArea(Protocol):
    """Accounts, groups, mailing lists, domains, tenants, roles, API keys, OAuth clients."""

    async def list(
        self,
        *,
        types: Iterable[str] = (),
        filter: str = "",
        page: int = 1,
        limit: int = 25,
        fields: Iterable[str] = (),
        tenant: str = "",
    ) -> Page[Principal]: ...

    async def count(self, *, types: Iterable[str] = (), filter: str = "") -> int: ...

    async def get(self, name: str) -> Principal: ...

    async def create(self, principal: NewPrincipal) -> int: ...

    async def update(self, name: str, change: PrincipalChange) -> None: ...

    async def delete(self, name: str) -> None: ...


@runtime_checkable
class DnsArea(Protocol):
    """The records Stalwart suggests publishing for a domain."""

    async def records(self, domain: str) -> tuple[DnsRecord, ...]: ...


@runtime_checkable
class AccountArea(Protocol):
    """The signed-in person's own password, two-factor, app passwords and encryption at rest.

    `update_auth` returns the secret of an app password the server generated (0.16+), else None.
    Changing an app password's options (`update_app_password`) exists on 0.16+ only."""

    async def get_auth(self) -> AccountAuth: ...

    async def update_auth(self, requests: builtins.list[dict[str, Any]]) -> str | None: ...

    async def get_crypto(self) -> EncryptionAtRest: ...

    async def set_crypto(
        self,
        method: str,
        algo: str = "",
        certs: str = "",
        *,
        allow_spam_training: bool | None = None,
        encrypt_on_append: bool | None = None,
    ) -> int | None: ...


# --- area: queue (messages and outgoing reports) ---
@runtime_checkable
class QueueArea(Protocol):
    """Queued messages (list, detail, retry, cancel, bulk by selection, pause/resume) and the
    queue of outgoing DMARC/TLS reports. `running()` is None where the server does not say."""

    async def messages(self, selection: QueueSelection, *, page: int = 1, limit: int = 25) -> QueuePage: ...

    async def message(self, message_id: int) -> QueuedMessage: ...

    async def preview(self, selection: QueueSelection, *, limit: int = 10) -> QueuePage: ...

    async def headers(self, message: QueuedMessage) -> str: ...

    async def retry(self, message_id: int, *, domain: str = "") -> bool: ...

    async def cancel(self, message_id: int, *, recipients: str = "") -> bool: ...

    async def retry_matching(self, selection: QueueSelection) -> bool: ...

    async def cancel_matching(self, selection: QueueSelection) -> bool: ...

    async def running(self) -> bool | None: ...

    async def set_running(self, running: bool) -> bool | None: ...

    async def reports(
        self, *, kind: str = "", domain: str = "", page: int = 1, limit: int = 25
    ) -> Page[OutgoingReportId]: ...

    async def report(self, report_id: str) -> OutgoingReport: ...

    async def report_ref(self, report_id: str) -> OutgoingReportId | None: ...

    async def delete_report(self, report_id: str) -> bool: ...

    async def delete_reports_matching(self, *, kind: str = "", domain: str = "") -> bool: ...

    # Only 0.16 has this; up to 0.15 it raises `errors.NotOnThisServer`.
    async def reschedule_report(self, report_id: str, deliver_at: datetime) -> None: ...



# --- area: reports (incoming DMARC, TLS, ARF) ---
@runtime_checkable
class ReportsArea(Protocol):
    """Incoming DMARC aggregate, TLS and ARF reports (`kind` is "dmarc", "tls" or "arf")."""

    async def ids(
        self, kind: str, *, text: str = "", page: int = 1, limit: int = 25, max_total: int = 0
    ) -> Page[IncomingReportId]: ...

    async def get(self, kind: str, report_id: str) -> IncomingReport: ...

    async def details(
        self, kind: str, ids: builtins.list[IncomingReportId], *, concurrency: int = ...
    ) -> dict[str, IncomingReport | None]: ...

    async def delete(self, kind: str, report_id: str) -> bool: ...

    async def delete_matching(self, kind: str, *, text: str = "") -> bool: ...


# --- area: undelete ---
@runtime_checkable
class UndeleteArea(Protocol):
    """Deleted items of an account that can still be restored (Enterprise)."""

    async def list(
        self, account: str, *, page: int = 1, limit: int = 25, search: Search | None = None
    ) -> Page[DeletedItem]: ...

    async def restore(
        self, account: str, items: builtins.list[DeletedItem] | None
    ) -> builtins.list[RestoreResult]: ...


# --- area: troubleshoot and spam filter ---
@runtime_checkable
class TroubleshootArea(Protocol):
    """The live delivery check (a token, then its stream of stages) and the DMARC check."""

    async def token(self) -> str: ...

    def delivery(
        self, target: str, *, token: str | None = None, stall: float | None = None
    ) -> AsyncIterator[DeliveryStage]: ...

    async def dmarc(
        self, remote_ip: str, ehlo_domain: str, mail_from: str, message: str | None = None
    ) -> DmarcReport: ...


@runtime_checkable
class SpamFilterArea(Protocol):
    """Training samples, the trainer (0.15 only) and the classify test."""

    async def train(self, kind: str, message: bytes, account: str = "", *, route: str = "train") -> None: ...

    async def trainer(self, action: str) -> bool: ...

    async def classify(
        self,
        message: str,
        *,
        remote_ip: str,
        ehlo_domain: str,
        sender: str,
        recipients: Iterable[str],
        tls: bool = True,
        authenticated_as: str = "",
    ) -> SpamClassification: ...


# --- area: observability (logs, traces, live streams, metrics) ---
@runtime_checkable
class LogsArea(Protocol):
    """The server's log file, newest first (REST pages by number, 0.16 by `anchor`)."""

    async def list(self, *, filter: str = "", page: int = 1, limit: int = 50, anchor: str = "") -> Page[LogEntry]: ...


@runtime_checkable
class TelemetryArea(Protocol):
    """Message history, stored metrics and the live tracing and metrics streams (Enterprise)."""

    async def traces(
        self, event_type: str, *, filter: str = "", queue_id: int | None = None, page: int = 1, limit: int = 25
    ) -> Page[TraceSummary]: ...

    async def trace(self, span_id: int) -> tuple[TraceEvent, ...]: ...

    async def metrics(
        self, *, after: datetime | None = None, before: datetime | None = None, ids: Iterable[str] = ()
    ) -> tuple[MetricPoint, ...]: ...

    async def open_live_traces(self, *, text: str = "", keys: Mapping[str, str] | None = None) -> LiveStream: ...

    async def open_live_metrics(self, metrics: list[str], *, interval: int = 30) -> LiveStream: ...


# --- area: settings ---
@runtime_checkable
class SettingsRegistryArea(Protocol):
    """Stalwart 0.16+'s settings objects, described by the server's own schema (`registry`).

    <= 0.15 keeps key/value settings instead (`StalwartClient.settings`); these pages are
    0.16-only (`capabilities.JMAP_ONLY_PAGES`)."""

    async def schema(self) -> SettingsSchema: ...

    async def list(
        self,
        page: SettingsPage,
        *,
        text: str = "",
        position: int = 0,
        limit: int = 25,
        properties: Iterable[str] = (),
        references: Mapping[str, tuple[str, str]] | None = None,
    ) -> Page[SettingsItem]: ...

    async def read(
        self, page: SettingsPage, object_id: str, *, targets: Mapping[str, str] | None = None
    ) -> SettingsRecord: ...

    async def choices(
        self, targets: Mapping[str, str], *, ids: Mapping[str, Sequence[str]] | None = None
    ) -> dict[str, tuple[tuple[str, str], ...]]: ...

    async def update(self, page: SettingsPage, object_id: str, patch: Mapping[str, Any]) -> SetOutcome: ...

    async def create(self, page: SettingsPage, values: Mapping[str, Any]) -> SetOutcome: ...

    async def destroy(self, page: SettingsPage, object_id: str) -> SetOutcome: ...

    async def reload(self) -> SetOutcome: ...


# --- area: maintenance and blocked IPs ---
@runtime_checkable
class MaintenanceArea(Protocol):
    """Reload, updates, store maintenance, and the blocked IP addresses (0.16 adds the task queue)."""

    async def reload(self, scope: str = "", *, dry_run: bool = False) -> ReloadResult: ...

    async def update_spam_rules(self, *, force: bool = False, overwrite: bool = False) -> str | None: ...

    async def update_webadmin(self) -> None: ...

    async def restart(self) -> None: ...

    async def reindex(self, account: str = "", index: str = "") -> None: ...

    async def purge_blobs(self) -> None: ...

    async def purge_data(self, store: str = "") -> None: ...

    async def purge_in_memory(
        self, store: str = "", prefix: str = "", account: str = "", *, known: Collection[str] = ...
    ) -> None: ...

    async def delete_bayes_global(self) -> None: ...

    async def delete_bayes_account(self, account: str) -> None: ...

    async def purge_account(self, account: str = "") -> None: ...

    async def reset_uids(self, account: str) -> tuple[int, int] | None: ...

    async def blocked_ips(self) -> Page[BlockedIp]: ...

    async def block_ip(self, address: str, *, reason: str = "manual", expires: datetime | None = None) -> str: ...

    async def unblock_ip(self, entry: str) -> None: ...

    # Only 0.16 has these; up to 0.15 they raise `errors.NotOnThisServer`.
    async def tasks(self, *, page: int = 1, limit: int = 50, failed: bool = False) -> Page[Task]: ...

    async def task(self, task_id: str) -> Task: ...

    async def rerun_task(self, task_id: str, *, due: datetime | None = None) -> None: ...

    async def cancel_task(self, task_id: str) -> None: ...

    async def create_task(self, kind: str, maintenance_type: str = "", **targets: str) -> str: ...

    async def run_action(self, kind: str) -> None: ...


@runtime_checkable
class Backend(Protocol):
    """What `request.stalwart` offers in both generations."""

    @property
    def principals(self) -> PrincipalsArea: ...

    @property
    def authorization(self) -> str: ...


def for_session(generation: str, access_token: str) -> Any:
    """The service handle for one request of a session signed in to a server of `generation`."""
    if generation == "jmap":
        from .jmap.backend import JmapBackend

        return JmapBackend(access_token)
    from .client import StalwartClient

    return StalwartClient(access_token)
