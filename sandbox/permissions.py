"""Stalwart permissions: names, ids, built-in roles and effective permissions (spec §4, App. A).

Permissions are handled as Python ints used as bitsets (bit ``id`` set = permission held).
"""

from __future__ import annotations

import re

# Appendix A (v0.11; ids and marks checked against crates/directory/src/lib.rs and
# crates/directory/src/core/principal.rs at v0.11.8 and v0.12.4). Marks: U = in role "user"
# (and so in tenant-admin), T = tenant-admin only, A = admin only (or explicit grant).
_V011 = """
0:impersonate[A] 1:unlimited-requests[A] 2:unlimited-uploads[A] 3:delete-system-folders[A]
4:message-queue-list[T] 5:message-queue-get[T] 6:message-queue-update[T] 7:message-queue-delete[T]
8:outgoing-report-list[T] 9:outgoing-report-get[T] 10:outgoing-report-delete[T]
11:incoming-report-list[T] 12:incoming-report-get[T] 13:incoming-report-delete[T]
14:settings-list[A] 15:settings-update[A] 16:settings-delete[A] 17:settings-reload[A]
18:individual-list[T] 19:individual-get[T] 20:individual-update[T] 21:individual-delete[T]
22:individual-create[T] 23:group-list[T] 24:group-get[T] 25:group-update[T] 26:group-delete[T]
27:group-create[T] 28:domain-list[T] 29:domain-get[T] 30:domain-create[T] 31:domain-update[T]
32:domain-delete[T] 33:tenant-list[A] 34:tenant-get[A] 35:tenant-create[A] 36:tenant-update[A]
37:tenant-delete[A] 38:mailing-list-list[T] 39:mailing-list-get[T] 40:mailing-list-create[T]
41:mailing-list-update[T] 42:mailing-list-delete[T] 43:role-list[T] 44:role-get[T]
45:role-create[T] 46:role-update[T] 47:role-delete[T] 48:principal-list[T] 49:principal-get[T]
50:principal-create[T] 51:principal-update[T] 52:principal-delete[T] 53:blob-fetch[A]
54:purge-blob-store[A] 55:purge-data-store[A] 56:purge-in-memory-store[A] 57:purge-account[A]
58:fts-reindex[A] 59:undelete[T] 60:dkim-signature-create[T] 61:dkim-signature-get[T]
62:spam-filter-update[A] 63:webadmin-update[A] 64:logs-view[A] 65:spam-filter-train[U]
66:restart[A] 67:tracing-list[A] 68:tracing-get[A] 69:tracing-live[A] 70:metrics-list[A]
71:metrics-live[A] 72:authenticate[U] 73:authenticate-oauth[U] 74:email-send[U]
75:email-receive[U] 76:manage-encryption[U] 77:manage-passwords[U] 78:jmap-email-get[U]
79:jmap-mailbox-get[U] 80:jmap-thread-get[U] 81:jmap-identity-get[U]
82:jmap-email-submission-get[U] 83:jmap-push-subscription-get[U] 84:jmap-sieve-script-get[U]
85:jmap-vacation-response-get[U] 86:jmap-principal-get[T] 87:jmap-quota-get[U]
88:jmap-blob-get[U] 89:jmap-email-set[U] 90:jmap-mailbox-set[U] 91:jmap-identity-set[U]
92:jmap-email-submission-set[U] 93:jmap-push-subscription-set[U] 94:jmap-sieve-script-set[U]
95:jmap-vacation-response-set[U] 96:jmap-email-changes[U] 97:jmap-mailbox-changes[U]
98:jmap-thread-changes[U] 99:jmap-identity-changes[U] 100:jmap-email-submission-changes[U]
101:jmap-quota-changes[U] 102:jmap-email-copy[U] 103:jmap-blob-copy[U] 104:jmap-email-import[U]
105:jmap-email-parse[U] 106:jmap-email-query-changes[U] 107:jmap-mailbox-query-changes[U]
108:jmap-email-submission-query-changes[U] 109:jmap-sieve-script-query-changes[U]
110:jmap-principal-query-changes[T] 111:jmap-quota-query-changes[U] 112:jmap-email-query[U]
113:jmap-mailbox-query[U] 114:jmap-email-submission-query[U] 115:jmap-sieve-script-query[U]
116:jmap-principal-query[T] 117:jmap-quota-query[U] 118:jmap-search-snippet[U]
119:jmap-sieve-script-validate[U] 120:jmap-blob-lookup[U] 121:jmap-blob-upload[U]
122:jmap-echo[U] 123:imap-authenticate[U] 124:imap-acl-get[U] 125:imap-acl-set[U]
126:imap-my-rights[U] 127:imap-list-rights[U] 128:imap-append[U] 129:imap-capability[U]
130:imap-id[U] 131:imap-copy[U] 132:imap-move[U] 133:imap-create[U] 134:imap-delete[U]
135:imap-enable[U] 136:imap-expunge[U] 137:imap-fetch[U] 138:imap-idle[U] 139:imap-list[U]
140:imap-lsub[U] 141:imap-namespace[U] 142:imap-rename[U] 143:imap-search[U] 144:imap-sort[U]
145:imap-select[U] 146:imap-examine[U] 147:imap-status[U] 148:imap-store[U]
149:imap-subscribe[U] 150:imap-thread[U] 151:pop3-authenticate[U] 152:pop3-list[U]
153:pop3-uidl[U] 154:pop3-stat[U] 155:pop3-retr[U] 156:pop3-dele[U] 157:sieve-authenticate[U]
158:sieve-list-scripts[U] 159:sieve-set-active[U] 160:sieve-get-script[U]
161:sieve-put-script[U] 162:sieve-delete-script[U] 163:sieve-rename-script[U]
164:sieve-check-script[U] 165:sieve-have-space[U] 166:api-key-list[T] 167:api-key-get[T]
168:api-key-create[T] 169:api-key-update[T] 170:api-key-delete[T] 171:oauth-client-list[A]
172:oauth-client-get[A] 173:oauth-client-create[A] 174:oauth-client-update[A]
175:oauth-client-delete[A] 176:oauth-client-registration[A] 177:oauth-client-override[A]
178:ai-model-interact[A] 179:troubleshoot[A] 180:spam-filter-classify[U]
"""

_V012_EXTRA = """
181:dav-sync-collection[U] 182:dav-expand-property[U] 183:dav-principal-acl[U]
184:dav-principal-list[A] 185:dav-principal-match[U] 186:dav-principal-search[A]
187:dav-principal-search-prop-set[U] 188:dav-file-prop-find[U] 189:dav-file-prop-patch[U]
190:dav-file-get[U] 191:dav-file-mk-col[U] 192:dav-file-delete[U] 193:dav-file-put[U]
194:dav-file-copy[U] 195:dav-file-move[U] 196:dav-file-lock[U] 197:dav-file-acl[U]
198:dav-card-prop-find[U] 199:dav-card-prop-patch[U] 200:dav-card-get[U] 201:dav-card-mk-col[U]
202:dav-card-delete[U] 203:dav-card-put[U] 204:dav-card-copy[U] 205:dav-card-move[U]
206:dav-card-lock[U] 207:dav-card-acl[U] 208:dav-card-query[U] 209:dav-card-multi-get[U]
210:dav-cal-prop-find[U] 211:dav-cal-prop-patch[U] 212:dav-cal-get[U] 213:dav-cal-mk-col[U]
214:dav-cal-delete[U] 215:dav-cal-put[U] 216:dav-cal-copy[U] 217:dav-cal-move[U]
218:dav-cal-lock[U] 219:dav-cal-acl[U] 220:dav-cal-query[U] 221:dav-cal-multi-get[U]
222:dav-cal-free-busy-query[U]
"""

# v0.13 (crates/directory/src/lib.rs at v0.13.4): three calendar permissions appended.
_V013_EXTRA = """
223:calendar-alarms[U] 224:calendar-scheduling-send[U] 225:calendar-scheduling-receive[U]
"""

# v0.14 (crates/directory/src/lib.rs at v0.14.1): JMAP contacts, files, sharing, calendars.
_V014_EXTRA = """
226:jmap-address-book-get[U] 227:jmap-address-book-set[U] 228:jmap-address-book-changes[U]
229:jmap-contact-card-get[U] 230:jmap-contact-card-changes[U] 231:jmap-contact-card-query[U]
232:jmap-contact-card-query-changes[U] 233:jmap-contact-card-set[U]
234:jmap-contact-card-copy[U] 235:jmap-contact-card-parse[U] 236:jmap-file-node-get[U]
237:jmap-file-node-set[U] 238:jmap-file-node-changes[U] 239:jmap-file-node-query[U]
240:jmap-file-node-query-changes[U] 241:jmap-principal-get-availability[U]
242:jmap-principal-changes[U] 243:jmap-share-notification-get[U]
244:jmap-share-notification-set[U] 245:jmap-share-notification-changes[U]
246:jmap-share-notification-query[U] 247:jmap-share-notification-query-changes[U]
248:jmap-calendar-get[U] 249:jmap-calendar-set[U] 250:jmap-calendar-changes[U]
251:jmap-calendar-event-get[U] 252:jmap-calendar-event-set[U] 253:jmap-calendar-event-changes[U]
254:jmap-calendar-event-query[U] 255:jmap-calendar-event-query-changes[U]
256:jmap-calendar-event-copy[U] 257:jmap-calendar-event-parse[U]
258:jmap-calendar-event-notification-get[U] 259:jmap-calendar-event-notification-set[U]
260:jmap-calendar-event-notification-changes[U] 261:jmap-calendar-event-notification-query[U]
262:jmap-calendar-event-notification-query-changes[U] 263:jmap-participant-identity-get[U]
264:jmap-participant-identity-set[U] 265:jmap-participant-identity-changes[U]
"""

#: Marks that change from one version on (crates/directory/src/core/principal.rs,
#: ``is_user_permission`` / ``is_tenant_admin_permission``): (version, id, new mark).
_MARK_CHANGES = (
    ((0, 14), 86, "U"),  # jmap-principal-get
    ((0, 14), 110, "U"),  # jmap-principal-query-changes
    ((0, 14), 116, "U"),  # jmap-principal-query
    ((0, 14), 184, "U"),  # dav-principal-list
    ((0, 14), 186, "U"),  # dav-principal-search
    ((0, 15), 65, "T"),  # spam-filter-train
    ((0, 15), 180, "T"),  # spam-filter-test (renamed below)
)

#: Renames (crates/directory/src/lib.rs at v0.15.5): (version, id, new name). The name is
#: what principals and error details carry (the ``EnumMethods`` name); ``/api/oauth`` lists
#: the serde kebab-case spelling, where ``_`` becomes ``-`` (``delete-system-folders-``).
_RENAMES = (
    ((0, 15), 3, "delete-system-folders_"),
    ((0, 15), 180, "spam-filter-test"),
)

_ENTRY = re.compile(r"(\d+):([a-z0-9-]+)\[([UTA])\]")


def _parse(text: str) -> list[tuple[int, str, str]]:
    return [(int(i), name, mark) for i, name, mark in _ENTRY.findall(text)]


_ALL_ENTRIES = _parse(_V011) + _parse(_V012_EXTRA) + _parse(_V013_EXTRA) + _parse(_V014_EXTRA)
assert [e[0] for e in _ALL_ENTRIES] == list(range(266))

#: id -> name for every permission id ever known (v0.14 names).
PERMISSION_NAMES: list[str] = [name for _, name, _ in _ALL_ENTRIES]
#: id -> mark ("U", "T" or "A") as of v0.11/v0.12.
PERMISSION_MARKS: list[str] = [mark for _, _, mark in _ALL_ENTRIES]
#: name -> id (v0.14 names).
PERMISSION_IDS: dict[str, int] = {name: pid for pid, name, _ in _ALL_ENTRIES}

COUNT_V011 = 181
COUNT_V012 = 223
COUNT_V013 = 226
COUNT_V014 = 266

# Built-in role ids (crates/directory/src/lib.rs).
ROLE_ADMIN = 0xFFFFFFFF
ROLE_TENANT_ADMIN = 0xFFFFFFFF - 1
ROLE_USER = 0xFFFFFFFF - 2
BUILTIN_ROLE_IDS = {"admin": ROLE_ADMIN, "tenant-admin": ROLE_TENANT_ADMIN, "user": ROLE_USER}
BUILTIN_ROLE_NAMES = {v: k for k, v in BUILTIN_ROLE_IDS.items()}


def version_tuple(version: str) -> tuple[int, ...]:
    """``"0.13.4"`` -> ``(0, 13, 4)``."""
    return tuple(int(part) for part in str(version).split("."))


def permission_count(version: str) -> int:
    v = version_tuple(version)
    if v >= (0, 14):
        return COUNT_V014
    if v >= (0, 13):
        return COUNT_V013
    if v >= (0, 12):
        return COUNT_V012
    return COUNT_V011


def permission_table(version: str) -> list[tuple[str, str]]:
    """(name, mark) of every permission id of one server version."""
    v = version_tuple(version)
    count = permission_count(version)
    names = PERMISSION_NAMES[:count]
    marks = PERMISSION_MARKS[:count]
    for since, pid, mark in _MARK_CHANGES:
        if v >= since:
            marks[pid] = mark
    for since, pid, name in _RENAMES:
        if v >= since:
            names[pid] = name
    return list(zip(names, marks, strict=True))


class PermissionSet:
    """The permission universe of one server version."""

    def __init__(self, version: str):
        self.version = version
        table = permission_table(version)
        self.count = len(table)
        self.names = [name for name, _ in table]
        #: the serde spelling ``/api/oauth`` lists (``_`` -> ``-``)
        self.serde_names = [name.replace("_", "-") for name in self.names]
        self.ids = {name: pid for pid, name in enumerate(self.names)}
        self.all_mask = (1 << self.count) - 1
        user = tenant = 0
        for pid, (_, mark) in enumerate(table):
            if mark == "U":
                user |= 1 << pid
                tenant |= 1 << pid
            elif mark == "T":
                tenant |= 1 << pid
        self.user_mask = user
        self.tenant_admin_mask = tenant
        self.admin_mask = self.all_mask

    def id_of(self, name: str) -> int | None:
        return self.ids.get(name)

    def mask_of(self, *names: str) -> int:
        mask = 0
        for name in names:
            mask |= 1 << self.ids[name]
        return mask

    def mask_from_ids(self, ids) -> int:
        mask = 0
        for pid in ids:
            if 0 <= pid < self.count:
                mask |= 1 << pid
        return mask

    def builtin_mask(self, role_id: int) -> int | None:
        if role_id == ROLE_ADMIN:
            return self.admin_mask
        if role_id == ROLE_TENANT_ADMIN:
            return self.tenant_admin_mask
        if role_id == ROLE_USER:
            return self.user_mask
        return None

    def names_in_bitset_order(self, mask: int, serde: bool = False) -> list[str]:
        """Names of the permissions in ``mask`` in the order the server emits them.

        The server walks its bitset one 64-bit word at a time, highest bit first:
        ids 63..0, then 127..64, then 191..128, ... ``serde``: the spelling of ``/api/oauth``.
        """
        names = self.serde_names if serde else self.names
        out = []
        for block_start in range(0, self.count, 64):
            block_end = min(block_start + 64, self.count)
            for pid in range(block_end - 1, block_start - 1, -1):
                if mask >> pid & 1:
                    out.append(names[pid])
        return out

    def names_in_id_order(self, mask: int) -> list[str]:
        return [self.names[pid] for pid in range(self.count) if mask >> pid & 1]


def principal_list_permission(type_name: str) -> str:
    return f"{_PERMISSION_PREFIX[type_name]}-list"


def principal_permission(type_name: str, action: str) -> str:
    """``<prefix>-<action>`` permission for a principal type (§4 last bullet)."""
    return f"{_PERMISSION_PREFIX[type_name]}-{action}"


_PERMISSION_PREFIX = {
    "individual": "individual",
    "group": "group",
    "list": "mailing-list",
    "domain": "domain",
    "tenant": "tenant",
    "role": "role",
    "apiKey": "api-key",
    "oauthClient": "oauth-client",
    "resource": "principal",
    "location": "principal",
    "other": "principal",
}


def role_permission_masks(sandbox, role_id: int) -> tuple[int, int]:
    """(enabled, disabled) masks of a role, following parent roles recursively.

    Mirrors ``build_role_permissions``: union of every role's enabled and disabled sets;
    meeting the built-in admin role stops the walk.
    """
    perms = sandbox.perms
    enabled = disabled = 0
    fetched: set[int] = set()
    stack = []
    it = iter((role_id,))
    while True:
        rid = next(it, None)
        if rid is None:
            if stack:
                it = stack.pop()
                continue
            break
        if rid in fetched:
            continue
        fetched.add(rid)
        builtin = perms.builtin_mask(rid)
        if builtin is not None:
            enabled |= builtin
            if rid == ROLE_ADMIN:
                break
            continue
        p = sandbox.principals.get(rid)
        if p is None:
            from .errors import ProblemError

            raise ProblemError.forbidden()
        enabled |= perms.mask_from_ids(p.enabled_permissions)
        disabled |= perms.mask_from_ids(p.disabled_permissions)
        parents = sandbox.role_ids_of(p)
        if parents:
            stack.append(it)
            it = iter(parents)
    return enabled, disabled


def effective_permissions(sandbox, principal) -> int:
    """Effective permission mask of a principal (§4)."""
    perms = sandbox.perms
    enabled = disabled = 0
    for rid in sandbox.role_ids_of(principal):
        e, d = role_permission_masks(sandbox, rid)
        enabled |= e
        disabled |= d
    enabled |= perms.mask_from_ids(principal.enabled_permissions)
    disabled |= perms.mask_from_ids(principal.disabled_permissions)
    mask = enabled & ~disabled & perms.all_mask
    if sandbox.enterprise and principal.tenant is not None:
        tenant_enabled, _ = role_permission_masks(sandbox, principal.tenant)
        mask &= tenant_enabled
    return mask
