"""Django forms built from the schema's field descriptions (Stalwart 0.16+ settings).

One widget per field type: text (a text area for `text`/`html`), number, boolean, enum select,
id select (the names of the objects it may point at, when they could be read), a list of
strings (one per line) or checkboxes for a set of enum values or ids, duration ("1h 30m") and
size ("10 MB") as text, date and time as ISO 8601 text, secrets as a password box that is never
filled (empty keeps the current secret; an optional one that is set has a "Remove" box), and
JSON for nested objects, maps and lists of objects. `wire()` turns a field's cleaned value into
the server's JSON, `shown()` a server value into words, and `changes()` compares what was typed
with what the server holds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.utils.translation import gettext

from portal.stalwart.settings_types import Field, SettingsSchema

SECRET_SET = "****"
_DURATION_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))
_DURATION_WORDS = {
    "ms": 1, "s": 1000, "sec": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000,
    "w": 604_800_000,
}
_SIZE_UNITS = (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024), ("B", 1))
_SIZE_WORDS = {"b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3,
               "t": 1024**4, "tb": 1024**4}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)")


def duration_text(ms: int) -> str:
    if ms <= 0:
        return str(ms)
    parts = []
    rest = ms
    for unit, size in _DURATION_UNITS:
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return " ".join(parts)


def parse_duration(text: str) -> int | None:
    """"1h 30m", "90s", "500ms" or a number of milliseconds; None when unreadable."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    total = 0.0
    position = 0
    for match in _PART.finditer(text):
        if text[position : match.start()].strip(" ,"):
            return None
        unit = _DURATION_WORDS.get(match.group(2) or "ms")
        if unit is None:
            return None
        total += float(match.group(1)) * unit
        position = match.end()
    if position == 0 or text[position:].strip():
        return None
    return int(total)


def size_text(size: int) -> str:
    for unit, factor in _SIZE_UNITS:
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


def parse_size(text: str) -> int | None:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match:
        return None
    factor = _SIZE_WORDS.get((match.group(2) or "b").lower())
    return int(float(match.group(1)) * factor) if factor else None


@dataclass(frozen=True, slots=True)
class Change:
    """One line of the preview: the field, what the server holds and what saving sends."""

    field: Field
    old: str
    new: str
    secret: bool = False


def widget_kind(field: Field, choices: dict[str, tuple[tuple[str, str], ...]]) -> str:
    t = field.type
    if t.secret:
        return "secret"
    if t.kind == "boolean":
        return "nullboolean" if t.nullable else "boolean"
    if t.kind == "enum":
        return "enum"
    if t.kind == "objectId":
        return "id" if t.object_name in choices else "text"
    if t.kind == "number":
        return {"duration": "duration", "size": "size", "float": "float"}.get(t.format, "integer")
    if t.kind == "string":
        return "textarea" if t.format in ("text", "html") else "text"
    if t.kind in ("utcDateTime", "blobId"):
        return "text"
    if t.kind == "set" and t.item is not None and t.item.scalar:
        if t.item.kind == "enum":
            return "enum-set"
        if t.item.kind == "objectId" and t.item.object_name in choices:
            return "id-set"
        return "lines"
    return "json"


class SchemaForm(forms.Form):
    """The form of one object (or one variant, or one view of a singleton)."""

    def __init__(
        self,
        *args: Any,
        schema: SettingsSchema,
        fields: list[Field],
        creating: bool,
        enterprise: bool,
        choices: dict[str, tuple[tuple[str, str], ...]],
        current: dict[str, Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.schema = schema
        self.described = {f.name: f for f in fields}
        self.choices = choices
        self.current = current
        self.creating = creating
        self.kinds: dict[str, str] = {}
        self.locked: list[Field] = []
        for field in fields:
            if not field.editable(creating=creating) or (field.enterprise and not enterprise):
                self.locked.append(field)
                continue
            kind = widget_kind(field, choices)
            self.kinds[field.name] = kind
            self.fields[field.name] = self._form_field(field, kind)
            if not self.is_bound:
                self.initial[field.name] = self._initial(field, kind, current.get(field.name))
            if not creating and self._removed(field) is not _KEEP and self._is_set(field, current.get(field.name)):
                # an optional secret that is set can be removed (a checkbox beside its box)
                self.kinds[remove_name(field.name)] = "remove"
                self.fields[remove_name(field.name)] = forms.BooleanField(
                    required=False, label=gettext("Remove this secret")
                )

    # --- building -----------------------------------------------------------------------------
    def _form_field(self, field: Field, kind: str) -> forms.Field:
        t = field.type
        required = not t.nullable and kind not in ("boolean", "secret", "enum-set", "id-set", "lines", "json")
        attrs: dict[str, Any] = {"spellcheck": "false", "autocomplete": "off"}
        if field.placeholder:
            attrs["placeholder"] = field.placeholder
        common: dict[str, Any] = {"required": required, "label": field.label, "help_text": field.description}
        if kind == "secret":
            creating_required = self.creating and not t.nullable
            return forms.CharField(
                required=creating_required, strip=False, label=field.label, help_text=field.description,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            )
        if kind == "boolean":
            return forms.BooleanField(required=False, label=field.label, help_text=field.description)
        if kind == "nullboolean":
            return forms.NullBooleanField(required=False, label=field.label, help_text=field.description)
        if kind == "enum":
            options = list(self.schema.enum_choices(t.enum))
            if t.nullable:
                options = [("", gettext("(not set)")), *options]
            return forms.ChoiceField(choices=options, **common)
        if kind == "id":
            options = list(self.choices.get(t.object_name, ()))
            if t.nullable:
                options = [("", gettext("(none)")), *options]
            return forms.ChoiceField(choices=options, **common)
        if kind == "integer":
            return forms.IntegerField(
                min_value=int(t.minimum) if t.minimum is not None else None,
                max_value=int(t.maximum) if t.maximum is not None else None,
                widget=forms.NumberInput(attrs=attrs), **common,
            )
        if kind == "float":
            return forms.FloatField(widget=forms.NumberInput(attrs={**attrs, "step": "any"}), **common)
        if kind in ("duration", "size"):
            hint = gettext("e.g. 1h 30m, 45s, 500ms") if kind == "duration" else gettext("e.g. 10 MB, 512 KB")
            return forms.CharField(widget=forms.TextInput(attrs={**attrs, "placeholder": field.placeholder or hint}),
                                   **common)
        if kind == "textarea":
            return forms.CharField(strip=False, widget=forms.Textarea(attrs={**attrs, "rows": 6}), **common)
        if kind == "text":
            return forms.CharField(
                max_length=t.max_length, widget=forms.TextInput(attrs=attrs), **common
            )
        if kind in ("enum-set", "id-set"):
            assert t.item is not None
            options = (
                list(self.schema.enum_choices(t.item.enum)) if kind == "enum-set"
                else list(self.choices.get(t.item.object_name, ()))
            )
            return forms.MultipleChoiceField(
                choices=options, required=False, label=field.label, help_text=field.description,
                widget=forms.CheckboxSelectMultiple,
            )
        if kind == "lines":
            return forms.CharField(
                required=False, label=field.label, help_text=field.description,
                widget=forms.Textarea(attrs={**attrs, "rows": 4}),
            )
        return forms.CharField(
            required=False, strip=False, label=field.label, help_text=field.description,
            widget=forms.Textarea(attrs={**attrs, "rows": 8, "class": "code-input"}),
        )

    def _initial(self, field: Field, kind: str, value: Any) -> Any:
        if kind == "secret":
            return ""
        if value is None:
            return "" if kind not in ("boolean", "nullboolean") else (None if kind == "nullboolean" else False)
        if kind == "duration" and isinstance(value, int | float):
            return duration_text(int(value))
        if kind == "size" and isinstance(value, int | float):
            return size_text(int(value))
        if kind in ("enum-set", "id-set"):
            return sorted(value) if isinstance(value, dict) else []
        if kind == "lines":
            return "\n".join(sorted(str(v) for v in value)) if isinstance(value, dict) else ""
        if kind == "json":
            return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
        if kind in ("boolean", "nullboolean"):
            return bool(value)
        return value if isinstance(value, str | int | float) else json.dumps(value)

    # --- reading what was typed ---------------------------------------------------------------
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.values: dict[str, Any] = {}
        for name, kind in self.kinds.items():
            if name not in cleaned or kind == "remove":
                continue
            try:
                self.values[name] = self._wire(self.described[name], kind, cleaned[name])
            except ValueError as exc:
                self.add_error(name, str(exc))
                continue
            if cleaned.get(remove_name(name)):
                if self.values[name] is not _KEEP and self.values[name] != self.current.get(name):
                    self.add_error(name, gettext("Type a new secret or remove it, not both."))
                else:
                    self.values[name] = self._removed(self.described[name])
        return cleaned

    def _removed(self, field: Field) -> Any:
        """What unsets an optional secret: null, or the empty variant of a secret object
        (`{"@type": "None"}` of `x:SecretKeyOptional`); `_KEEP` when it cannot be unset."""
        t = field.type
        if t.secret:
            return None if t.nullable else _KEEP
        if t.kind == "object" and self.schema.holds_secret(t.object_name):
            empty = self.schema.empty_variant(t.object_name)
            return {"@type": empty} if empty else _KEEP
        return _KEEP

    def _is_set(self, field: Field, value: Any) -> bool:
        if value in (None, "", {}):
            return False
        return not (isinstance(value, dict) and value.get("@type") == self.schema.empty_variant(field.type.object_name))

    def secretive(self, field: Field) -> bool:
        """A secret, or an object that holds one: shown only as set or not set."""
        return field.secret or (field.type.kind == "object" and self.schema.holds_secret(field.type.object_name))

    def _wire(self, field: Field, kind: str, value: Any) -> Any:
        t = field.type
        if kind == "secret":
            return value if value else _KEEP
        if kind in ("boolean", "nullboolean"):
            return value
        if kind in ("enum-set", "id-set"):
            return {str(item): True for item in value}
        if kind == "lines":
            assert t.item is not None
            items = [line.strip() for line in str(value).splitlines() if line.strip()]
            if t.item.kind == "number":
                try:
                    return {str(int(item)): True for item in items}
                except ValueError:
                    raise ValueError(gettext("Give whole numbers, one per line.")) from None
            return dict.fromkeys(items, True)
        if kind == "json":
            text = str(value).strip()
            if not text:
                return {} if t.kind in ("map", "objectList", "set") else None
            try:
                return json.loads(text)
            except ValueError:
                raise ValueError(gettext("This is not valid JSON.")) from None
        if value in ("", None):
            return None
        if kind == "duration":
            number = parse_duration(str(value))
            if number is None:
                raise ValueError(gettext("Give a duration such as 30s, 5m, 2h or 1d."))
            return number
        if kind == "size":
            number = parse_size(str(value))
            if number is None:
                raise ValueError(gettext("Give a size such as 512 KB, 10 MB or a number of bytes."))
            return number
        if t.kind == "utcDateTime":
            try:
                datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(gettext("Give a date and time such as 2026-01-31T12:00:00Z.")) from None
        return value

    # --- comparing ----------------------------------------------------------------------------
    def patch(self) -> dict[str, Any]:
        """The properties that differ from what the server holds (every value when creating)."""
        patch: dict[str, Any] = {}
        for name, value in self.values.items():
            if value is _KEEP:
                continue
            if self.creating:
                if value is not None and value != {}:
                    patch[name] = value
                continue
            if value != self.current.get(name):
                patch[name] = value
        return patch

    def changes(self, patch: dict[str, Any]) -> list[Change]:
        return [
            Change(
                field=self.described[name],
                old="" if self.creating else shown(self.schema, self.described[name], self.current.get(name),
                                                   self.choices),
                new=shown(self.schema, self.described[name], value, self.choices),
                secret=self.secretive(self.described[name]),
            )
            for name, value in patch.items()
        ]


def remove_name(name: str) -> str:
    """The checkbox that removes an optional secret."""
    return f"{name}.remove"


class _Keep:
    """A secret left empty: the server keeps it."""

    def __repr__(self) -> str:
        return "<keep>"


_KEEP = _Keep()


def shown(
    schema: SettingsSchema, field: Field, value: Any, choices: dict[str, tuple[tuple[str, str], ...]] | None = None
) -> str:
    """A server value in words (secrets as set / not set, never their value)."""
    t = field.type
    if value is None or value == {} or value == "":
        return ""
    if t.secret:
        return gettext("set")
    if t.kind == "object" and schema.holds_secret(t.object_name):  # x:SecretKeyOptional ...
        empty = isinstance(value, dict) and value.get("@type") == schema.empty_variant(t.object_name)
        return "" if empty else gettext("set")
    if t.kind == "boolean":
        return gettext("yes") if value else gettext("no")
    if t.kind == "enum":
        return dict(schema.enum_choices(t.enum)).get(str(value), str(value))
    if t.kind == "objectId":
        return dict((choices or {}).get(t.object_name, ())).get(str(value), str(value))
    if t.kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        if t.format == "duration":
            return duration_text(int(value))
        if t.format == "size":
            return size_text(int(value))
        return str(value)
    if t.kind == "set" and isinstance(value, dict) and t.item is not None:
        item = t.item
        names = [str(key) for key in value]
        if item.kind == "enum":
            labels = dict(schema.enum_choices(item.enum))
            names = [labels.get(name, name) for name in names]
        elif item.kind == "objectId":
            labels = dict((choices or {}).get(item.object_name, ()))
            names = [labels.get(name, name) for name in names]
        return ", ".join(sorted(names))
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
