"""Forms of the maintenance actions only Stalwart 0.16 has, and of the blocked-IP page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.stalwart.maintenance_types import network

STORE_TASK_CHOICES = (
    ("resetRateLimiters", _("Reset the rate limiters")),
    ("removeGreylist", _("Empty the greylist")),
    ("removeAuthTokens", _("Remove stored sign-in tokens (everyone signs in again)")),
    ("resetBlobQuotas", _("Recount the upload quotas")),
    ("resetUserQuotas", _("Recount the quotas of every account")),
    ("resetTenantQuotas", _("Recount the quotas of every tenant")),
    ("removeLockQueueMessage", _("Release locks of queued messages")),
    ("removeLockTask", _("Release locks of tasks")),
    ("removeLockDav", _("Release WebDAV locks")),
    ("removeSieveId", _("Remove stored Sieve message ids")),
    ("reindexTelemetry", _("Rebuild the search index of message traces")),
)
SPAM_TASK_CHOICES = (
    ("train", _("Train with the samples not used yet")),
    ("retrain", _("Train again from every sample")),
    ("abort", _("Stop a training that runs")),
    ("reset", _("Reset: delete the model and what it learnt")),
)
CACHE_CHOICES = (
    ("InvalidateCaches", _("Every cache")),
    ("InvalidateNegativeCaches", _("Only the remembered misses (unknown addresses, failed look-ups)")),
)
DOMAIN_TASK_CHOICES = (
    ("DkimManagement", _("Manage the DKIM keys (create or rotate them now)")),
    ("DnsManagement", _("Publish the DNS records")),
    ("AcmeRenewal", _("Renew the TLS certificate (ACME)")),
)
BLOCK_REASON_CHOICES = (
    ("manual", _("Blocked by hand")),
    ("authFailure", _("Failed sign-ins")),
    ("rcptToFailure", _("Unknown recipients")),
    ("loitering", _("Idle connections")),
    ("portScanning", _("Port scanning")),
    ("other", _("Other")),
)
EXPIRY_CHOICES = (
    ("", _("Until unblocked")),
    ("1h", _("1 hour")),
    ("1d", _("1 day")),
    ("7d", _("7 days")),
    ("30d", _("30 days")),
)
_EXPIRY = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def _text(**attrs: str) -> forms.TextInput:
    return forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", **attrs})


class StoreTaskForm(forms.Form):
    task = forms.ChoiceField(label=_("What to do"), choices=STORE_TASK_CHOICES)


class SpamClassifierForm(forms.Form):
    task = forms.ChoiceField(label=_("What to do"), choices=SPAM_TASK_CHOICES)


class CachesForm(forms.Form):
    action = forms.ChoiceField(label=_("Which caches"), choices=CACHE_CHOICES)


class DomainTaskForm(forms.Form):
    domain = forms.CharField(label=_("Domain"), max_length=255, widget=_text(placeholder="example.org"))
    task = forms.ChoiceField(label=_("What to do"), choices=DOMAIN_TASK_CHOICES)

    def clean_domain(self) -> str:
        return str(self.cleaned_data["domain"]).strip().lower()


class BlockForm(forms.Form):
    """An address or network to block; reason and expiry only where the server keeps them (0.16)."""

    address = forms.CharField(
        label=_("IP address or network"),
        max_length=64,
        widget=_text(placeholder="192.0.2.10 or 192.0.2.0/24", inputmode="text"),
        help_text=_("One address, or a network in CIDR notation."),
    )
    reason = forms.ChoiceField(label=_("Reason"), choices=BLOCK_REASON_CHOICES, initial="manual")
    expires = forms.ChoiceField(label=_("Blocked for"), choices=EXPIRY_CHOICES, required=False)

    def __init__(self, *args: object, details: bool = True, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if not details:
            del self.fields["reason"]
            del self.fields["expires"]

    def clean_address(self) -> str:
        value = str(self.cleaned_data["address"]).strip()
        normal = network(value)
        if normal is None:
            raise forms.ValidationError(
                gettext("Give an IP address (192.0.2.10, 2001:db8::1) or a network (192.0.2.0/24).")
            )
        return normal

    def expires_at(self) -> datetime | None:
        span = _EXPIRY.get(str(self.cleaned_data.get("expires") or ""))
        return datetime.now(UTC) + span if span else None
