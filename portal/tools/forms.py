"""Forms of the helpdesk tools and maintenance actions."""

from __future__ import annotations

import re

from django import forms
from django.core.validators import validate_email
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.capabilities import Capabilities
from portal.stalwart.maintenance import IN_MEMORY_PREFIXES, RELOAD_SCOPES, STORE_ID
from portal.stalwart.spamfilter import MAX_MESSAGE

_TARGET = re.compile(r"(?:[^\s@/]+@)?[^\s@/.]+(?:\.[^\s@/.]+)+")
_DOMAIN = re.compile(r"[^\s@/.]+(?:\.[^\s@/.]+)*")


def _text_input(**attrs) -> forms.TextInput:
    return forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", **attrs})


#: The example account of the account fields: a login on <= 0.15, an e-mail address where
#: account names are addresses (0.16+, `Capabilities.names_are_addresses`).
ACCOUNT_EXAMPLE = "jane.doe"
ADDRESS_EXAMPLE = "jane.doe@example.org"
ACCOUNT_FIELDS = ("account", "authenticated_as")


def account_example(capabilities: Capabilities) -> str:
    return ADDRESS_EXAMPLE if capabilities.names_are_addresses else ACCOUNT_EXAMPLE


def fit_account_fields[F: forms.Form](form: F, capabilities: Capabilities) -> F:
    """The form's account fields with the example the connected server's names follow."""
    for name in ACCOUNT_FIELDS:
        field = form.fields.get(name)
        if field is not None and (name == "account" or capabilities.names_are_addresses):
            field.widget.attrs["placeholder"] = account_example(capabilities)
    if capabilities.names_are_addresses and "authenticated_as" in form.fields:
        form.fields["authenticated_as"].help_text = _(
            "The account's e-mail address when the message was sent by a signed-in user."
        )
    return form


class DeliveryForm(forms.Form):
    target = forms.CharField(
        label=_("E-mail address or domain"),
        max_length=255,
        widget=_text_input(placeholder=_("jane@example.com or example.com"), autocapitalize="none"),
        help_text=_("An address also checks that the receiving server accepts that recipient."),
    )

    def clean_target(self) -> str:
        value = self.cleaned_data["target"].strip().lower()
        if not _TARGET.fullmatch(value):
            raise forms.ValidationError(
                gettext("Enter an e-mail address or a domain, like jane@example.com or example.com.")
            )
        local, at, domain = value.rpartition("@")
        if not domain.isascii():
            try:  # DNS needs the ASCII form of an internationalised domain
                domain = domain.encode("idna").decode("ascii")
            except UnicodeError:
                raise forms.ValidationError(gettext("This domain name is not valid.")) from None
        return f"{local}{at}{domain}"


class MessageMixin:
    """A raw RFC 5322 message, pasted or uploaded as an .eml file (not both)."""

    message_required = True

    def clean_message_bytes(self) -> bytes:
        upload = self.cleaned_data.get("eml")
        text = self.cleaned_data.get("message") or ""
        if upload and text.strip():
            raise forms.ValidationError(gettext("Paste the message or upload a file, not both."))
        if upload:
            if upload.size > MAX_MESSAGE:
                raise forms.ValidationError(gettext("Stalwart reads messages up to 1 MiB; this file is larger."))
            return upload.read()
        raw = text.encode("utf-8")
        if len(raw) > MAX_MESSAGE:
            raise forms.ValidationError(gettext("Stalwart reads messages up to 1 MiB; this message is larger."))
        if self.message_required and not text.strip():
            raise forms.ValidationError(gettext("Paste the message (headers and body) or upload an .eml file."))
        return raw

    def clean(self):
        cleaned = super().clean()  # type: ignore[misc]
        try:
            cleaned["raw"] = self.clean_message_bytes()
        except forms.ValidationError as exc:
            self.add_error("message", exc)  # type: ignore[attr-defined]
        return cleaned


def _message_field(required: bool, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=_("Message"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "mono"}),
        help_text=help_text,
        strip=False,
    )


def _eml_field() -> forms.FileField:
    return forms.FileField(
        label=_("Or upload an .eml file"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".eml,message/rfc822"}),
    )


class DmarcForm(MessageMixin, forms.Form):
    message_required = False

    remote_ip = forms.GenericIPAddressField(
        label=_("Sender IP address"),
        widget=_text_input(placeholder="192.0.2.25"),
        help_text=_("The connecting server's IP."),
    )
    ehlo_domain = forms.CharField(
        label=_("EHLO name"),
        max_length=255,
        widget=_text_input(placeholder="mail.example.com"),
        help_text=_("The name the sending server gave in EHLO."),
    )
    mail_from = forms.CharField(
        label="MAIL FROM",
        max_length=320,
        widget=_text_input(placeholder="alice@example.com"),
        help_text=_("The envelope sender."),
    )
    message = _message_field(
        False,
        _(
            "Optional: the raw message, headers included, for DKIM, ARC and DMARC. "
            "Without it only SPF and the reverse IP are checked."
        ),
    )
    eml = _eml_field()

    def clean_ehlo_domain(self) -> str:
        value = self.cleaned_data["ehlo_domain"].strip().lower()
        if not _DOMAIN.fullmatch(value):
            raise forms.ValidationError(gettext("Enter a host name, like mail.example.com."))
        return value

    def clean_mail_from(self) -> str:
        value = self.cleaned_data["mail_from"].strip().lower()
        validate_email(value)
        return value


class TrainForm(MessageMixin, forms.Form):
    kind = forms.ChoiceField(
        label=_("This message is"),
        choices=(("spam", _("Spam")), ("ham", _("Not spam (ham)"))),
        widget=forms.RadioSelect,
        initial="spam",
    )
    account = forms.CharField(
        label=_("Account (optional)"),
        required=False,
        max_length=255,
        widget=_text_input(placeholder=ACCOUNT_EXAMPLE),
        help_text=_("Train only this account's filter. Leave empty to train the server-wide filter."),
    )
    message = _message_field(True, _("The raw message, headers included."))
    eml = _eml_field()


class ClassifyForm(MessageMixin, forms.Form):
    remote_ip = forms.GenericIPAddressField(label=_("Sender IP address"), widget=_text_input(placeholder="192.0.2.25"))
    ehlo_domain = forms.CharField(
        label=_("EHLO name"), max_length=255, widget=_text_input(placeholder="mail.example.com")
    )
    sender = forms.CharField(
        label=_("Envelope sender (MAIL FROM)"),
        required=False,
        max_length=320,
        widget=_text_input(placeholder="alice@example.com"),
        help_text=_("Leave empty for a bounce (null sender)."),
    )
    recipients = forms.CharField(
        label=_("Envelope recipients"),
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=_("One address per line."),
    )
    authenticated_as = forms.CharField(
        label=_("Authenticated as (optional)"),
        required=False,
        max_length=255,
        widget=_text_input(),
        help_text=_("The account name when the message was sent by a signed-in user."),
    )
    tls = forms.BooleanField(label=_("Received over TLS"), required=False, initial=True)
    message = _message_field(True, _("The raw message, headers included."))
    eml = _eml_field()

    def __init__(self, *args, null_sender: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not null_sender:  # Stalwart 0.16+ (`Capabilities.classify_null_sender`)
            self.fields["sender"].required = True
            self.fields["sender"].help_text = _("This server tests only messages with a sender address.")

    def clean_ehlo_domain(self) -> str:
        value = self.cleaned_data["ehlo_domain"].strip().lower()
        if not _DOMAIN.fullmatch(value):
            raise forms.ValidationError(gettext("Enter a host name, like mail.example.com."))
        return value

    def clean_sender(self) -> str:
        value = self.cleaned_data["sender"].strip()
        if value:
            validate_email(value)
        return value

    def clean_recipients(self) -> list[str]:
        values = [line.strip() for line in re.split(r"[\n,;]", self.cleaned_data["recipients"]) if line.strip()]
        if not values:
            raise forms.ValidationError(gettext("Enter at least one recipient."))
        for value in values:
            try:
                validate_email(value)
            except forms.ValidationError:
                raise forms.ValidationError(
                    gettext("%(address)s is not an e-mail address.") % {"address": value}
                ) from None
        return list(dict.fromkeys(values))[:100]


# --- maintenance ----------------------------------------------------------------------------
class ReloadForm(forms.Form):
    scope = forms.ChoiceField(
        label=_("What to reload"),
        choices=(
            ("", _("Everything")),
            ("lookup", _("Lookup lists only")),
            ("certificate", _("TLS certificates only")),
            ("server.blocked-ip", _("Blocked IP addresses only")),
        ),
        required=False,
    )
    dry_run = forms.BooleanField(
        label=_("Only check (dry run)"),
        required=False,
        help_text=_("Stalwart reads and checks the configuration without applying it (full reload only)."),
    )

    def clean_scope(self) -> str:
        value = self.cleaned_data.get("scope") or ""
        assert value in RELOAD_SCOPES
        return value


class SpamRulesForm(forms.Form):
    force = forms.BooleanField(label=_("Download even when the version is the same"), required=False)
    overwrite = forms.BooleanField(
        label=_("Overwrite rules changed locally"),
        required=False,
        help_text=_("Replaces spam-filter rules your administrators edited."),
    )


class AccountForm(forms.Form):
    account = forms.CharField(label=_("Account"), max_length=255, widget=_text_input(placeholder=ACCOUNT_EXAMPLE))

    def clean_account(self) -> str:
        return self.cleaned_data["account"].strip()


class OptionalAccountForm(forms.Form):
    account = forms.CharField(
        label=_("Account (optional)"),
        required=False,
        max_length=255,
        widget=_text_input(placeholder=ACCOUNT_EXAMPLE),
        help_text=_("Leave empty for every account."),
    )

    def clean_account(self) -> str:
        return self.cleaned_data["account"].strip()


INDEX_LABELS = {
    "email": _("E-mail"),
    "calendar": _("Calendars"),
    "contacts": _("Contacts"),
    "file": _("Files"),
    "tracing": _("Message traces"),
}


class ReindexForm(OptionalAccountForm):
    """Stalwart 0.15 rebuilds one index at a time (`Capabilities.reindex_indexes`); earlier
    versions have only the e-mail index, and no choice is shown."""

    index = forms.ChoiceField(label=_("Index"), choices=(), required=False)

    def __init__(self, *args, capabilities: Capabilities | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        indexes = capabilities.reindex_indexes if capabilities is not None else ()
        if indexes:
            self.fields["index"].choices = [(index, INDEX_LABELS.get(index, index)) for index in indexes]
            self.fields["index"].required = True
            self.fields["index"].initial = indexes[0]
            self.order_fields(["index", "account"])
        else:
            del self.fields["index"]


def _store_field(help_text: str) -> forms.CharField:
    return forms.CharField(
        label=_("Store (optional)"),
        required=False,
        max_length=64,
        widget=_text_input(placeholder="default"),
        help_text=help_text,
    )


class DataStoreForm(forms.Form):
    store = _store_field(_("The id of a data store from the configuration; empty means the main data store."))

    def clean_store(self) -> str:
        return _clean_store(self.cleaned_data["store"])


PREFIX_LABELS = {
    "acme": _("ACME (certificate) challenges"),
    "oauth": _("OAuth codes and tokens in flight"),
    "rate-rcpt": _("Rate limits: recipients"),
    "rate-scan": _("Rate limits: scanning"),
    "rate-loiter": _("Rate limits: loitering"),
    "rate-auth": _("Rate limits: authentication"),
    "rate-smtp": _("Rate limits: SMTP"),
    "rate-contact": _("Rate limits: contact forms"),
    "rate-http-authenticated": _("Rate limits: HTTP, signed in"),
    "rate-http-anonymous": _("Rate limits: HTTP, anonymous"),
    "rate-imap": _("Rate limits: IMAP"),
    "reputation-ip": _("Reputation: IP addresses"),
    "reputation-from": _("Reputation: senders"),
    "reputation-domain": _("Reputation: domains"),
    "reputation-asn": _("Reputation: networks (ASN)"),
    "greylist": _("Greylisting"),
    "bayes-account": _("Bayes spam models of every account"),
    "bayes-global": _("Server-wide Bayes spam model"),
    "trusted-reply": _("Trusted replies"),
    "lock-purge-account": _("Locks: account purges"),
    "lock-queue-message": _("Locks: queued messages"),
    "lock-queue-report": _("Locks: queued reports"),
    "lock-email-task": _("Locks: e-mail tasks"),
    "lock-housekeeper": _("Locks: housekeeper"),
}
assert set(PREFIX_LABELS) == set(IN_MEMORY_PREFIXES)


class InMemoryForm(forms.Form):
    """Offers only the prefixes the connected version knows (`Capabilities.in_memory_prefixes`):
    Stalwart 0.15 answers an unknown prefix with success and purges only expired keys."""

    store = _store_field(_("The id of an in-memory store from the configuration; empty means the default one."))
    prefix = forms.ChoiceField(
        label=_("What to purge"),
        choices=(("", _("Only expired keys")), *PREFIX_LABELS.items()),
        required=False,
    )

    def __init__(self, *args, capabilities: Capabilities | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if capabilities is not None:
            known = set(capabilities.in_memory_prefixes)
            self.fields["prefix"].choices = [
                (value, label) for value, label in self.fields["prefix"].choices if not value or value in known
            ]

    def clean_store(self) -> str:
        return _clean_store(self.cleaned_data["store"])


def _clean_store(value: str) -> str:
    value = value.strip()
    if value and not STORE_ID.fullmatch(value):
        raise forms.ValidationError(gettext("A store id has letters, digits, '-' and '_' only."))
    return "" if value == "default" else value
