"""How good a new password is, in words a non-technical person understands.

Three rules, kept simple on purpose:

* at least 12 characters, or a passphrase of at least four words;
* not the account name (nor the part before the @);
* not one of the passwords everybody tries first, even with digits or symbols added
  ("Password2024!" is still "password").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext, ngettext

from portal.stalwart.secrets import MAX_PASSWORD_LENGTH

MIN_LENGTH = 12
MIN_WORDS = 4

# The passwords (and bases of passwords) that top every leaked-password list.
COMMON = frozenset(
    """
    password passwort motdepasse contraseña wachtwoord qwerty qwertz azerty qwertyuiop asdfgh asdfghjkl
    zxcvbnm abc abcd abcdef abcdefgh letmein welcome iloveyou admin administrator root login user guest
    test master monkey dragon football baseball soccer hockey sunshine princess shadow superman batman
    trustno michael jennifer jordan hunter ranger starwars pokemon whatever freedom secret summer winter
    spring autumn hello charlie donald mustang access flower cheese computer internet changeme default
    mail email webmail stalwart example qazwsx zaq passpass
    """.split()
)
_SEQUENCES = ("0123456789", "9876543210", "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_PADDING = "0123456789!?.#*+-_@$%&~ "
_WORD_SPLIT = re.compile(r"[\s\-_.,;:+/]+")


@dataclass(frozen=True, slots=True)
class Strength:
    problems: tuple[str, ...]
    score: int  # 0 (unusable) to 4 (very strong)
    label: str

    @property
    def ok(self) -> bool:
        return not self.problems


def words(password: str) -> list[str]:
    return [word for word in _WORD_SPLIT.split(password) if word]


def _is_common(password: str) -> bool:
    lowered = password.lower()
    if len(set(lowered)) <= 2:  # "aaaaaaaaaaaa", "abababababab"
        return True
    if any(lowered in sequence * 2 for sequence in _SEQUENCES):  # "123456789012", "qwertyuiopqw"
        return True
    for candidate in {lowered, lowered.translate(_LEET)}:
        core = candidate.strip(_PADDING)
        if not core:  # only digits and symbols
            return True
        parts = set(words(core))
        if len(parts) == 1 and parts <= COMMON:  # "Password2024!", "p@ssw0rd p@ssw0rd"
            return True
        for size in range(3, len(core) // 2 + 1):  # "passwordpassword"
            if len(core) % size == 0 and core[:size] * (len(core) // size) == core and core[:size] in COMMON:
                return True
    return False


def assess(password: str, account_name: str = "") -> Strength:
    problems: list[str] = []
    if not password:
        return Strength((gettext("Enter a new password."),), 0, "")
    if len(password) > MAX_PASSWORD_LENGTH:
        text = gettext("A password can have at most %(limit_value)d characters.")
        return Strength((text % {"limit_value": MAX_PASSWORD_LENGTH},), 0, gettext("Too long"))
    long_enough = len(password) >= MIN_LENGTH or len(words(password)) >= MIN_WORDS
    if not long_enough:
        missing = MIN_LENGTH - len(password)
        problems.append(
            ngettext(
                "Use at least %(length)s characters (%(missing)s more), or a passphrase of at least %(words)s words.",
                "Use at least %(length)s characters (%(missing)s more), or a passphrase of at least %(words)s words.",
                missing,
            )
            % {"length": MIN_LENGTH, "missing": missing, "words": MIN_WORDS}
        )
    name = account_name.lower()
    if name and password.lower() in {name, name.split("@", 1)[0]}:
        problems.append(gettext("Don't use your account name as your password."))
    elif _is_common(password):
        problems.append(gettext("This is one of the passwords people try first. Choose something less predictable."))
    if problems:
        return Strength(tuple(problems), 1 if long_enough else 0, gettext("Too weak"))
    variety = sum(bool(re.search(pattern, password)) for pattern in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z\d]"))
    if len(password) >= 20 or len(words(password)) >= 5 or (len(password) >= 16 and variety >= 3):
        return Strength((), 4, gettext("Very strong"))
    if len(password) >= 14 or variety >= 3 or len(words(password)) >= MIN_WORDS:
        return Strength((), 3, gettext("Strong"))
    return Strength((), 2, gettext("Good"))
