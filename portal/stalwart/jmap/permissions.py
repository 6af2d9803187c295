"""0.16 permission names (camelCase, from `GET /api/account`) seen as the portal's rules see them.

The portal's access rules (`portal.permissions`) name the <= 0.15 kebab-case permissions. A
0.16 account holds a <= 0.15 permission when it holds every 0.16 permission that replaced it
(v0.16 permissions.md §5): `individual-list` is `sysAccountQuery`, `manage-passwords` is the
account-password, app-password and API-key permissions, a name that only changed spelling is
its camelCase form. A <= 0.15 permission without a 0.16 equivalent (`restart`,
`settings-delete`, ...) is held only by an administrator of the whole server. The server's permission
enum is read at run time from `/api/schema` (`schema.permission_names`); a replacement that
the running server does not know is not required, and an account that holds every permission
of the enum holds every <= 0.15 one.
"""

from __future__ import annotations

from collections.abc import Iterable

_REPORT = ("Dmarc", "Tls")
_INCOMING = ("Dmarc", "Tls", "Arf")
_CRUD = (("list", "Query"), ("get", "Get"), ("create", "Create"), ("update", "Update"), ("delete", "Destroy"))

#: <= 0.15 name -> the 0.16 names that together replace it, where it is not the camelCase spelling.
#: An empty tuple: no 0.16 equivalent.
RENAMED: dict[str, tuple[str, ...]] = {
    "delete-system-folders": (),
    "message-queue-list": ("sysQueuedMessageQuery",),
    "message-queue-get": ("sysQueuedMessageGet",),
    "message-queue-update": ("sysQueuedMessageUpdate", "actionPauseMtaQueue", "actionResumeMtaQueue"),
    "message-queue-delete": ("sysQueuedMessageDestroy",),
    "outgoing-report-list": tuple(f"sys{r}InternalReportQuery" for r in _REPORT),
    "outgoing-report-get": tuple(f"sys{r}InternalReportGet" for r in _REPORT),
    "outgoing-report-delete": tuple(f"sys{r}InternalReportDestroy" for r in _REPORT),
    "incoming-report-list": tuple(f"sys{r}ExternalReportQuery" for r in _INCOMING),
    "incoming-report-get": tuple(f"sys{r}ExternalReportGet" for r in _INCOMING),
    "incoming-report-delete": tuple(f"sys{r}ExternalReportDestroy" for r in _INCOMING),
    "settings-list": (),
    "settings-update": (),
    "settings-delete": (),
    "settings-reload": ("actionReloadSettings",),
    "blob-fetch": ("fetchAnyBlob",),
    "purge-blob-store": ("taskStoreMaintenance",),
    "purge-data-store": ("taskStoreMaintenance",),
    "purge-in-memory-store": ("taskStoreMaintenance",),
    "purge-account": ("taskAccountMaintenance",),
    "fts-reindex": ("taskAccountMaintenance",),
    "undelete": ("sysArchivedItemQuery", "sysArchivedItemGet", "sysArchivedItemUpdate"),
    "dkim-signature-create": ("sysDkimSignatureCreate",),
    "dkim-signature-get": ("sysDkimSignatureGet",),
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
    # POST /api/auth needs only `authenticate`.
    "authenticate-oauth": ("authenticate",),
    "manage-encryption": ("sysAccountSettingsGet", "sysAccountSettingsUpdate"),
    "manage-passwords": (
        "sysAccountPasswordGet",
        "sysAccountPasswordUpdate",
        *(f"sysAppPassword{op}" for op in ("Get", "Query", "Create", "Destroy")),
    ),
    "jmap-search-snippet": ("jmapSearchSnippetGet",),
    "jmap-echo": ("jmapCoreEcho",),
    # No SieveScript/queryChanges permission any more: querying is the closest right.
    "jmap-sieve-script-query-changes": ("jmapSieveScriptQuery",),
    "ai-model-interact": ("interactAi",),
    "troubleshoot": ("liveDeliveryTest", "actionTroubleshootDmarc"),
    "spam-filter-test": ("actionClassifySpam",),
    "spam-filter-classify": ("actionClassifySpam",),
    "calendar-alarms": ("calendarAlarmsSend",),
    "oauth-client-registration": ("oAuthClientRegistration",),
    "oauth-client-override": ("oAuthClientOverride",),
}
# Users and groups are both x:Account; the generic principal-* rules (search, the directory
# overview) are the account ones on 0.16.
for _kind in ("individual", "group", "principal"):
    for _old, _new in _CRUD:
        RENAMED[f"{_kind}-{_old}"] = (f"sysAccount{_new}",)
for _kind, _obj in (
    ("domain", "Domain"),
    ("tenant", "Tenant"),
    ("mailing-list", "MailingList"),
    ("role", "Role"),
    ("api-key", "ApiKey"),
    ("oauth-client", "OAuthClient"),
):
    for _old, _new in _CRUD:
        RENAMED[f"{_kind}-{_old}"] = (f"sys{_obj}{_new}",)


#: Held but never listed by `GET /api/account` (crates/http/src/auth/permissions.rs).
NOT_REPORTED = frozenset(
    [
        f"sys{r}{op}"
        for r in (*(f"{x}InternalReport" for x in _REPORT), *(f"{x}ExternalReport" for x in _INCOMING))
        for op in ("Create", "Update")
    ]
    + ["sysQueuedMessageCreate", "sysLogCreate", "sysLogUpdate", "sysLogDestroy", "sysClusterNodeCreate"]
    + ["sysClusterNodeUpdate", "sysClusterNodeDestroy", "sysBootstrapGet", "sysBootstrapUpdate"]
)


def camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(part.capitalize() for part in rest)


def replacements(old: str) -> tuple[str, ...]:
    """The 0.16 names that replace one <= 0.15 permission (empty: none)."""
    if old in RENAMED:
        return RENAMED[old]
    if old.startswith("jmap-") and old.endswith("-set"):  # one -set became three
        stem = camel(old[: -len("-set")])
        return tuple(f"{stem}{op}" for op in ("Create", "Update", "Destroy"))
    return (camel(old),)


def as_rest(
    held: Iterable[str], known: Iterable[str], rest_names: Iterable[str], *, any_of: bool = False
) -> frozenset[str]:
    """The <= 0.15 permissions (of `rest_names`) that an account holding `held` has.

    `known` is the server's permission enum: names outside it are dropped from `held`, and a
    replacement the server does not know is not required (a later release renamed it).
    `any_of`: one replacement is enough (to tell what someone else may hold, erring on more).
    """
    enum = frozenset(known)
    have = frozenset(held) & enum if enum else frozenset(held)
    everything = _everything(have, enum)
    granted = set()
    for old in rest_names:
        if everything:  # an administrator of the whole server, also for what 0.16 dropped
            granted.add(old)
            continue
        needed = replacements(old)
        if not needed:
            continue
        required = [name for name in needed if not enum or name in enum]
        test = any if any_of else all
        if required and test(name in have for name in required):
            granted.add(old)
    return frozenset(granted)


def _everything(have: frozenset[str], enum: frozenset[str]) -> bool:
    # An administrator holds the whole enum, less what the server never lists.
    return bool(enum) and have >= enum - NOT_REPORTED - {"sysAccountPasswordGet", "sysAccountPasswordUpdate"}


def native(held: Iterable[str], known: Iterable[str]) -> tuple[frozenset[str], bool]:
    """The 0.16 names of `held` that the server's enum `known` has, and whether they are all
    of it (an administrator of the whole server: then the names are not kept, the flag says it).

    At most the enum's size (660 names in 0.16.18), and nothing the enum does not know."""
    enum = frozenset(known)
    have = frozenset(str(name) for name in held) & enum
    if _everything(have, enum):
        return frozenset(), True
    return have, False
