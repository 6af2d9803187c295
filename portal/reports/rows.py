"""The rows of the incoming report lists (DMARC, TLS, ARF), rendered in Python (see
portal/markup.py). The table around them, its headers and the empty states stay in
templates/reports/list.html."""

from __future__ import annotations

import functools
import weakref

from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from portal.markup import clip, e, rows_html, url_pattern
from portal.stalwart.report_types import ArfReport, DmarcReport, IncomingReport, IncomingReportId, TlsReport
from portal.templatetags.mailflow import utc, utc_date
from portal.templatetags.portal import when

# Feedback types shown as a danger badge.
_ALARMING = frozenset({"Abuse", "Fraud", "Virus"})
_PLACEHOLDER = "__report__"
#: Rows kept per renderer.
SEEN_ROWS = 1000


def _failures(count: int) -> str:
    return f'<span class="badge badge-danger">{count}</span>' if count else '<span class="muted">0</span>'


class ReportRows:
    """Renders the `<tr>` of one report of a kind; labels are translated when it is made."""

    def __init__(self, kind: str, *, can_get: bool, can_delete: bool):
        self.kind = kind
        self.detail_url = url_pattern("reports:detail", "report_id", placeholder=_PLACEHOLDER, kind=kind)
        self.delete_url = (
            url_pattern("reports:delete", "report_id", placeholder=_PLACEHOLDER, kind=kind) if can_delete else None
        )
        self.gone = f'<span class="cell-sub">{e(_("No longer available"))}</span>' if can_get else ""
        self.kept_until = e(_("Kept until %(date)s"))
        self.to_end = e(_("to %(end)s"))
        self.unknown_sender = _("Unknown sender")
        self.unknown = _("Unknown")
        self.delete = e(_("Delete"))
        # The row of a report seen before, by its id, with a weak reference to the parsed
        # report it was made from: reports do not change, and a parsed one stays the same
        # object while the process keeps it (portal/stalwart/reports.py), so the same object
        # means the same row, and a row never keeps a report alive. Failure reports' rows are
        # not kept: they say how long ago the report arrived.
        self.seen: dict[str, tuple[weakref.ref[IncomingReport] | None, str]] | None = {} if kind != "arf" else None
        self.delete_report = _("Delete report %(id)s")
        self.empty = f'<td colspan="{5 if kind == "dmarc" else 4}" class="muted">—</td>'
        self.labels = {
            name: e(label)
            for name, label in {
                "domain": _("Domain"),
                "domains": _("Domains"),
                "period": _("Period"),
                "messages": _("Messages"),
                "pass": _("Pass"),
                "fail": _("Fail"),
                "successful": _("Successful"),
                "failed": _("Failed"),
                "type": _("Type"),
                "arrival": _("Arrival"),
                "incidents": _("Incidents"),
            }.items()
        }

    def __call__(self, row: tuple[IncomingReportId, IncomingReport | None]) -> str:
        report_id, item = row
        if self.seen is None:
            return self._row(report_id, item)
        kept = self.seen.get(report_id.raw)
        if kept is not None:
            made_from, html = kept  # None: the row of a report Stalwart no longer had
            if made_from is None if item is None else made_from is not None and made_from() is item:
                return html
        if len(self.seen) >= SEEN_ROWS:
            self.seen.clear()
        html = self._row(report_id, item)
        self.seen[report_id.raw] = (None if item is None else weakref.ref(item), html)
        return html

    def _row(self, report_id: IncomingReportId, item: IncomingReport | None) -> str:
        if item is None:
            head = f'<span class="cell-title"><code>{clip(report_id.raw)}</code></span>{self.gone}'
            cells = self.empty
        else:
            head = (
                f'<a class="cell-title" href="{e(self.detail_url(report_id.raw))}">'
                f"{clip(self._title(item), expand=False)}</a>"
                f'<span class="cell-sub cell-wrap">{clip(item.sender)}</span>'
            )
            cells = self._cells(item.report)
        if report_id.expires:
            until = self.kept_until % {"date": e(utc_date(report_id.expires))}
            head += f'<span class="cell-sub" title="{e(utc(report_id.expires))}">{until}</span>'
        actions = ""
        if self.delete_url and not report_id.valid:
            actions = '<td class="cell-actions"></td>'  # nothing Stalwart could delete by that id
        elif self.delete_url:
            hidden = e(self.delete_report % {"id": report_id.raw})
            actions = (
                f'<td class="cell-actions"><a class="button button-small button-danger-outline" '
                f'href="{e(self.delete_url(report_id.raw))}"><span aria-hidden="true">{self.delete}</span>'
                f'<span class="visually-hidden">{hidden}</span></a></td>'
            )
        return f'<tr><th scope="row">{head}</th>{cells}{actions}</tr>'

    def _title(self, item: IncomingReport) -> str:
        report = item.report
        if isinstance(report, DmarcReport):
            return report.org_name or item.sender
        if isinstance(report, TlsReport):
            return report.organization or item.sender
        return item.sender or self.unknown_sender

    def _cell(self, label: str, content: str, number: bool = False) -> str:
        """A cell; `content` is already escaped."""
        style = ' class="cell-number"' if number else ""
        return f'<td data-label="{self.labels[label]}"{style}>{content}</td>'

    def _cells(self, report: DmarcReport | TlsReport | ArfReport) -> str:
        if isinstance(report, DmarcReport):
            begin, end = utc_date(report.begin), utc_date(report.end)
            period = e(begin or "—")
            if end and end != begin:
                period += f'<span class="cell-sub">{self.to_end % {"end": e(end)}}</span>'
            return (
                self._cell("domain", clip(report.domain or "—"))
                + self._cell("period", period)
                + self._cell("messages", str(int(report.messages)), number=True)
                + self._cell("pass", f'<span class="badge badge-ok">{int(report.passed)}</span>', number=True)
                + self._cell("fail", _failures(int(report.failed)), number=True)
            )
        if isinstance(report, TlsReport):
            domains = report.domains
            first = clip(domains[0] if domains and domains[0] else "—")
            if len(domains) > 1:
                first += f' <span class="badge">+ {len(domains) - 1}</span>'
            return (
                self._cell("domains", first)
                + self._cell("period", e(utc_date(report.start) or "—"))
                + self._cell("successful", str(int(report.successes)), number=True)
                + self._cell("failed", _failures(int(report.failures)), number=True)
            )
        style = " badge-danger" if report.feedback_type in _ALARMING else ""
        kind = clip(report.feedback_text or self.unknown, 40, expand=False)
        return (
            self._cell("type", f'<span class="badge{style}">{kind}</span>')
            + self._cell("arrival", when(report.arrival_date) if report.arrival_date else "—")
            + self._cell("domains", clip(", ".join(report.reported_domains) or "—"))
            + self._cell("incidents", str(int(report.incidents)), number=True)
        )


def render_rows(
    kind: str, rows: list[tuple[IncomingReportId, IncomingReport | None]], *, can_get: bool, can_delete: bool
) -> SafeString:
    """The `<tr>` of every report, one per line (empty when there are none)."""
    return rows_html(_renderer, rows, kind, can_get, can_delete)


@functools.lru_cache(maxsize=32)
def _renderer(kind: str, can_get: bool, can_delete: bool, language: str | None, prefix: str) -> ReportRows:
    """One renderer per kind, options, language and script prefix."""
    return ReportRows(kind, can_get=can_get, can_delete=can_delete)
