"""The rows of the directory lists, rendered in Python (see portal/markup.py for why and
for the rules every row renderer keeps). The table around the rows, its headers and the
empty states stay in templates/directory/list.html.
"""

from __future__ import annotations

import functools

from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.converters import PrincipalName
from portal.markup import NONE as _NONE
from portal.markup import clip, e, plain, rows_html, url_pattern
from portal.stalwart.types import Principal
from portal.templatetags.portal import binary_size

from .kinds import KINDS, Kind


def detail_url_factory(kind: Kind):
    """A function name -> detail URL, equal to reverse() but without its cost per row."""
    return url_pattern(
        "directory:detail", "name", placeholder="__principal__", to_url=PrincipalName().to_url, kind=kind.slug
    )


#: Rows each kept renderer remembers (a few pages' worth for every list a person opens
#: often); all are forgotten at once when it is full.
SEEN_ROWS = 2000


class RowRenderer:
    """Renders the `<tr>` of one principal; labels are translated once per page.

    The markup is written here, and every value interpolated into it goes through
    `e()` (HTML escaping of text and attribute values): names, descriptions,
    addresses, roles and URLs from Stalwart as well as translated labels.
    """

    def __init__(
        self,
        kind: Kind,
        *,
        linked: bool,
        selectable: bool,
        email_label: str,
        count_label: str,
        fold_email: bool = False,
        counts: bool = True,
    ):
        self.kind = kind
        # Whether the members are counted (`Kind.shows_count`): no cell when not.
        self.counts = counts
        self.url_for = detail_url_factory(kind) if linked else None
        self.selectable = selectable
        addressed = kind.type in {"individual", "group", "list"}
        # Stalwart 0.16 names these by their address: no column repeating it, the aliases
        # chip follows the name.
        self.fold_email = addressed and fold_email
        self.with_email = addressed and not fold_email
        self.email_label = e(email_label)
        self.count_label = e(count_label)
        self.select_label = e(_("Select %(name)s"))
        self.usage_of = _("%(used)s of %(quota)s (%(percent)s%%)")
        self.no_limit = _("No limit")
        self.alias_badges: dict[int, str] = {}
        # The row of a principal seen before, keyed by the whole (immutable, hashable)
        # principal: a row depends on nothing else this renderer does not already fix.
        self.seen: dict[Principal, SafeString] = {}
        self.labels = {
            "quota": e(_("Quota")),
            "groups": e(_("Groups")),
            "roles": e(_("Roles")),
            "accounts": e(_("Accounts")),
            "storage": e(_("Storage quota")),
            "includes": e(_("Includes roles")),
            "permissions": e(_("Permissions")),
            "redirects": e(_("Redirect URIs")),
        }

    def __call__(self, item: Principal) -> SafeString:
        try:
            row = self.seen.get(item)
        except TypeError:  # a principal built with a list or dict somewhere: not kept
            return self._row(item)
        if row is None:
            if len(self.seen) >= SEEN_ROWS:
                self.seen.clear()
            row = self.seen[item] = self._row(item)
        return row

    def _row(self, item: Principal) -> SafeString:
        name = e(item.name)
        cells = []
        if self.selectable:
            label = self.select_label % {"name": plain(item.name, 100)}
            cells.append(
                f'<td class="cell-select"><input type="checkbox" name="names" value="{name}" form="bulk-form" '
                f'aria-label="{label}"></td>'
            )
        if self.url_for:
            title = f'<a class="cell-title" href="{e(self.url_for(item.name))}">{clip(item.name, expand=False)}</a>'
        else:
            title = f'<span class="cell-title">{clip(item.name)}</span>'
        if self.fold_email:
            if item.primary_email and item.primary_email.lower() != item.name.lower():
                title += f' <span class="cell-sub">{clip(item.primary_email)}</span>'
            title += self._alias_badge(item)
        sub = f'<span class="cell-sub">{clip(item.description)}</span>' if item.description else ""
        cells.append(f'<th scope="row">{title}{sub}</th>')
        if self.with_email:
            cells.append(f'<td data-label="{self.email_label}">{self._email(item)}</td>')
        cells.extend(self._columns(item))
        return SafeString(f"<tr>{''.join(cells)}</tr>")

    def _email(self, item: Principal) -> str:
        if not item.primary_email:
            return _NONE
        return clip(item.primary_email) + self._alias_badge(item)

    def _alias_badge(self, item: Principal) -> str:
        """` <span class="badge">+2 aliases</span>` with the aliases on hover ("" without any)."""
        if not item.aliases:
            return ""
        count = len(item.aliases)
        badge = self.alias_badges.get(count)
        if badge is None:
            badge = self.alias_badges[count] = e(
                ngettext("+%(counter)s alias", "+%(counter)s aliases", count) % {"counter": count}
            )
        return f' <span class="badge" title="{plain(", ".join(item.aliases))}">{badge}</span>'

    def _usage(self, item: Principal) -> str:
        if item.quota:
            return self.usage_of % {
                "used": binary_size(item.used_quota),
                "quota": binary_size(item.quota),
                "percent": item.quota_percent or 0,
            }
        return (f"{binary_size(item.used_quota)} · " if item.used_quota else "") + self.no_limit

    def _cell(self, label: str, content: str) -> str:
        """A cell; `content` is already escaped."""
        return f'<td data-label="{self.labels[label]}">{content}</td>'

    def _columns(self, item: Principal) -> list[str]:
        kind = self.kind.type
        if kind == "individual":
            usage = e(self._usage(item))
            if item.quota:
                percent = int(item.quota_percent or 0)
                quota = (
                    f'<span class="quota"><meter min="0" max="100" low="80" high="95" optimum="0" value="{percent}">'
                    f'{percent}%</meter><span class="cell-sub">{usage}</span></span>'
                )
            else:
                quota = f'<span class="muted">{usage}</span>'
            roles = (
                "".join(f'<span class="badge">{clip(role, 40, expand=False)}</span> ' for role in item.roles) or _NONE
            )
            return [
                f'<td class="cell-quota" data-label="{self.labels["quota"]}">{quota}</td>',
                self._cell("groups", clip(", ".join(item.member_of)) if item.member_of else "—"),
                self._cell("roles", roles),
            ]
        if kind == "tenant":
            storage = self._cell("storage", e(binary_size(item.quota) if item.quota else _("No limit")))
            if not self.counts:
                return [storage]
            return [self._cell("accounts", str(int(item.member_count or 0))), storage]
        if kind == "role":
            off = len(item.disabled_permissions)
            count = _("%(count)d on") % {"count": len(item.enabled_permissions)} + (
                _(", %(count)d off") % {"count": off} if off else ""
            )
            includes = clip(", ".join(item.roles)) if item.roles else "—"
            return [self._cell("includes", includes), self._cell("permissions", e(count))]
        if kind == "oauthClient":
            return [self._cell("redirects", clip(", ".join(item.urls)) if item.urls else "—")]
        if not self.counts:
            return []
        count = len(item.enabled_permissions) if kind == "apiKey" else item.total_members  # group, list, domain
        return [f'<td data-label="{self.count_label}">{int(count)}</td>']


def render_rows(
    kind: Kind,
    items: tuple[Principal, ...],
    *,
    linked: bool,
    selectable: bool,
    email_label: str,
    count_label: str,
    fold_email: bool = False,
    counts: bool = True,
) -> SafeString:
    """The `<tr>` of every item, one per line (empty when there are none)."""
    return rows_html(
        _renderer, items, kind.slug, linked, selectable, str(email_label), str(count_label), fold_email, counts
    )


@functools.lru_cache(maxsize=64)
def _renderer(
    slug: str,
    linked: bool,
    selectable: bool,
    email_label: str,
    count_label: str,
    fold_email: bool,
    counts: bool,
    language: str | None,
    prefix: str,
) -> RowRenderer:
    """One renderer per kind, options, language and script prefix: its labels and links are
    the same on every page (preparing them took longer than rendering ten rows)."""
    return RowRenderer(
        KINDS[slug],
        linked=linked,
        selectable=selectable,
        email_label=email_label,
        count_label=count_label,
        fold_email=fold_email,
        counts=counts,
    )
