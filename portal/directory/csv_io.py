"""CSV export of any directory list, and CSV import of accounts (preview first).

Export pages through Stalwart (500 at a time) and streams, so a directory of
100,000 accounts never sits in memory. Import reads a file, checks every row
(locally, then whether the account exists), shows what would happen, and only
then creates or changes accounts, one request per row, reporting each result.
Passwords from the file are hashed (in the hashing threads) before anything is
planned, and only their hashes are kept.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.validators import validate_email
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from portal.auth import session
from portal.stalwart import StalwartClient, errors
from portal.stalwart.changes_types import PasswordReset, PrincipalChange
from portal.stalwart.secrets import MAX_PASSWORD_LENGTH, hash_passwords
from portal.stalwart.types import Principal

from .changes import new_principal, principal_change
from .forms import describe_error
from .kinds import Kind

EXPORT_PAGE = 500
MAX_IMPORT_ROWS = 2000
IMPORT_COLUMNS = ("name", "description", "email", "aliases", "password", "quota", "groups", "lists", "roles")


class _Line:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


Column = tuple[str, Callable[[Any], Any]]


def export_columns(kind: Kind, *, counts: bool = True) -> list[Column]:
    """The columns of `kind`'s CSV; without `counts` (`Kind.shows_count`) no members column."""
    columns: list[Column] = [("name", lambda p: p.name), ("description", lambda p: p.description)]
    if "emails" in kind.fields:
        columns += [("email", lambda p: p.primary_email), ("aliases", lambda p: " ".join(p.aliases))]
    if kind.type in {"individual", "group", "tenant"}:
        columns += [("quota", lambda p: p.quota or ""), ("used_quota", lambda p: p.used_quota or "")]
    if kind.type in {"individual", "group"}:
        columns += [("groups", lambda p: " ".join(p.member_of)), ("lists", lambda p: " ".join(p.lists))]
    if kind.type in {"group", "list", "role"} and counts:
        columns.append(("members", lambda p: " ".join(p.members)))
    if kind.type in {"domain", "tenant"} and counts:
        columns.append(("members", lambda p: p.member_count or 0))
    if kind.type == "list":
        columns.append(("external_members", lambda p: " ".join(p.external_members)))
    if kind.type in {"individual", "tenant", "role", "apiKey"}:
        columns.append(("roles", lambda p: " ".join(p.roles)))
    if kind.type == "oauthClient":
        columns.append(("redirect_uris", lambda p: " ".join(p.urls)))
    return columns


async def export_page(client: StalwartClient, kind: Kind, query: str, page: int = 1):
    fields = [*kind.fields, "memberOf", "lists"] if kind.type in {"individual", "group"} else list(kind.fields)
    return await client.principals.list(types=[kind.type], filter=query, page=page, limit=EXPORT_PAGE, fields=fields)


async def export_rows(
    client: StalwartClient, kind: Kind, query: str, first=None, *, counts: bool = True
) -> AsyncIterator[str]:
    """The CSV lines; `first` is page 1 when the caller already fetched it (`export_page`)."""
    writer = csv.writer(_Line())
    columns = export_columns(kind, counts=counts)
    yield writer.writerow([name for name, _get in columns])
    page = 1
    while True:
        result = first if page == 1 and first is not None else await export_page(client, kind, query, page)
        # One chunk per page: 500 lines in one send instead of 500 sends.
        yield "".join(writer.writerow([_cell(get(principal)) for _name, get in columns]) for principal in result.items)
        if page * EXPORT_PAGE >= result.total or not result.items:
            return
        page += 1


# --- import -----------------------------------------------------------------------
class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=format_lazy(
            gettext_lazy("UTF-8, with a header row. Columns: {columns} (only name is required)."),
            columns=", ".join(IMPORT_COLUMNS),
        ),
    )


@dataclass
class Row:
    line: int
    name: str
    values: dict = field(default_factory=dict)
    password_hash: str = ""
    errors: list[str] = field(default_factory=list)
    action: str = ""  # "create", "update", "unchanged", "invalid"
    # For an update: the account as read and what the row wants (the forms' field names).
    current: dict = field(default_factory=dict)
    wanted: dict = field(default_factory=dict)
    single_password: bool = True
    result: str = ""
    ok: bool | None = None
    # The password as read, until plan_import replaces it with its hash; never kept.
    password: str = field(default="", repr=False)

    def as_dict(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if key != "password"}

    def change(self) -> PrincipalChange:
        """What an update row changes (its password too)."""
        reset = None
        if self.password_hash:
            reset = PasswordReset(secret=self.password_hash, single_password=self.single_password)
        return principal_change("individual", self.current, self.wanted, password=reset)

    @property
    def changes(self) -> list[tuple[str, str, str]]:
        """(verb, field, value) per change, for the preview."""
        return self.change().lines() if self.action == "update" else []


def _split(value: str) -> list[str]:
    return [item for item in value.replace(",", " ").replace(";", " ").split() if item]


def parse_import(data: bytes) -> tuple[list[Row], str]:
    """Rows with local validation done; or an error about the whole file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], _("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.")
    reader = csv.DictReader(io.StringIO(text))
    header = [column.strip().lower() for column in reader.fieldnames or []]
    if "name" not in header:
        return [], _("The first line must name the columns, and one of them must be “name”.")
    unknown = [column for column in header if column not in IMPORT_COLUMNS]
    if unknown:
        return [], _("Unknown column(s): %(unknown)s. Known columns: %(known)s.") % {
            "unknown": ", ".join(unknown),
            "known": ", ".join(IMPORT_COLUMNS),
        }
    rows: list[Row] = []
    seen: set[str] = set()
    for number, raw in enumerate(reader, start=2):
        if len(rows) >= MAX_IMPORT_ROWS:
            return [], _("The file has more than %(count)d rows; split it into smaller files.") % {
                "count": MAX_IMPORT_ROWS
            }
        record = {key.strip().lower(): (value or "").strip() for key, value in raw.items() if key}
        if not any(record.values()):
            continue
        row = Row(line=number, name="".join(record.get("name", "").split()).lower())
        if not row.name:
            row.errors.append(_("The name is missing."))
        elif row.name in seen:
            row.errors.append(_("This name appears twice in the file."))
        seen.add(row.name)
        values: dict = {"name": row.name}
        if record.get("description"):
            values["description"] = record["description"]
        emails = [
            address.lower() for address in [record.get("email", ""), *_split(record.get("aliases", ""))] if address
        ]
        for address in emails:
            try:
                validate_email(address)
            except forms.ValidationError:
                row.errors.append(_("“%(address)s” is not an e-mail address.") % {"address": address})
        if emails:
            values["emails"] = list(dict.fromkeys(emails))
        if record.get("quota"):
            try:
                values["quota"] = _quota(record["quota"])
            except ValueError:
                row.errors.append(
                    _("“%(quota)s” is not a size (use bytes, or a number with MiB or GiB).")
                    % {"quota": record["quota"]}
                )
        for column, field_name in (("groups", "memberOf"), ("lists", "lists"), ("roles", "roles")):
            if record.get(column):
                values[field_name] = [item.lower() for item in _split(record[column])]
        if record.get("password"):
            if len(record["password"]) < 8:
                row.errors.append(_("The password is shorter than 8 characters."))
            elif len(record["password"]) > MAX_PASSWORD_LENGTH:
                row.errors.append(
                    _("The password is longer than %(limit)d characters.") % {"limit": MAX_PASSWORD_LENGTH}
                )
            else:
                row.password = record["password"]
        row.values = values
        rows.append(row)
    if not rows:
        return [], _("The file has no rows.")
    return rows, ""


def _quota(text: str) -> int:
    cleaned = text.replace(" ", "").lower()
    for suffix, factor in (
        ("gib", 1024**3),
        ("gb", 1024**3),
        ("g", 1024**3),
        ("mib", 1024**2),
        ("mb", 1024**2),
        ("m", 1024**2),
    ):
        if cleaned.endswith(suffix):
            return int(float(cleaned[: -len(suffix)]) * factor)
    return int(cleaned)


# Why the importing person may not make a row's change ("" when they may): the rank rule
# (portal.access) for the existing account and for the roles the row adds.
ImportGuard = Callable[[Principal | None, list[str]], Awaitable[str]]


async def plan_import(
    client: StalwartClient, rows: list[Row], guard: ImportGuard | None = None, *, single_password: bool = False
) -> None:
    """Hash the valid rows' passwords, then decide, per valid row, whether it creates or
    changes an account (reads only). `single_password`: the server keeps one password
    (Stalwart 0.14+, see `PasswordReset`)."""
    import asyncio

    hashing = [row for row in rows if row.password and not row.errors]
    for row, hashed in zip(hashing, await hash_passwords(row.password for row in hashing), strict=True):
        row.password_hash = hashed
    for row in rows:
        row.password = ""
    limit = asyncio.Semaphore(8)

    async def plan(row: Row) -> None:
        if row.errors:
            row.action = "invalid"
            return
        async with limit:
            try:
                existing: Principal | None = await client.principals.get(row.name)
            except errors.ItemNotFound:
                existing = None
        if guard is not None:
            added = [role for role in row.values.get("roles", []) if existing is None or role not in existing.roles]
            refusal = await guard(existing, added)
            if refusal:
                row.action = "invalid"
                row.errors.append(refusal)
                return
        if existing is None:
            row.action = "create"
            return
        if existing.type != "individual":
            row.action = "invalid"
            row.errors.append(_("“%(name)s” exists and is not an account.") % {"name": row.name})
            return
        current = {
            "description": existing.description,
            "emails": list(existing.emails),
            "quota": existing.quota,
            "memberOf": list(existing.member_of),
            "lists": list(existing.lists),
            "roles": list(existing.roles),
        }
        wanted = {key: value for key, value in row.values.items() if key != "name"}
        # An import adds memberships; it never removes ones the file does not mention.
        for key in ("memberOf", "lists", "roles", "emails"):
            if key in wanted:
                wanted[key] = current[key] + [item for item in wanted[key] if item not in current[key]]
        row.current, row.wanted, row.single_password = current, wanted, single_password
        row.action = "update" if row.change() else "unchanged"

    await asyncio.gather(*(plan(row) for row in rows))


async def apply_import(client: StalwartClient, rows: list[Row]) -> None:
    """Create or change each planned row, one request each, recording the outcome."""
    for row in rows:
        if row.action not in {"create", "update"} or row.ok is not None:
            continue  # nothing to do, or done by an earlier attempt that then failed
        try:
            if row.action == "create":
                body = {"roles": ["user"], **row.values}
                await client.principals.create(new_principal("individual", body, secret=row.password_hash))
                row.result = _("Created")
            else:
                change = row.change()
                await client.principals.update(row.name, change)
                if row.password_hash:
                    await session.credentials_changed(row.name)  # their portal sessions end
                row.result = ngettext("Changed (%(count)d change)", "Changed (%(count)d changes)", change.count()) % {
                    "count": change.count()
                }
            row.ok = True
        except errors.ManagementError as exc:
            row.ok = False
            row.result = describe_error(exc)
        except errors.TenantQuotaExceeded:
            row.ok = False
            row.result = _("Your organisation's account limit is reached.")
