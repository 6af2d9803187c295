"""The one length limit of every password typed into the portal (docs/security.md).

Forms check it with `password_length_validator()` rather than `max_length`, which would
also render a `maxlength` attribute: browsers cut a longer pasted password short without
a word, and the person would set (or try) a password other than the one they keep.
"""

from __future__ import annotations

from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy

from portal.stalwart.secrets import MAX_PASSWORD_LENGTH

TOO_LONG = gettext_lazy("A password can have at most %(limit_value)d characters.")


def password_length_validator() -> MaxLengthValidator:
    return MaxLengthValidator(MAX_PASSWORD_LENGTH, message=TOO_LONG)
