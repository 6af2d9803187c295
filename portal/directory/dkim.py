"""Creating DKIM keys: the form of the DNS page, and the defaults made after a new domain."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.stalwart import errors
from portal.stalwart.dkim import ALGORITHMS, default_signature_id

if TYPE_CHECKING:
    from portal.stalwart import StalwartClient

# A DKIM selector is a sub-domain (RFC 6376 §3.1): labels of letters, digits and hyphens.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
SELECTOR_PATTERN = rf"^{_LABEL}(?:\.{_LABEL})*$"

ALGORITHM_CHOICES = (
    ("Ed25519", gettext_lazy("Ed25519: short keys, modern receivers")),
    ("Rsa", gettext_lazy("RSA 2048-bit: understood by every receiver")),
)


class DkimKeyForm(forms.Form):
    algorithm = forms.ChoiceField(
        label=gettext_lazy("Algorithm"), choices=ALGORITHM_CHOICES, initial="Ed25519", widget=forms.RadioSelect
    )
    selector = forms.CharField(
        label=gettext_lazy("Selector"),
        required=False,
        max_length=63,
        help_text=gettext_lazy("Optional. Without one, Stalwart uses the month and the algorithm, such as 202504e."),
        validators=[
            RegexValidator(
                SELECTOR_PATTERN,
                gettext_lazy(
                    "Use letters, digits and hyphens (dots between parts), not starting or ending with a hyphen."
                ),
                flags=re.IGNORECASE,
            )
        ],
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}),
    )

    def clean_selector(self) -> str:
        return str(self.cleaned_data["selector"]).strip().lower()


def already_exists_message(domain: str, algorithm: str) -> str:
    # Stalwart's answer carries the stored private key: it is never shown, logged or kept.
    return _(
        "%(domain)s already has an %(algorithm)s key (signature “%(signature)s”). "
        "Stalwart keeps one key per algorithm under this name: create the other algorithm, or remove "
        "the old signature in the server settings before creating a new one."
    ) % {"domain": domain, "algorithm": ALGORITHMS[algorithm], "signature": default_signature_id(algorithm, domain)}


def describe_failure(exc: errors.StalwartError) -> str:
    """A sentence for a refused key creation (never the body of a fieldAlreadyExists)."""
    if isinstance(exc, errors.Forbidden):
        return _("Your account may not create DKIM keys (dkim-signature-create).")
    if isinstance(exc, errors.BadRequest):
        return _("Stalwart could not read the request: %(detail)s") % {"detail": exc.detail or exc.message}
    if isinstance(exc, errors.StalwartUnavailable):
        return _("Stalwart could not be reached.")
    if isinstance(exc, errors.FieldAlreadyExists):
        return _("A key with this name already exists.")
    return exc.message


async def create_default_keys(client: StalwartClient, domain: str) -> list[str]:
    """Create the Ed25519 then the RSA key for a new domain, as the official web admin does.

    Stalwart chooses the signature ids (`ed25519-<domain>`, `rsa-<domain>`) and the selectors.
    Returns one sentence per key; failures are described, never raised. Call it only for
    people holding `dkim-signature-create`.
    """
    results = []
    for algorithm in ("Ed25519", "Rsa"):
        label = ALGORITHMS[algorithm]
        try:
            await client.dkim.create(domain, algorithm)
        except errors.FieldAlreadyExists:
            results.append(
                _("%(algorithm)s DKIM key: %(domain)s already has one.") % {"algorithm": label, "domain": domain}
            )
        except errors.StalwartError as exc:
            results.append(
                _("%(algorithm)s DKIM key not generated: %(reason)s")
                % {"algorithm": label, "reason": describe_failure(exc)}
            )
        else:
            results.append(_("%(algorithm)s DKIM key generated.") % {"algorithm": label})
    return results
