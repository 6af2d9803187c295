"""0.16 permissions of the sandbox's principals.

The sandbox keeps one directory, with ≤0.15 permissions (``sandbox.permissions``). A 0.16
caller's permissions are derived from it with the correspondence table of
``permissions.md`` §5: a name that only changed spelling is camel-cased, the others are
listed below. A principal holding every ≤0.15 permission (the ``admin`` role) holds every
0.16 permission.
"""

from __future__ import annotations

from .schema import permission_ids, permission_names

_REPORT = ("Dmarc", "Tls")
_INCOMING = ("Dmarc", "Tls", "Arf")

#: ≤0.15 name -> 0.16 names, where it is not just the camelCase spelling.
RENAMED: dict[str, tuple[str, ...]] = {
    "delete-system-folders": (),
    "message-queue-list": ("sysQueuedMessageQuery",),
    "message-queue-get": ("sysQueuedMessageGet",),
    "message-queue-update": ("sysQueuedMessageUpdate", "actionPauseMtaQueue", "actionResumeMtaQueue"),
    "message-queue-delete": ("sysQueuedMessageDestroy",),
    "outgoing-report-list": tuple(f"sys{r}InternalReportQuery" for r in _REPORT),
    "outgoing-report-get": tuple(f"sys{r}InternalReportGet" for r in _REPORT),
    "outgoing-report-delete": tuple(f"sys{r}InternalReport{op}" for r in _REPORT for op in ("Destroy", "Update")),
    "incoming-report-list": tuple(f"sys{r}ExternalReportQuery" for r in _INCOMING),
    "incoming-report-get": tuple(f"sys{r}ExternalReportGet" for r in _INCOMING),
    "incoming-report-delete": tuple(f"sys{r}ExternalReportDestroy" for r in _INCOMING),
    "settings-list": (),
    "settings-update": (),
    "settings-delete": (),
    "settings-reload": ("actionReloadSettings",),
    "individual-list": ("sysAccountQuery",),
    "individual-get": ("sysAccountGet",),
    "individual-update": ("sysAccountUpdate",),
    "individual-delete": ("sysAccountDestroy",),
    "individual-create": ("sysAccountCreate",),
    "group-list": ("sysAccountQuery",),
    "group-get": ("sysAccountGet",),
    "group-update": ("sysAccountUpdate",),
    "group-delete": ("sysAccountDestroy",),
    "group-create": ("sysAccountCreate",),
    "principal-list": (),
    "principal-get": (),
    "principal-create": (),
    "principal-update": (),
    "principal-delete": (),
    "blob-fetch": ("fetchAnyBlob",),
    "purge-blob-store": ("taskStoreMaintenance",),
    "purge-data-store": ("taskStoreMaintenance",),
    "purge-in-memory-store": ("taskStoreMaintenance",),
    "purge-account": ("taskAccountMaintenance",),
    "fts-reindex": ("taskAccountMaintenance",),
    "undelete": ("sysArchivedItemQuery", "sysArchivedItemGet", "sysArchivedItemUpdate"),
    "spam-filter-update": ("taskSpamFilterMaintenance",),
    "webadmin-update": ("actionUpdateApps",),
    "logs-view": ("sysLogQuery", "sysLogGet"),
    "spam-filter-train": ("sysSpamTrainingSampleCreate",),
    "restart": (),
    "tracing-list": ("sysTraceQuery",),
    "tracing-get": ("sysTraceGet",),
    "tracing-live": ("liveTracing",),
    "metrics-list": ("sysMetricQuery", "sysMetricGet"),
    "metrics-live": ("liveMetrics",),
    "authenticate-oauth": (),
    "manage-encryption": (
        "sysAccountSettingsGet",
        "sysAccountSettingsUpdate",
        *(f"sysPublicKey{op}" for op in ("Get", "Query", "Create", "Update", "Destroy")),
    ),
    "manage-passwords": (
        "sysAccountPasswordGet",
        "sysAccountPasswordUpdate",
        *(f"sys{o}{op}" for o in ("AppPassword", "ApiKey") for op in ("Get", "Query", "Create", "Update", "Destroy")),
    ),
    "jmap-search-snippet": ("jmapSearchSnippetGet",),
    "jmap-echo": ("jmapCoreEcho",),
    "jmap-sieve-script-query-changes": (),
    "ai-model-interact": ("interactAi",),
    "troubleshoot": ("liveDeliveryTest", "actionTroubleshootDmarc"),
    "spam-filter-test": ("actionClassifySpam",),
    "oauth-client-registration": ("oAuthClientRegistration",),
    "oauth-client-override": ("oAuthClientOverride",),
}

for _kind, _obj in (("domain", "Domain"), ("tenant", "Tenant"), ("mailing-list", "MailingList"), ("role", "Role"),
                    ("api-key", "ApiKey"), ("oauth-client", "OAuthClient")):
    for _old, _new in (("list", "Query"), ("get", "Get"), ("create", "Create"), ("update", "Update"),
                       ("delete", "Destroy")):
        RENAMED[f"{_kind}-{_old}"] = (f"sys{_obj}{_new}",)
RENAMED["dkim-signature-create"] = ("sysDkimSignatureCreate",)
RENAMED["dkim-signature-get"] = ("sysDkimSignatureGet",)
RENAMED["spam-filter-classify"] = ("actionClassifySpam",)
RENAMED["calendar-alarms"] = ("calendarAlarmsSend",)

#: Never listed by ``GET /api/account`` even when held (crates/http/src/auth/permissions.rs).
NOT_REPORTED = frozenset(
    [f"sys{r}{op}" for r in ("DmarcInternalReport", "DmarcExternalReport", "TlsInternalReport",
                              "TlsExternalReport", "ArfExternalReport") for op in ("Create", "Update")]
    + ["sysQueuedMessageCreate", "sysLogCreate", "sysLogUpdate", "sysLogDestroy", "sysClusterNodeCreate",
       "sysClusterNodeUpdate", "sysClusterNodeDestroy", "sysBootstrapGet", "sysBootstrapUpdate"]
)


def _camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(part.capitalize() for part in rest)


def map_name(old: str) -> tuple[str, ...]:
    """0.16 names of one ≤0.15 permission (empty when it has no equivalent)."""
    if old in RENAMED:
        names = RENAMED[old]
    elif old.startswith("jmap-") and old.endswith("-set"):  # one -set became three
        stem = _camel(old[: -len("-set")])
        names = tuple(f"{stem}{op}" for op in ("Create", "Update", "Destroy"))
    else:
        names = (_camel(old),)
    # a task or action permission goes with the right to create tasks / actions (permissions.md §5)
    if any(n.startswith("task") for n in names):
        names = (*names, "sysTaskCreate")
    if any(n.startswith("action") for n in names):
        names = (*names, "sysActionCreate")
    known = permission_ids()
    return tuple(n for n in names if n in known)


def permissions_of(sb, principal) -> frozenset[str]:
    """The 0.16 permissions of a directory principal: its effective ≤0.15 permissions mapped,
    plus what was granted through 0.16 objects that has no ≤0.15 equivalent (the 0.16 lists
    of its roles and its own ``permissions``; ``Replace`` ignores the roles)."""
    from .store import jmap_state

    extras = jmap_state(sb).extras
    own = extras.get(principal.id, {}).get("permissions") or {}
    enabled = {k for k, v in (own.get("enabledPermissions") or {}).items() if v}
    disabled = {k for k, v in (own.get("disabledPermissions") or {}).items() if v}
    if own.get("@type") == "Replace":
        return frozenset(enabled - disabled)
    mask = sb.effective_permissions(principal)
    if mask & sb.perms.all_mask == sb.perms.all_mask:
        return frozenset(permission_names())
    held: set[str] = set()
    for old in sb.perms.names_in_id_order(mask):
        held.update(map_name(old))
    seen: set[int] = set()
    stack = [r for r in principal.member_of if sb.type_of(r) == "role"]
    while stack:
        rid = stack.pop()
        if rid in seen or rid not in sb.principals:
            continue
        seen.add(rid)
        role = extras.get(rid, {})
        held |= {k for k, v in (role.get("enabledPermissions") or {}).items() if v}
        held -= {k for k, v in (role.get("disabledPermissions") or {}).items() if v}
        stack.extend(r for r in sb.principals[rid].member_of if sb.type_of(r) == "role")
    return frozenset((held | enabled) - disabled)


def reported_order(names) -> list[str]:
    """``GET /api/account`` order: per 64-bit word, from the highest id down."""
    ids = permission_ids()
    numbers = sorted((ids[n] for n in names if n not in NOT_REPORTED), key=lambda i: (i // 64, -(i % 64)))
    all_names = permission_names()
    return [all_names[i] for i in numbers]

