"""The queue's filter form and the paging state that keeps filters in the URL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.paging import PAGE_SIZES, Paging
from portal.stalwart.queue_types import QueueSelection

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


@dataclass(frozen=True, slots=True)
class FilteredPaging(Paging):
    """`Paging` whose links also keep the page's filters (`?sender=…&before=…`)."""

    extra: tuple[tuple[str, str], ...] = ()

    def query_string(self, **changes: object) -> str:
        params: dict[str, object] = {"q": self.query, **dict(self.extra), "page": self.page, "size": self.size}
        params.update(changes)
        clean = {
            key: value
            for key, value in params.items()
            if value not in ("", None)
            and not (key == "page" and value == 1)
            and not (key == "size" and value == PAGE_SIZES[0])
        }
        return "?" + urlencode(clean) if clean else "?"

    @property
    def filters_query(self) -> str:
        """The filters alone (no page or size), for links to the bulk pages."""
        clean = {key: value for key, value in {"q": self.query, **dict(self.extra)}.items() if value}
        return urlencode(clean)


class UtcDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M")


class QueueFilterForm(forms.Form):
    """Search, sender, recipient and "next attempt before/after" (UTC), as Stalwart selects them."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200, strip=True)
    sender = forms.CharField(label=_("Sender contains"), required=False, max_length=200, strip=True)
    recipient = forms.CharField(label=_("Recipient contains"), required=False, max_length=200, strip=True)
    before = forms.DateTimeField(
        label=_("Next attempt before (UTC)"), required=False, input_formats=DATETIME_FORMATS, widget=UtcDateTimeInput()
    )
    after = forms.DateTimeField(
        label=_("Next attempt after (UTC)"), required=False, input_formats=DATETIME_FORMATS, widget=UtcDateTimeInput()
    )

    queue = forms.CharField(label=_("Queue"), required=False, max_length=64, strip=True)

    def __init__(self, data: QueryDict | None = None, *, by_queue: bool = False, **kwargs) -> None:
        super().__init__(data, **kwargs)
        if not by_queue:  # <= 0.15 cannot select by queue: the field is not offered (nor sent)
            del self.fields["queue"]
        else:
            self.fields["queue"].widget.attrs.update({"placeholder": gettext("e.g. remote"), "autocomplete": "off"})
        self.fields["q"].widget.attrs.update({"type": "search", "placeholder": gettext("Sender or recipient address")})
        self.fields["sender"].widget.attrs.update({"placeholder": gettext("e.g. @example.org")})
        self.fields["recipient"].widget.attrs.update({"placeholder": gettext("e.g. gmail.com")})
        for name in ("q", "sender", "recipient"):
            self.fields[name].widget.attrs["autocomplete"] = "off"

    def _future(self, name: str) -> datetime | None:
        value = self.cleaned_data.get(name)
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if value <= datetime.now(UTC):
            raise forms.ValidationError(gettext("Choose a time in the future: Stalwart ignores past times here."))
        return value

    def clean_before(self) -> datetime | None:
        return self._future("before")

    def clean_after(self) -> datetime | None:
        return self._future("after")

    @property
    def text_overrides(self) -> bool:
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        return bool(data.get("q") and (data.get("sender") or data.get("recipient")))

    def selection(self) -> QueueSelection:
        """What Stalwart is asked for; fields with errors are left out."""
        data = getattr(self, "cleaned_data", {})
        return QueueSelection(
            text=data.get("q") or "",
            sender=data.get("sender") or "",
            recipient=data.get("recipient") or "",
            before=data.get("before"),
            after=data.get("after"),
            queue=data.get("queue") or "",
        )

    def raw_extra(self) -> tuple[tuple[str, str], ...]:
        """The filters as typed (for links), except the search which `Paging` carries."""
        if not self.is_bound:
            return ()
        names = [name for name in ("sender", "recipient", "before", "after", "queue") if name in self.fields]
        return tuple((name, self.data.get(name, "").strip()) for name in names)


def queue_filters(request: HttpRequest, source: QueryDict | None = None) -> tuple[QueueFilterForm, FilteredPaging]:
    data = source if source is not None else request.GET
    user = getattr(request, "portal_user", None)
    form = QueueFilterForm(data, by_queue=bool(user and user.capabilities.queue_by_name))
    form.is_valid()
    base = Paging.from_request(request)
    paging = FilteredPaging(
        query=(data.get("q") or "").strip()[:200], page=base.page, size=base.size, extra=form.raw_extra()
    )
    return form, paging


class ReportFilterForm(forms.Form):
    """Outgoing (queued) reports: type and domain."""

    type = forms.ChoiceField(
        label=_("Type"), required=False, choices=[("", _("DMARC and TLS")), ("dmarc", "DMARC"), ("tls", "TLS")]
    )
    domain = forms.CharField(label=_("Domain contains"), required=False, max_length=200, strip=True)


#: "Send now" asks for this many seconds from now: Stalwart 0.16 takes only a time in the future,
#: and the portal's clock and the server's may differ by a few seconds.
SEND_NOW_DELAY = 60


class ReportRescheduleForm(forms.Form):
    """When a queued outgoing report is sent: now (in a minute) or at a chosen time (UTC)."""

    when = forms.ChoiceField(
        label=_("Send the report"),
        choices=[("now", _("Now (within a minute)")), ("at", _("At a time I choose"))],
        initial="now",
        widget=forms.RadioSelect,
    )
    deliver_at = forms.DateTimeField(
        label=_("Send at (UTC)"),
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=UtcDateTimeInput(),
        help_text=_("Only with “At a time I choose”. Stalwart takes only a time in the future."),
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("when") != "at":
            return data
        value = data.get("deliver_at")
        if value is None:
            if "deliver_at" not in self.errors:
                self.add_error("deliver_at", gettext("Choose when to send the report."))
            return data
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if value <= datetime.now(UTC):
            self.add_error("deliver_at", gettext("Choose a time in the future."))
        data["deliver_at"] = value
        return data

    def send_at(self) -> datetime:
        """The time to send at, from a valid form."""
        if self.cleaned_data.get("when") == "at":
            chosen: datetime = self.cleaned_data["deliver_at"]
            return chosen
        return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=SEND_NOW_DELAY)
