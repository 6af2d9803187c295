from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.passwords import password_length_validator


class SignInForm(forms.Form):
    username = forms.CharField(
        label=_("Account name"),
        max_length=512,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True, "autocapitalize": "none"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        # Refused here, never forwarded: Stalwart would hash it to compare.
        validators=[password_length_validator()],
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def clean_username(self) -> str:
        # Stalwart lowercases the login and the official client drops spaces.
        return "".join(self.cleaned_data["username"].split()).lower()


class TotpForm(forms.Form):
    code = forms.RegexField(
        label=_("Code from your authenticator app"),
        regex=r"^\d{6,8}$",
        error_messages={"invalid": _("Enter the 6 to 8 digits your authenticator app shows.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "pattern": "[0-9]{6,8}"}
        ),
    )

    def clean_code(self) -> str:
        return str(self.cleaned_data["code"]).strip()
