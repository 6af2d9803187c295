"""Forms of the security pages. Passwords are never rendered back (PasswordInput)."""

from __future__ import annotations

import base64
import ipaddress
import re
from datetime import date
from typing import Any

from django import forms
from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.passwords import password_length_validator

from . import strength

CODE_PATTERN = r"^\d{6,8}$"
MAX_CERTIFICATE_BYTES = 256 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def password_field(
    label: str = _("Your current password"), *, autocomplete: str = "current-password"
) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        validators=[password_length_validator()],
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


def code_field(*, required: bool) -> forms.RegexField:
    return forms.RegexField(
        label=_("Code from your authenticator app"),
        regex=CODE_PATTERN,
        required=required,
        error_messages={
            "invalid": _("Enter the 6 digits your authenticator app shows (some apps show 8)."),
            "required": _("Enter the code your authenticator app shows."),
        },
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9]{6,8}", "size": 8}
        ),
    )


class CodeStepMixin:
    """Forms whose code field appears only when the account uses two-factor sign-in."""

    def __init__(self, *args, needs_code: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self.needs_code = needs_code
        if not needs_code:
            del self.fields["code"]  # type: ignore[attr-defined]

    def credentials_secret(self) -> str:
        """What goes after the name in Basic auth: `password` or `password$code`."""
        data = self.cleaned_data  # type: ignore[attr-defined]
        code = data.get("code") or ""
        return f"{data['password']}${code}" if code else data["password"]


def allowed_ips_field() -> forms.CharField:
    return forms.CharField(
        label=_("Allowed from"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_("IP addresses or networks (such as 192.0.2.0/24), one per line. Empty: from anywhere."),
    )


def clean_networks(text: str) -> tuple[str, ...]:
    networks = []
    for line in text.split():
        try:
            networks.append(str(ipaddress.ip_network(line, strict=False)))
        except ValueError:
            raise forms.ValidationError(
                gettext("“%(value)s” is not an IP address or network.") % {"value": line[:64]}
            ) from None
    return tuple(dict.fromkeys(networks))


class AppPasswordForm(forms.Form):
    label = forms.CharField(
        label=_("What will use it?"),
        max_length=64,
        help_text=_("A name to recognise it by later, such as “iPhone Mail” or “Thunderbird at home”."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
    )

    def clean_label(self) -> str:
        label = " ".join(self.cleaned_data["label"].split())
        if not label or _CONTROL.search(label):
            raise forms.ValidationError(gettext("Use letters, digits and spaces for the name."))
        return label

    def __init__(self, *args: Any, options: bool = False, **kwargs: Any) -> None:
        """`options`: the server keeps an expiry and allowed addresses per app password (0.16+)."""
        super().__init__(*args, **kwargs)
        if options:
            self.fields["expires_days"] = forms.IntegerField(
                label=_("Expires after (days)"),
                required=False,
                min_value=1,
                max_value=3650,
                help_text=_("Leave empty for a password that does not expire."),
            )
            self.fields["allowed_ips"] = allowed_ips_field()

    def clean_allowed_ips(self) -> tuple[str, ...]:
        return clean_networks(self.cleaned_data.get("allowed_ips", ""))


#: x:CredentialPermissions choices (Stalwart 0.16+): what a key or app password may do
SCOPE_CHOICES = (
    ("Inherit", _("Everything your account may do")),
    ("Replace", _("Only the permissions chosen below")),
    ("Disable", _("Everything except the permissions chosen below")),
)


class CredentialScopeMixin:
    """The scope of a 0.16 credential: a type and a choice among the permissions one holds.

    Only permissions the person holds are offered (the server refuses more: `forbidden`)."""

    def add_scope_fields(self, held: frozenset[str], *, current: tuple[str, ...] = ()) -> None:
        fields = self.fields  # type: ignore[attr-defined]
        fields["scope"] = forms.ChoiceField(
            label=_("Permissions"), choices=SCOPE_CHOICES, initial="Inherit", widget=forms.RadioSelect
        )
        names = sorted(held | set(current))
        fields["permissions"] = forms.MultipleChoiceField(
            label=_("Chosen permissions"),
            required=False,
            choices=[(name, name) for name in names],
            widget=forms.CheckboxSelectMultiple(attrs={"class": "permission-choices"}),
            help_text=_("Only permissions your own account holds can be chosen."),
        )
        self.held = held

    def clean_permissions(self) -> tuple[str, ...]:
        chosen = tuple(sorted(self.cleaned_data.get("permissions") or ()))  # type: ignore[attr-defined]
        beyond = [name for name in chosen if name not in self.held]
        if beyond:
            raise forms.ValidationError(
                gettext("Your account does not hold these permissions: %(names)s")
                % {"names": ", ".join(name[:64] for name in beyond[:5])}
            )
        return chosen

    def scope(self) -> tuple[str, tuple[str, ...]]:
        data = self.cleaned_data  # type: ignore[attr-defined]
        kind = data.get("scope") or "Inherit"
        return kind, (tuple(data.get("permissions") or ()) if kind != "Inherit" else ())

    def check_scope(self) -> None:
        data = self.cleaned_data  # type: ignore[attr-defined]
        if data.get("scope") == "Replace" and not data.get("permissions") and "permissions" in data:
            self.add_error(  # type: ignore[attr-defined]
                "permissions", gettext("Choose at least one permission, or let it do everything your account may do.")
            )


class CredentialOptionsForm(CredentialScopeMixin, forms.Form):
    """What a 0.16 credential (app password, API key) may do: its expiry, the addresses it may be
    used from and its scope among the permissions the person holds."""

    #: the expiry's help text, naming the credential
    never_expires = _("Leave empty for one that does not expire.")

    expires = forms.DateField(
        label=_("Expires on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    allowed_ips = allowed_ips_field()

    def __init__(
        self, *args: Any, held: frozenset[str] = frozenset(), current: tuple[str, ...] = (), today: date | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["expires"].help_text = format_lazy(
            "{} {}", _("It stops working at the end of that day (UTC)."), self.never_expires
        )
        self.add_scope_fields(held, current=current)

    def clean_expires(self) -> date | None:
        value: date | None = self.cleaned_data.get("expires")
        if value is not None and self.today is not None and value < self.today and value != self.initial.get("expires"):
            raise forms.ValidationError(gettext("Choose today or a later day."))
        return value

    def clean_allowed_ips(self) -> tuple[str, ...]:
        return clean_networks(self.cleaned_data.get("allowed_ips", ""))

    def clean(self) -> dict[str, Any] | None:
        data = super().clean()
        self.check_scope()
        return data


class AppPasswordEditForm(CredentialOptionsForm):
    """The options of an existing app password (Stalwart 0.16+): name, expiry, allowed addresses
    and scope (what it may do, among the permissions the person holds)."""

    never_expires = _("Leave empty for a password that does not expire.")
    field_order = ["label", "expires", "allowed_ips"]
    label = AppPasswordForm.base_fields["label"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["label"].widget.attrs.pop("autofocus", None)
        self.fields["label"].help_text = _("A name to recognise it by.")
        self.fields["scope"].required = False  # not sent: the scope stays as it is

    clean_label = AppPasswordForm.clean_label


class TwoFactorEnableForm(forms.Form):
    code = code_field(required=True)
    password = password_field()


class TwoFactorDisableForm(forms.Form):
    password = password_field()
    code = code_field(required=True)

    def credentials_secret(self) -> str:
        return f"{self.cleaned_data['password']}${self.cleaned_data['code']}"


class PasswordChangeForm(CodeStepMixin, forms.Form):
    password = password_field()
    code = code_field(required=True)
    new_password = password_field(_("New password"), autocomplete="new-password")
    confirm_password = password_field(_("Type the new password again"), autocomplete="new-password")

    def __init__(self, *args, account_name: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.account_name = account_name
        # Live strength feedback while typing (htmx; the page works without it).
        self.fields["new_password"].widget.attrs.update(
            {
                "aria-describedby": "strength",
                "hx-post": reverse("account:password-strength"),
                "hx-trigger": "input changed delay:300ms",
                "hx-target": "#strength",
                "hx-swap": "outerHTML",
                "hx-params": "new_password",
                "hx-sync": "this:replace",
            }
        )

    def clean_new_password(self) -> str:
        password = self.cleaned_data["new_password"]
        result = strength.assess(password, self.account_name)
        if not result.ok:
            raise forms.ValidationError(list(result.problems))
        return password

    def clean(self) -> dict:
        data = super().clean()
        new, confirm = data.get("new_password"), data.get("confirm_password")
        if new and confirm is not None and new != confirm:
            self.add_error("confirm_password", gettext("The two new passwords are not the same. Type them again."))
        if new and data.get("password") == new:
            self.add_error("new_password", gettext("The new password is the same as the current one."))
        return data


ENCRYPTION_METHOD_CHOICES = [
    ("pGP", _("OpenPGP — a public key from GnuPG, Thunderbird, Proton or similar")),
    ("sMIME", _("S/MIME — a certificate, as used by Outlook and Apple Mail")),
]
ALGORITHM_CHOICES = [("Aes256", _("AES-256 (recommended)")), ("Aes128", "AES-128")]
#: Stalwart 0.16+: ciphers for S/MIME certificates only
AEAD_ALGORITHM_CHOICES = [
    ("Aes256Gcm", _("AES-256-GCM (S/MIME only)")),
    ("ChaCha20Poly1305", _("ChaCha20-Poly1305 (S/MIME only)")),
]


class EncryptionForm(CodeStepMixin, forms.Form):
    method = forms.ChoiceField(label=_("Type of key"), choices=ENCRYPTION_METHOD_CHOICES, widget=forms.RadioSelect)
    algo = forms.ChoiceField(label=_("Cipher"), choices=ALGORITHM_CHOICES, initial="Aes256")
    certs = forms.CharField(
        label=_("Paste your public key or certificate"),
        required=False,
        strip=False,
        widget=forms.Textarea(
            attrs={"rows": 8, "spellcheck": "false", "placeholder": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n…"}
        ),
        help_text=_("Only the public part. Several S/MIME certificates can be pasted one after the other."),
    )
    certs_file = forms.FileField(label=_("…or upload it"), required=False)
    allow_spam_training = forms.BooleanField(
        label=_("Let the spam filter learn from my encrypted mail"),
        required=False,
        help_text=_("The filter reads each message before it is encrypted; without this it learns nothing from yours."),
    )
    encrypt_on_append = forms.BooleanField(
        label=_("Also encrypt messages my mail apps save or copy into my mailbox"),
        required=False,
        help_text=_("Such as sent mail, drafts and imported messages. Without this only arriving mail is encrypted."),
    )
    password = password_field()
    code = code_field(required=True)

    def __init__(self, *args, spam_training: bool = False, settings: bool = False, **kwargs) -> None:
        """`spam_training`: the server asks for `allow_spam_training` (Stalwart 0.15+);
        `settings`: Stalwart 0.16+ (`Capabilities.encryption_settings`): more ciphers and
        `encrypt_on_append`."""
        super().__init__(*args, **kwargs)
        if not spam_training:
            del self.fields["allow_spam_training"]
        if settings:
            self.fields["algo"].choices = [*ALGORITHM_CHOICES, *AEAD_ALGORITHM_CHOICES]  # type: ignore[attr-defined]
        else:
            del self.fields["encrypt_on_append"]

    def clean_certs_file(self):
        upload = self.cleaned_data.get("certs_file")
        if upload is None:
            return None
        if upload.size > MAX_CERTIFICATE_BYTES:
            raise forms.ValidationError(gettext("This file is too large for a key or certificate."))
        return upload.read(MAX_CERTIFICATE_BYTES + 1)

    def clean(self) -> dict:
        data = super().clean()
        raw = data.get("certs_file")
        if raw:
            data["certificates"] = certificate_text(raw, data.get("method", ""))
        elif (data.get("certs") or "").strip():
            data["certificates"] = data["certs"].strip() + "\n"
        else:
            self.add_error("certs", gettext("Paste your public key or certificate, or upload the file."))
        if data.get("method") == "pGP" and str(data.get("algo")) in {value for value, _label in AEAD_ALGORITHM_CHOICES}:
            self.add_error(
                "algo", gettext("This cipher works with S/MIME certificates only: choose AES-256 for an OpenPGP key.")
            )
        return data


def certificate_text(raw: bytes, method: str) -> str:
    """Uploaded bytes as text: PEM/armored files as they are, binary (DER, .gpg) wrapped."""
    try:
        text = raw.decode("ascii")
        if "-----BEGIN" in text:
            return text
    except UnicodeDecodeError:
        pass
    encoded = base64.b64encode(raw).decode("ascii")
    lines = "\n".join(encoded[i : i + 64] for i in range(0, len(encoded), 64))
    tag = "PGP PUBLIC KEY BLOCK" if method == "pGP" else "CERTIFICATE"
    separator = "\n\n" if method == "pGP" else "\n"
    return f"-----BEGIN {tag}-----{separator}{lines}\n-----END {tag}-----\n"


class EncryptionOffForm(CodeStepMixin, forms.Form):
    prefix = "off"  # shares the page with EncryptionForm: distinct field ids
    password = password_field()
    code = code_field(required=True)


class ApiKeyForm(CredentialOptionsForm):
    """A new API key, or the options of one (Stalwart 0.16+): never its secret."""

    never_expires = _("Leave empty for a key that does not expire.")
    field_order = ["description", "expires", "allowed_ips"]
    description = forms.CharField(
        label=_("Description"),
        max_length=128,
        help_text=_("What uses this key, such as “backup script” or “monitoring”."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean_description(self) -> str:
        text = " ".join(self.cleaned_data["description"].split())
        if not text or _CONTROL.search(text):
            raise forms.ValidationError(gettext("Use letters, digits and spaces for the description."))
        return text
