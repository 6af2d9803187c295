"""Forms for creating and editing principals, one shape per type."""

from __future__ import annotations

from django import forms
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.passwords import password_length_validator
from portal.stalwart import errors
from portal.stalwart.types import Principal

from .kinds import Kind

MIB = 1024**2
GIB = 1024**3
QUOTA_UNITS = (("MiB", "MiB"), ("GiB", "GiB"))
# Tenant per-type limits, by index of Stalwart's quota array (type id + 1).
TENANT_LIMITS = (
    ("limit_individual", gettext_lazy("Maximum accounts"), 1),
    ("limit_group", gettext_lazy("Maximum groups"), 2),
    ("limit_list", gettext_lazy("Maximum mailing lists"), 6),
    ("limit_domain", gettext_lazy("Maximum domains"), 8),
    ("limit_role", gettext_lazy("Maximum roles"), 10),
    ("limit_apikey", gettext_lazy("Maximum API keys"), 11),
)

NAME_LABELS = {
    "individual": gettext_lazy("Login name"),
    "domain": gettext_lazy("Domain name"),
    "apiKey": gettext_lazy("Key name"),
    "oauthClient": gettext_lazy("Client ID"),
}
NAME_HELP = {
    "individual": gettext_lazy("What the person types to sign in, for example jane.doe. Stored in lower case."),
    "domain": gettext_lazy("For example example.org."),
    "tenant": gettext_lazy("A short name for the organisation."),
}

# Which fields each type has (Stalwart's field names on the left).
FIELDS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "individual": ("description", "emails", "quota", "memberOf", "lists", "roles"),
    "group": ("description", "emails", "quota", "members", "memberOf", "lists"),
    "list": ("description", "emails", "members", "externalMembers"),
    "domain": ("description", "picture"),
    "tenant": ("description", "picture", "quota", "roles"),
    "role": ("description", "members", "roles"),
    "apiKey": ("description", "roles"),
    "oauthClient": ("description", "emails", "urls", "picture"),
}
# Which principal types a picker field offers (for the search helper).
PICKER_TYPES = {
    "memberOf": ("group",),
    "lists": ("list",),
    "roles": ("role",),
    "members": ("individual", "group"),
}
FIELD_NAMES = {"description", "picture", "tenant", "memberOf", "lists", "members", "roles", "externalMembers", "urls"}


def _lines(value: str) -> list[str]:
    seen: dict[str, None] = {}
    for line in value.replace(",", "\n").splitlines():
        item = line.strip()
        if item:
            seen.setdefault(item, None)
    return list(seen)


class LinesField(forms.CharField):
    """A list of values typed one per line (or separated by commas)."""

    widget = forms.Textarea

    def __init__(self, *args, lowercase: bool = False, emails: bool = False, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)
        self.lowercase, self.emails = lowercase, emails
        self.widget.attrs["rows"] = 3
        self.widget.attrs.setdefault("spellcheck", "false")

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(value)
        return value

    def clean(self, value):
        items = _lines(super().clean(value) or "")
        if self.lowercase:
            items = list(dict.fromkeys(item.lower() for item in items))
        if self.emails:
            for item in items:
                try:
                    validate_email(item)
                except forms.ValidationError:
                    raise forms.ValidationError(_("“%(item)s” is not an e-mail address.") % {"item": item}) from None
        return items


class PrincipalForm(forms.Form):
    """Fields depend on the principal type; values use Stalwart's field names."""

    def __init__(self, *args, kind: Kind, creating: bool, enterprise: bool, tenants: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind, self.creating = kind, creating
        fields = FIELDS_BY_TYPE[kind.type]
        self.fields["name"] = forms.CharField(
            label=NAME_LABELS.get(kind.type, _("Name")), max_length=512, help_text=NAME_HELP.get(kind.type, "")
        )
        self.fields["name"].widget.attrs.update(
            {"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}
        )
        if "description" in fields:
            label = {"individual": _("Full name"), "oauthClient": _("Display name")}.get(kind.type, _("Description"))
            self.fields["description"] = forms.CharField(label=label, max_length=512, required=False)
        if "emails" in fields:
            label = _("Contact e-mail") if kind.type == "oauthClient" else _("E-mail address")
            self.fields["email"] = forms.EmailField(label=label, required=False, max_length=512)
            if kind.type != "oauthClient":
                self.fields["aliases"] = LinesField(
                    label=_("Aliases"),
                    lowercase=True,
                    emails=True,
                    help_text=_("Other addresses that deliver here, one per line."),
                )
        if kind.type == "individual":
            self.fields["password"] = forms.CharField(
                label=_("Password") if creating else _("New password"),
                required=False,
                strip=False,
                validators=[password_length_validator()],
                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                help_text=_("Leave empty to keep the current password.")
                if not creating
                else _("Optional: without one the account can only use app passwords."),
            )
        if "quota" in fields:
            self.fields["quota_amount"] = forms.DecimalField(
                label=_("Storage quota"),
                required=False,
                min_value=0,
                max_digits=12,
                decimal_places=2,
                help_text=_("Empty or 0 means no limit."),
            )
            self.fields["quota_unit"] = forms.ChoiceField(
                label=_("Unit"), choices=QUOTA_UNITS, initial="GiB", required=False
            )
        if kind.type == "tenant":
            for field, label, _index in TENANT_LIMITS:
                self.fields[field] = forms.IntegerField(
                    label=label, required=False, min_value=0, help_text=_("0 or empty: no limit.")
                )
        for field, label, help_text in (
            ("memberOf", _("Member of groups"), _("Group names, one per line.")),
            ("lists", _("Mailing lists"), _("Mailing list names, one per line.")),
            ("members", _("Members"), _("Names, one per line.")),
            ("roles", _("Roles"), _("Role names, one per line: admin, tenant-admin, user or your own roles.")),
        ):
            if field in fields:
                self.fields[field] = LinesField(label=label, lowercase=True, help_text=help_text)
        if "externalMembers" in fields:
            self.fields["externalMembers"] = LinesField(
                label=_("External members"),
                lowercase=True,
                emails=True,
                help_text=_("Addresses outside this server, one per line."),
            )
        if "urls" in fields:
            self.fields["urls"] = LinesField(
                label=_("Redirect URIs"), help_text=_("One per line, for example https://app.example.org/callback.")
            )
        if "picture" in fields:
            self.fields["picture"] = forms.URLField(
                label=_("Logo URL"), required=False, max_length=512, assume_scheme="https"
            )
        if tenants is not None and kind.type not in {"tenant", "oauthClient"} and enterprise:
            self.fields["tenant"] = forms.ChoiceField(
                label=_("Tenant"), required=False, choices=[("", _("None"))] + [(name, name) for name in tenants]
            )

    def clean_name(self) -> str:
        return "".join(self.cleaned_data["name"].split()).lower()

    def clean_urls(self) -> list[str]:
        urls = self.cleaned_data.get("urls") or []
        for url in urls:
            if "://" not in url:
                raise forms.ValidationError(
                    _("“%(url)s” is not a URI (it needs a scheme such as https://).") % {"url": url}
                )
        return urls

    # -- conversion --------------------------------------------------------
    @staticmethod
    def initial_for(principal: Principal) -> dict:
        initial = {
            "name": principal.name,
            "description": principal.description,
            "email": principal.primary_email,
            "aliases": list(principal.aliases),
            "memberOf": list(principal.member_of),
            "lists": list(principal.lists),
            "members": list(principal.members),
            "roles": list(principal.roles),
            "externalMembers": list(principal.external_members),
            "urls": list(principal.urls),
            "picture": principal.picture,
            "tenant": principal.tenant,
        }
        if principal.quota:
            unit, divisor = ("GiB", GIB) if principal.quota % GIB == 0 or principal.quota >= GIB else ("MiB", MIB)
            amount = round(principal.quota / divisor, 2)
            initial["quota_amount"] = int(amount) if amount == int(amount) else amount
            initial["quota_unit"] = unit
        for field, _label, index in TENANT_LIMITS:
            if index < len(principal.quota_limits):
                initial[field] = principal.quota_limits[index]
        return initial

    def value_keys(self) -> set[str]:
        """The Stalwart fields this form edits."""
        keys = {"name"} | {field for field in self.fields if field in FIELD_NAMES}
        if "email" in self.fields:
            keys.add("emails")
        if "quota_amount" in self.fields:
            keys.add("quota")
        return keys

    def to_values(self) -> dict:
        """The submitted state in Stalwart's field names (only the fields this type has)."""
        data = self.cleaned_data
        values: dict = {"name": data["name"]}
        for field in ("description", "picture", "memberOf", "lists", "members", "roles", "externalMembers", "urls"):
            if field in self.fields:
                values[field] = data.get(field) or ([] if isinstance(self.fields[field], LinesField) else "")
        if "tenant" in self.fields:
            values["tenant"] = data.get("tenant") or ""
        if "email" in self.fields:
            primary = (data.get("email") or "").strip().lower()
            aliases = [alias for alias in data.get("aliases") or [] if alias != primary]
            values["emails"] = ([primary] if primary else []) + aliases
        if "quota_amount" in self.fields:
            amount = data.get("quota_amount") or 0
            unit = GIB if data.get("quota_unit") == "GiB" else MIB
            storage = int(amount * unit)
            if self.kind.type == "tenant":
                limits = [storage] + [0] * 11
                for field, _label, index in TENANT_LIMITS:
                    limits[index] = data.get(field) or 0
                values["quota"] = limits if any(limits[1:]) else storage
            else:
                values["quota"] = storage
        return values

    # -- Stalwart's refusals next to the right field ------------------------
    def add_stalwart_error(self, exc: errors.ManagementError, values: dict) -> None:
        self.add_error(field_for_error(exc, values, set(self.fields)), describe_error(exc))


_DETAIL_FIELDS = {
    "Invalid role": "roles",
    "Invalid roles value": "roles",
    "Invalid memberOf value": "memberOf",
    "Invalid lists value": "lists",
    "Invalid members value": "members",
    "Invalid email": "aliases",
    "Invalid email address": "externalMembers",
    "Invalid principal name": "name",
    "Invalid field": "tenant",
    "Not a tenant": "tenant",
}


def field_for_error(exc: errors.ManagementError, values: dict, available: set[str]) -> str | None:
    """Which form field a management error concerns, or None for the whole form."""
    candidate: str | None = None
    if isinstance(exc, errors.FieldAlreadyExists | errors.FieldMissing):
        candidate = {"name": "name", "emails": "email"}.get(exc.field or "", None)
        if candidate == "email" and isinstance(exc, errors.FieldAlreadyExists):
            emails = values.get("emails") or []
            candidate = "email" if emails and emails[0] == exc.value else "aliases"
    elif isinstance(exc, errors.ItemNotFound):
        item = exc.item
        for field in ("memberOf", "lists", "roles", "members", "tenant"):
            value = values.get(field)
            if item and (item == value or (isinstance(value, list) and item in value)):
                candidate = field
                break
        else:
            domains = [address.rpartition("@")[2] for address in values.get("emails") or []]
            if item in domains:
                candidate = "email" if domains and domains[0] == item else "aliases"
            elif item and values.get("name", "").endswith("@" + item):
                candidate = "name"
    elif isinstance(exc, errors.OtherError):
        candidate = _DETAIL_FIELDS.get(exc.details)
        if candidate is None and "externalMembers" in exc.reason:
            candidate = "externalMembers"
    if candidate == "aliases" and "aliases" not in available:
        candidate = "email"
    return candidate if candidate in available else None


def describe_error(exc: errors.ManagementError) -> str:
    """Stalwart's refusal as a sentence a helpdesk person understands."""
    if isinstance(exc, errors.FieldAlreadyExists):
        if exc.field == "emails":
            text = _("The address “%(value)s” is already used by another account, group, list or domain.")
        elif exc.field == "name":
            text = _("The name “%(value)s” is already used by another account, group, list or domain.")
        else:
            text = _("The %(field)s “%(value)s” is already used by another account, group, list or domain.")
        return text % {"field": exc.field or _("value"), "value": exc.value}
    if isinstance(exc, errors.FieldMissing):
        return _("This is required.")
    if isinstance(exc, errors.ItemNotFound):
        if exc.item:
            return _("“%(item)s” does not exist on the server.") % {"item": exc.item}
        return _("Something this refers to does not exist.")
    if isinstance(exc, errors.EnterpriseRequired):
        return _("This needs Stalwart's Enterprise edition.")
    if isinstance(exc, errors.OtherError):
        if exc.reason:
            return f"{exc.details}: {exc.reason}" if exc.details else exc.reason
        return exc.details or _("Stalwart refused this value.")
    return exc.message


class ConfirmCountForm(forms.Form):
    """Bulk deletion asks for the number of principals to be typed back."""

    count = forms.IntegerField(label=gettext_lazy("Type the number of items to delete"), min_value=0)

    def __init__(self, *args, expected: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = expected

    def clean_count(self) -> int:
        count = self.cleaned_data["count"]
        if count != self.expected:
            raise forms.ValidationError(_("Type %(count)d to confirm.") % {"count": self.expected})
        return count


class PasswordResetForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("New password"),
        strip=False,
        min_length=8,
        validators=[password_length_validator()],
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("App passwords and two-factor stay as they are."),
    )
    confirm = forms.CharField(
        label=gettext_lazy("Repeat the new password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("confirm") and data["password"] != data["confirm"]:
            self.add_error("confirm", _("The two passwords differ."))
        return data
