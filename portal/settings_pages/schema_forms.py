"""Django forms built from the schema's field descriptions (Stalwart 0.16+ settings).

One widget per field type: text (a text area for `text`/`html`), number, boolean, enum select,
id select (the names of the objects it may point at, when they could be read), a list of
strings (one per line) or checkboxes for a set of enum values or ids, duration ("1h 30m") and
size ("10 MB") as text, date and time as ISO 8601 text, secrets as a password box that is never
filled (empty keeps the current secret; an optional one that is set has a "Remove" box), and
JSON for what nothing below covers.

An embedded object (`x:HttpAuth`, `x:SecretKey`, a store...) is a `Node`: a fieldset of its own
fields (form names `<path>/<property>`), and for a polymorphic one a choice of its `@type`
(`<path>/@type`) and one group of fields per schema its variants use (`<path>/<variant>/<property>`,
the first variant of the schema naming the group). Every group is rendered, so the page works
without JavaScript; only the chosen variant's fields are read (CSS hides the others where the
browser can). Two levels nest (`httpAuth` → its `secret` wrapper); deeper objects, and objects
with more than `MAX_GROUPS` schemas, stay JSON. A secret inside is a password box never filled.

A list of objects (`x:Expression.match`, a store's `readReplicas`) or a map (`httpHeaders`) is a
`Many`: one `Row` per item (`<path>/<n>`: an object item is a `Node` of that name, a map's entry a
key `<path>/<n>.key` and a value `<path>/<n>.value` or a `Node`), each with a "Remove" box
(`<path>/<n>.remove`) and, in a list, its position (`<path>/<n>.position`: the items are taken in
that order, moving one sends the list whole), plus one blank row; `<path>.rows` says how many rows
the page showed, and the "Add another" button (`add=<path>`) shows the form again with one more,
saving nothing. A blank row left as it was shown is not an item. Lists of more than `MAX_ITEMS`
items, and lists or maps whose items would nest deeper than `MAX_DEPTH`, stay JSON. A list whose
items keep their places (edits only) is patched item by item by pointer (`match/1/then`); one that
gains, loses or reorders items is sent whole (renumbered from 0), and so is a changed map: a secret
inside an item the server holds must then be typed again (the server stores what is sent).

`wire()` turns a field's cleaned value into the server's JSON, `shown()` a server value into
words, and `changes()` compares what was typed with what the server holds: an edited embedded
object is patched by JSON pointer (`httpAuth/username`), only where it changed, and replaced as a
whole when its `@type` changes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Any

from django import forms
from django.forms.utils import ErrorDict
from django.http import QueryDict
from django.utils.translation import gettext, ngettext

from portal.stalwart.settings_types import MAX_CHOICES, Field, SettingsSchema, ValueType, Variant

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
#: How deep embedded objects get fields of their own (deeper ones are JSON).
MAX_DEPTH = 2
#: A polymorphic embedded object with more schemas than this is JSON (and the CSS that shows only
#: the chosen variant's fields knows this many groups).
MAX_GROUPS = 12
#: A list (or map) with more items than this is JSON.
MAX_ITEMS = 50


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


@dataclass(slots=True)
class Sub:
    """One field of an embedded object: its form name, and its own `Node` when it is an object too
    (its `Many` when it is a list of objects or a map)."""

    name: str
    field: Field
    kind: str
    node: Node | None = None
    many: Many | None = None
    #: a secret the server holds (for the "leave empty to keep" help)
    is_set: bool = False


@dataclass(slots=True)
class Group:
    """The fields of one schema of an embedded object, and the variants that use it."""

    index: int
    variants: tuple[str, ...]
    subs: list[Sub] = dataclass_field(default_factory=list)

    def sub(self, prop: str) -> Sub | None:
        return next((s for s in self.subs if s.field.name == prop), None)


@dataclass(slots=True)
class Node:
    """An embedded object shown as a fieldset of its own fields."""

    name: str
    field: Field
    variants: tuple[Variant, ...]
    groups: list[Group]

    @property
    def choice(self) -> str:
        """The form name of the `@type` choice ("" for a single object)."""
        return f"{self.name}/@type" if self.variants else ""

    def group(self, variant: str) -> Group | None:
        if not self.variants:
            return self.groups[0] if self.groups else None
        return next((g for g in self.groups if variant in g.variants), None)

    def label_of(self, variant: str) -> str:
        return next((v.label for v in self.variants if v.name == variant), variant)


@dataclass(slots=True)
class Row:
    """One item of a list of objects, or one entry of a map."""

    index: int
    #: its form name (`<path>/<index>`)
    name: str
    #: an object item (or a map's object value)
    node: Node | None = None
    #: its place among what the server holds (-1: a new row)
    held: int = -1
    #: a map entry's key as typed (after clean)
    key: str = ""


@dataclass(slots=True)
class Many:
    """A list of objects or a map, shown as rows of their own fields."""

    name: str
    field: Field
    is_map: bool
    #: what the server holds, in order: (key, value) (a list's keys are its indexes)
    held: list[tuple[str, Any]]
    rows: list[Row] = dataclass_field(default_factory=list)
    #: a map's scalar values: their schema description and widget kind
    value_field: Field | None = None
    value_kind: str = ""
    #: its items hold a secret
    secret: bool = False
    #: after clean: the rows sent, in order, and whether the whole list (or map) is sent
    sent: list[int] = dataclass_field(default_factory=list)
    whole: bool = False
    typed: Items | None = None

    @property
    def rows_name(self) -> str:
        return f"{self.name}.rows"


class Items(list[tuple[str, Any]]):
    """What was typed into a list of objects or a map: (key, value) pairs in order (a list's keys
    are not used: it is sent renumbered from 0)."""

    def __init__(self, pairs: list[tuple[str, Any]], *, is_map: bool) -> None:
        super().__init__(pairs)
        self.is_map = is_map

    def wire(self) -> dict[str, Any]:
        if self.is_map:
            return {key: _stripped(value) for key, value in self}
        return {str(index): _stripped(value) for index, (_, value) in enumerate(self)}


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
    if t.kind == "object":
        return "object"
    if t.kind == "objectList" or (t.kind == "map" and t.item is not None and t.key is not None):
        return "many"
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
        self.enterprise = enterprise
        self.kinds: dict[str, str] = {}
        self.nodes: dict[str, Node] = {}
        self.manys: dict[str, Many] = {}
        self.locked: list[Field] = []
        for field in fields:
            if not field.editable(creating=creating) or (field.enterprise and not enterprise):
                self.locked.append(field)
                continue
            kind = widget_kind(field, choices)
            if kind == "object":
                node = self._node(field, field.name, current.get(field.name), depth=1)
                if node is not None:
                    self.nodes[field.name] = node
                    continue
                kind = "json"
            if kind == "many":
                many = self._many(field, field.name, current.get(field.name), depth=1)
                if many is not None:
                    self.manys[field.name] = many
                    continue
                kind = "json"
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
    def _node(self, field: Field, name: str, value: Any, *, depth: int) -> Node | None:
        """The fieldset of an embedded object (None: too deep or too many kinds, it stays JSON)."""
        if depth > MAX_DEPTH:
            return None
        object_name = field.type.object_name
        variants = self.schema.object_variants(object_name)
        groups: list[Group] = []
        schemas: list[str] = []
        if variants:
            for variant in variants:
                if not variant.schema_name:
                    continue
                if variant.schema_name in schemas:
                    group = groups[schemas.index(variant.schema_name)]
                    group.variants = (*group.variants, variant.name)
                else:
                    schemas.append(variant.schema_name)
                    groups.append(Group(len(groups), (variant.name,)))
            if len(groups) > MAX_GROUPS:
                return None
        else:
            schemas.append(self.schema.object_schema(object_name))
            groups.append(Group(0, ()))
        node = Node(name, field, variants, groups)
        held = value if isinstance(value, dict) else {}
        chosen = str(held.get("@type") or "")
        for group, schema_name in zip(groups, schemas, strict=True):
            prefix = f"{name}/{group.variants[0]}" if variants else name
            current = isinstance(value, dict) and (not variants or chosen in group.variants)
            for sub in self.schema.object_fields(schema_name):
                if not sub.editable(creating=self.creating or not current) or (sub.enterprise and not self.enterprise):
                    continue
                sub_name = f"{prefix}/{sub.name}"
                sub_value = held.get(sub.name) if current else sub.default
                kind = widget_kind(sub, self.choices)
                inner = self._node(sub, sub_name, sub_value, depth=depth + 1) if kind == "object" else None
                many = self._many(sub, sub_name, sub_value, depth=depth + 1) if kind == "many" else None
                if kind in ("object", "many") and inner is None and many is None:
                    kind = "json"
                group.subs.append(
                    Sub(sub_name, sub, kind, inner, many, is_set=current and sub_value not in (None, ""))
                )
                if inner is not None or many is not None:
                    continue
                self.kinds[sub_name] = kind
                self.fields[sub_name] = self._form_field(sub, kind)
                self.fields[sub_name].required = False  # checked for the chosen variant only (clean)
                # (also on a bound form: a new row of a list is an item only when it was changed)
                self.initial[sub_name] = self._initial(sub, kind, sub_value)
        if variants:
            options = [(v.name, v.label) for v in variants]
            self.kinds[node.choice] = "variant"
            self.fields[node.choice] = forms.ChoiceField(
                choices=options, required=True, label=gettext("Kind"), help_text=field.description
            )
            self.initial[node.choice] = chosen or self._first_variant(field, variants)
        return node

    def _many(self, field: Field, name: str, value: Any, *, depth: int) -> Many | None:
        """The rows of a list of objects or of a map (None: too many items, items too deep, or
        keys that are not names or choices: it stays JSON). `depth` is its items' depth."""
        t = field.type
        is_map = t.kind == "map"
        value_field: Field | None = None
        value_kind = ""
        item = ValueType(kind="object", object_name=t.object_name)
        if is_map:
            assert t.item is not None and t.key is not None
            if t.key.kind not in ("string", "enum") or t.key.secret:
                return None
            item = t.item
            if item.kind != "object":
                value_field = Field(name=field.name, label=gettext("Value"), description="", type=item,
                                    update="mutable")
                value_kind = widget_kind(value_field, self.choices)
                if value_kind in ("json", "many", "object", "secret"):
                    return None
        if depth > MAX_DEPTH and value_field is None:
            return None
        held = _entries(value, is_map=is_map)
        if len(held) > MAX_ITEMS:
            return None
        secret = item.kind == "object" and self.schema.holds_secret_deep(item.object_name)
        many = Many(name, field, is_map, held, value_field=value_field, value_kind=value_kind, secret=secret)
        count = len(held) + 1
        if self.is_bound:
            try:
                count = int(str(self.data.get(many.rows_name) or 0))
            except ValueError:
                count = 0
            count = max(count, len(held)) + (1 if self.data.get("add") == name else 0)
        count = min(count, MAX_ITEMS + 1)
        item_label = field.label
        for index in range(max(count, len(held))):
            row = Row(index, f"{name}/{index}", held=index if index < len(held) else -1)
            key, current = held[index] if index < len(held) else ("", None)
            if value_field is None:
                label = gettext("%(label)s: item %(number)d") % {"label": item_label, "number": index + 1}
                if is_map:
                    label = gettext("%(label)s: entry %(number)d") % {"label": item_label, "number": index + 1}
                item_field = Field(name=field.name, label=label, description="", type=item, update="mutable",
                                   default=None)
                row.node = self._node(item_field, row.name, current, depth=depth)
                if row.node is None:
                    return None
            else:
                self.kinds[f"{row.name}.value"] = value_kind
                self.fields[f"{row.name}.value"] = self._form_field(value_field, value_kind)
                self.fields[f"{row.name}.value"].required = False
                self.initial[f"{row.name}.value"] = self._initial(value_field, value_kind, current)
            if is_map:
                assert t.key is not None
                key_field: forms.Field = forms.CharField(required=False, label=gettext("Name"), max_length=255)
                if t.key.kind == "enum":
                    key_field = forms.ChoiceField(
                        required=False, label=gettext("Name"),
                        choices=[("", gettext("(choose)")), *self.schema.enum_choices(t.key.enum)],
                    )
                self.kinds[f"{row.name}.key"] = "key"
                self.fields[f"{row.name}.key"] = key_field
                self.initial[f"{row.name}.key"] = key
            self.kinds[f"{row.name}.remove"] = "remove"
            self.fields[f"{row.name}.remove"] = forms.BooleanField(required=False, label=gettext("Remove"))
            if not is_map:  # a list's order matters (an expression's rules): each item has its place
                self.kinds[f"{row.name}.position"] = "position"
                self.fields[f"{row.name}.position"] = forms.IntegerField(
                    required=False, min_value=1, max_value=MAX_ITEMS + 1, label=gettext("Position"),
                    widget=forms.NumberInput(attrs={"class": "input-position"}),
                )
                self.initial[f"{row.name}.position"] = index + 1
            many.rows.append(row)
        self.kinds[many.rows_name] = "rows"
        if self.is_bound and self.data.get("add") == name and len(many.rows) > len(held):
            self._seed(many.rows[-1].name)
        return many

    def _seed(self, prefix: str) -> None:
        """The row "Add another" adds starts from its initial values (the page shows what was
        posted, and nothing was posted for it)."""
        if not isinstance(self.data, QueryDict):
            return
        if not self.data._mutable:
            self.data = self.data.copy()
        for name, field in self.fields.items():
            if not (name.startswith(f"{prefix}/") or name.startswith(f"{prefix}.")):
                continue
            value = self.initial.get(name)
            if isinstance(field, forms.BooleanField | forms.NullBooleanField):
                if value:
                    self.data[name] = "on"
            elif isinstance(value, list):
                self.data.setlist(name, [str(item) for item in value])
            elif value not in (None, ""):
                self.data[name] = str(value)

    def _first_variant(self, field: Field, variants: tuple[Variant, ...]) -> str:
        """The kind a new embedded object starts as: its default's, else the one that holds
        nothing (`None`: an optional secret starts unset), else the first."""
        default = field.default.get("@type") if isinstance(field.default, dict) else None
        if isinstance(default, str) and any(v.name == default for v in variants):
            return default
        return next((v.name for v in variants if not v.schema_name), variants[0].name)

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
            if len(options) >= MAX_CHOICES:
                cut = gettext(
                    "This server has at least %(count)s of these: only the first %(count)s it lists are offered."
                ) % {"count": f"{MAX_CHOICES:,}"}
                common["help_text"] = f"{field.description} {cut}".strip()
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
    @property
    def adding(self) -> str:
        """The list (or map) whose "Add another" was pressed ("" when none): the form is shown
        again with one more row, nothing is checked nor saved."""
        if not self.is_bound:
            return ""
        name = str(self.data.get("add") or "")
        return name if name and any(f"{name}.rows" == n for n, k in self.kinds.items() if k == "rows") else ""

    def full_clean(self) -> None:
        if self.adding:
            self._errors = ErrorDict()
            self.cleaned_data = {}
            return
        super().full_clean()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.values: dict[str, Any] = {}
        for name, node in self.nodes.items():
            self.values[name] = self._typed(node, cleaned, self.current.get(name))
        for name, many in self.manys.items():
            self.values[name] = self._typed_many(many, cleaned)
        for name, kind in self.kinds.items():
            if name not in cleaned or kind == "remove" or name not in self.described:
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

    def _typed(self, node: Node, cleaned: dict[str, Any], current: Any) -> Any:
        """What was typed into an embedded object: its JSON, with `_KEEP` for each secret left
        empty (None: an optional object left unset). Only the chosen variant's fields are read;
        what the others hold is neither checked nor kept."""
        chosen = self._chosen(node)
        for group in node.groups:
            if group is not chosen:
                self._forget(group)
        value: dict[str, Any] = {}
        if node.variants:
            variant = str(cleaned.get(node.choice) or "")
            if not variant:
                return _KEEP if node.choice in self.errors else None
            value["@type"] = variant
        if chosen is None:
            return value
        same = isinstance(current, dict) and (not node.variants or current.get("@type") == value.get("@type"))
        held = current if same and isinstance(current, dict) else {}
        missing: list[tuple[str, str]] = []
        for sub in chosen.subs:
            if sub.node is not None:
                value[sub.field.name] = self._typed(sub.node, cleaned, held.get(sub.field.name))
                continue
            if sub.many is not None:
                value[sub.field.name] = self._typed_many(sub.many, cleaned)
                continue
            if sub.name not in cleaned:
                continue
            try:
                wired = self._wire(sub.field, sub.kind, cleaned[sub.name])
            except ValueError as exc:
                self.add_error(sub.name, str(exc))
                continue
            if wired is _KEEP and not sub.field.type.nullable:
                missing.append((sub.name, gettext("Type the secret.")))
            elif wired is None and _required(sub.field, sub.kind):
                missing.append((sub.name, gettext("This field is required.")))
            value[sub.field.name] = wired
        # What a new object (or one of another kind) needs; an object the server holds keeps
        # its secrets, and a single object left empty is not sent at all.
        if not same and not _empty(value):
            for name, message in missing:
                self.add_error(name, message)
        return value

    def _typed_many(self, many: Many, cleaned: dict[str, Any]) -> Items:
        """What was typed into a list or a map: its rows less the removed ones and the blank new
        ones, in order. Whether it is sent whole is decided here, and with it whether the
        secrets of the items the server holds must be typed again."""
        pairs: list[tuple[str, Any]] = []
        many.sent = []
        keys: dict[str, str] = {}
        rows = many.rows
        if not many.is_map:
            rows = sorted(rows, key=lambda row: _place(row, cleaned.get(f"{row.name}.position")))
        for row in rows:
            if cleaned.get(f"{row.name}.remove") or (row.held < 0 and not self._touched(row.name)):
                self._forget_row(row)
                continue
            key = ""
            if many.is_map:
                key = str(cleaned.get(f"{row.name}.key") or "").strip()
                if not key:
                    self.add_error(f"{row.name}.key", gettext("Give this entry a name."))
                elif key in keys:
                    self.add_error(f"{row.name}.key", gettext("This name is already used above."))
                keys[key] = row.name
                row.key = key
            held = many.held[row.held][1] if row.held >= 0 else None
            if row.node is not None:
                value = self._typed(row.node, cleaned, held)
            else:
                assert many.value_field is not None
                try:
                    value = self._wire(many.value_field, many.value_kind, cleaned.get(f"{row.name}.value"))
                except ValueError as exc:
                    self.add_error(f"{row.name}.value", str(exc))
                    value = None
                if value is None or value == "":
                    self.add_error(f"{row.name}.value", gettext("This field is required."))
            pairs.append((key, value))
            many.sent.append(row.index)
        typed = Items(pairs, is_map=many.is_map)
        many.typed = typed
        many.whole = _changed_whole(many, typed)
        if many.whole and many.secret:
            for index, (_, value) in zip(many.sent, typed, strict=True):
                row = many.rows[index]
                if row.held >= 0 and row.node is not None:
                    for name in _kept_secrets(row.node, value):
                        self.add_error(name, gettext("Type this secret again: the list is saved whole."))
        return typed

    def _touched(self, prefix: str) -> bool:
        """Whether a row's fields were changed from what the page showed (a new row is an item
        only then)."""
        for name in self.kinds:
            if not (name.startswith(f"{prefix}/") or name.startswith(f"{prefix}.")) or name.endswith(
                (".remove", ".position")
            ):
                continue
            field = self.fields.get(name)
            if field is not None and field.has_changed(self.get_initial_for_field(field, name), self[name].data):
                return True
        return False

    def _forget_row(self, row: Row) -> None:
        """A removed row, or a blank one: what it holds is not the person's concern."""
        for name in list(self.errors):
            if name.startswith(f"{row.name}/") or name.startswith(f"{row.name}."):
                self.errors.pop(name, None)

    def _chosen(self, node: Node) -> Group | None:
        """The group of the variant the form shows as chosen (what was sent, else the initial)."""
        if not node.variants:
            return node.group("")
        return node.group(str(self[node.choice].value() or ""))

    def _forget(self, group: Group) -> None:
        """The fields of a variant that was not chosen: their errors are not the person's concern."""
        for sub in group.subs:
            if sub.many is not None:
                for row in sub.many.rows:
                    self._forget_row(row)
            elif sub.node is not None:
                for inner in sub.node.groups:
                    self._forget(inner)
                self.errors.pop(sub.node.choice, None)
            else:
                self.errors.pop(sub.name, None)

    def secret_names(self) -> list[str]:
        """The form names of every secret box (top level and inside embedded objects)."""
        return [name for name, kind in self.kinds.items() if kind == "secret"]

    def locate(self, path: str) -> str:
        """The form field a server refusal's property path names (`store/authSecret/secret`),
        "" when none shows it."""
        parts = [_unescape(part) for part in path.split("/")]
        if parts[0] in self.manys:
            return self._locate_many(self.manys[parts[0]], parts[1:])
        node = self.nodes.get(parts[0])
        if node is None:
            return parts[0] if parts[0] in self.fields else ""
        return self._locate_node(node, parts[1:])

    def _locate_many(self, many: Many, parts: list[str]) -> str:
        """The field of a list's item (by its place in what was sent whole, or its key where the
        list was patched in place) or of a map's entry (by its key) a refusal names."""
        row: Row | None = None
        if parts and many.is_map:
            row = next((many.rows[i] for i in many.sent if many.rows[i].key == parts[0]), None)
        elif parts and parts[0].isdigit():
            if many.whole:
                place = int(parts[0])
                row = many.rows[many.sent[place]] if place < len(many.sent) else None
            else:
                index = next((i for i, (key, _) in enumerate(many.held) if key == parts[0]), -1)
                row = next((r for r in many.rows if r.held == index and index >= 0), None)
        if row is None:
            return ""
        if row.node is None:
            return f"{row.name}.value"
        return self._locate_node(row.node, parts[1:])

    def _locate_node(self, node: Node, parts: list[str]) -> str:
        for position, part in enumerate(parts):
            if part == "@type" and node.variants:
                return node.choice
            group = self._chosen(node)
            sub = group.sub(part) if group is not None else None
            if sub is None:
                break
            if sub.many is not None:
                return self._locate_many(sub.many, parts[position + 1 :])
            if sub.node is None:
                return sub.name
            node = sub.node
        if node.variants:
            return node.choice
        group = node.group("")
        return next((s.name for s in group.subs if s.node is None and s.many is None), "") if group else ""

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
        """The properties that differ from what the server holds (every value when creating);
        an embedded object by JSON pointer where it keeps its `@type`."""
        patch: dict[str, Any] = {}
        for name, value in self.values.items():
            if value is _KEEP:
                continue
            if name in self.nodes:
                if self.creating:
                    if not _empty(value):
                        patch[name] = _stripped(value)
                else:
                    patch.update(_diff(_pointer(name), self.nodes[name], value, self.current.get(name)))
                continue
            if name in self.manys:
                if self.creating:
                    if value:
                        patch[name] = _stripped(value)
                else:
                    patch.update(_many_patch(_pointer(name), self.manys[name], value))
                continue
            if self.creating:
                if value is not None and value != {}:
                    patch[name] = value
                continue
            if value != self.current.get(name):
                patch[name] = value
        return patch

    def changes(self, patch: dict[str, Any]) -> list[Change]:
        rows: list[Change] = []
        for name, value in patch.items():
            top = _unescape(name.split("/", 1)[0])
            if top in self.nodes or top in self.manys:
                rows += self._nested_changes(name, value)
                continue
            rows.append(
                Change(
                    field=self.described[name],
                    old="" if self.creating else shown(self.schema, self.described[name], self.current.get(name),
                                                       self.choices),
                    new=shown(self.schema, self.described[name], value, self.choices),
                    secret=self.secretive(self.described[name]),
                )
            )
        return rows

    def _nested_changes(self, path: str, value: Any) -> list[Change]:
        """The preview lines of one patch entry inside an embedded object: the property it names
        (`httpAuth/username`), or each property of an object set as a whole."""
        parts = [_unescape(part) for part in path.split("/")]
        typed = self.values.get(parts[0])
        old: Any = None if self.creating else self.current.get(parts[0])
        if parts[0] in self.manys:
            many = self.manys[parts[0]]
            return self._many_changes(path, [many.field.label], many, parts[1:], typed, old, value)
        node = self.nodes[parts[0]]
        return self._walk(path, parts[1:], [node.field.label], node, typed, old or {}, value)

    def _walk(
        self, path: str, parts: list[str], labels: list[str], node: Node, typed: Any, old: Any, value: Any
    ) -> list[Change]:
        """The preview lines of a patch entry naming `parts` inside an embedded object."""
        for position, part in enumerate(parts):
            group = node.group(str(typed.get("@type") or "")) if isinstance(typed, dict) else None
            sub = group.sub(part) if group is not None else None
            if sub is None:  # not a property the form shows: the raw value, never a secret's
                return [self._line(path, labels + [part], None, old, value)]
            labels = [*labels, sub.field.label]
            typed = typed.get(part) if isinstance(typed, dict) else None
            old = old.get(part) if isinstance(old, dict) else None
            if sub.many is not None:
                return self._many_changes(path, labels, sub.many, parts[position + 1 :], typed, old, value)
            if sub.node is None:
                return [self._line(path, labels, sub.field, old, value)]
            node = sub.node
        return self._object_changes(path, labels, node, old, value)

    def _many_changes(
        self, path: str, labels: list[str], many: Many, parts: list[str], typed: Any, old: Any, value: Any
    ) -> list[Change]:
        """The preview lines of a list or map: one held item patched by pointer, or the whole of
        it ("3 items → 4 items", then each item added, changed or removed)."""
        if parts:  # `match/1/then`: one item the server holds, by its key
            index = next((i for i, (key, _) in enumerate(many.held) if key == parts[0]), -1)
            row = next((r for r in many.rows if r.held == index), None) if index >= 0 else None
            if row is None or row.node is None or row.index not in many.sent or not isinstance(typed, Items):
                return [self._line(path, labels + [parts[0]], None, old, value)]
            item = typed[many.sent.index(row.index)][1]
            return self._walk(path, parts[1:], [*labels, row.node.field.label], row.node, item,
                              many.held[index][1] or {}, value)
        held = [] if self.creating else many.held
        pairs = list(typed) if isinstance(typed, Items) else []
        rows: list[Change] = [
            Change(field=self._label_field(path, labels), old="" if self.creating else self._count(many, len(held)),
                   new=self._count(many, len(pairs)))
        ]
        # The items the server holds, by their place there, in their new order ("1, 2, 3" →
        # "2, 1, 3"): a move changes no item, so no other line would show it.
        order = [many.rows[index].held + 1 for index in many.sent if many.rows[index].held >= 0]
        if not many.is_map and order != sorted(order):
            rows.append(Change(field=self._label_field(path, [*labels, gettext("Order")]),
                               old=", ".join(map(str, sorted(order))), new=", ".join(map(str, order))))
        kept: set[int] = set()
        for index, (key, item) in zip(many.sent, pairs, strict=False):
            row = many.rows[index]
            label = row.node.field.label if row.node is not None else key
            before: Any = None
            if many.is_map and key in dict(held):
                before = dict(held)[key]
                kept.add(next(i for i, (k, _) in enumerate(held) if k == key))
            elif not many.is_map and 0 <= row.held < len(held):
                before = held[row.held][1]
                kept.add(row.held)
            if before is not None and _same_item(row, item, before):
                continue
            where = f"{path}/{_pointer(key) if many.is_map else len(rows) - 1}"
            rows.append(Change(field=self._label_field(where, [*labels, label]), old=self._item_text(row, many, before),
                               new=self._item_text(row, many, _stripped(item))))
        for index, (key, item) in enumerate(held):
            if index in kept:
                continue
            row = next((r for r in many.rows if r.held == index), many.rows[0] if many.rows else None)
            if row is None:
                continue
            label = key if many.is_map else gettext("%(label)s: item %(number)d") % {
                "label": many.field.label, "number": index + 1}
            rows.append(Change(field=self._label_field(f"{path}/{_pointer(key)}", [*labels, label]),
                               old=self._item_text(row, many, item), new=""))
        return rows

    def _label_field(self, path: str, labels: list[str]) -> Field:
        return Field(name=path, label=" › ".join(labels), description="", type=_UNKNOWN, update="mutable")

    def _count(self, many: Many, count: int) -> str:
        if many.is_map:
            return ngettext("%(count)d entry", "%(count)d entries", count) % {"count": count}
        return ngettext("%(count)d item", "%(count)d items", count) % {"count": count}

    def _item_text(self, row: Row, many: Many, value: Any) -> str:
        """An item (or a map's value) in words, one property a line (secrets only as set)."""
        if value is None:
            return ""
        if row.node is None:
            assert many.value_field is not None
            return shown(self.schema, many.value_field, value, self.choices)
        return _object_text(self, row.node, value)

    def _object_changes(self, path: str, labels: list[str], node: Node, old: Any, new: Any) -> list[Change]:
        if not isinstance(new, dict):
            return [self._line(path, labels, node.field, old, new)]
        rows: list[Change] = []
        variant = str(new.get("@type") or "")
        same = isinstance(old, dict) and (not node.variants or old.get("@type") == variant)
        if node.variants and not same and node.group(variant) is None and self.secretive(node.field):
            # a secret removed (`{"@type": "None"}`): set → not set, as a top-level secret
            line = Field(name=path, label=" › ".join(labels), description="", type=node.field.type, update="mutable")
            was = "" if self.creating else shown(self.schema, node.field, old)
            return [Change(field=line, old=was, new="", secret=True)]
        if node.variants and not same:
            was = node.label_of(str(old.get("@type") or "")) if isinstance(old, dict) and old else ""
            kind = Field(name=f"{path}/@type", label=" › ".join([*labels, gettext("Kind")]), description="",
                         type=node.field.type, update="mutable")
            rows.append(Change(field=kind, old="" if self.creating else was, new=node.label_of(variant)))
        held = old if same and isinstance(old, dict) else {}
        group = node.group(variant)
        for sub in group.subs if group is not None else []:
            if sub.field.name not in new:
                continue
            item, before = new[sub.field.name], held.get(sub.field.name)
            where = f"{path}/{_pointer(sub.field.name)}"
            if sub.many is not None:
                typed = sub.many.typed
                rows += self._many_changes(where, [*labels, sub.field.label], sub.many, [], typed, before, item)
            elif sub.node is not None:
                rows += self._object_changes(where, [*labels, sub.field.label], sub.node, before, item)
            elif not _same(item, before):
                rows.append(self._line(where, [*labels, sub.field.label], sub.field, before, item))
        return rows

    def _line(self, path: str, labels: list[str], field: Field | None, old: Any, new: Any) -> Change:
        """One preview line of an embedded property (secrets only as set / not set)."""
        if field is None:  # unknown to the schema: shown as JSON, masked if it could be a secret
            field = Field(name=path, label=" › ".join(labels), description="",
                          type=_UNKNOWN, update="mutable")
            return Change(field=field, old="" if self.creating or old is None else gettext("set"),
                          new="" if new is None else gettext("set"), secret=True)
        line = Field(name=path, label=" › ".join(labels), description=field.description, type=field.type,
                     update=field.update)
        return Change(
            field=line,
            old="" if self.creating else shown(self.schema, field, old, self.choices),
            new=shown(self.schema, field, new, self.choices),
            secret=self.secretive(field),
        )

    # --- showing ------------------------------------------------------------------------------
    def node_view(self, node: Node) -> dict[str, Any]:
        """What the template of an embedded object needs (`_schema_nested.html`)."""
        choice = self[node.choice] if node.variants else None
        selected = str(choice.value() or "") if choice is not None else ""
        index = {v: g.index for g in node.groups for v in g.variants}
        return {
            "node": node,
            "choice": choice,
            "options": [
                {"value": v.name, "label": v.label, "group": index.get(v.name, -1), "selected": v.name == selected}
                for v in node.variants
            ],
            "groups": [
                {
                    "index": group.index,
                    "label": ", ".join(node.label_of(v) for v in group.variants),
                    "rows": [self._sub_row(sub) for sub in group.subs],
                }
                for group in node.groups
            ],
        }

    def many_view(self, many: Many) -> dict[str, Any]:
        """What the template of a list or a map needs (`_schema_many.html`)."""
        rows: list[dict[str, Any]] = []
        for row in many.rows:
            key = self[f"{row.name}.key"] if many.is_map else None
            remove = self[f"{row.name}.remove"]
            if row.node is not None:
                position = None if many.is_map else self[f"{row.name}.position"]
                nested = {**self.node_view(row.node), "remove": remove, "key": key, "item": True, "position": position}
                rows.append({"nested": nested})
                continue
            assert many.value_field is not None
            rows.append({
                "key": {"field": Field(name="", label=gettext("Name"), description="", type=_UNKNOWN,
                                       update="mutable"), "bound": key, "kind": "text"},
                "value": {"field": many.value_field, "bound": self[f"{row.name}.value"], "kind": many.value_kind},
                "remove": remove,
            })
        return {
            "many": many,
            "rows": rows,
            "count": len(many.rows),
            "full": len(many.rows) > MAX_ITEMS,
            "secret_note": many.secret,
            "ordered": not many.is_map and len(many.rows) > 1,
        }

    def _sub_row(self, sub: Sub) -> dict[str, Any]:
        if sub.many is not None:
            return {"field": sub.field, "many": self.many_view(sub.many)}
        if sub.node is not None:
            return {"field": sub.field, "nested": self.node_view(sub.node)}
        return {
            "field": sub.field,
            "bound": self[sub.name],
            "kind": sub.kind,
            "shown": gettext("set") if sub.kind == "secret" and sub.is_set else "",
        }


def remove_name(name: str) -> str:
    """The checkbox that removes an optional secret."""
    return f"{name}.remove"


class _Keep:
    """A secret left empty: the server keeps it."""

    def __repr__(self) -> str:
        return "<keep>"


_KEEP = _Keep()
_UNKNOWN = ValueType(kind="unknown")


def _required(field: Field, kind: str) -> bool:
    return not field.type.nullable and kind not in ("boolean", "secret", "enum-set", "id-set", "lines", "json")


def _blank(value: Any) -> bool:
    return value is None or value == {} or value == ""


def _empty(value: Any) -> bool:
    """Nothing typed: blank, or a single object (no `@type`) whose every value is empty."""
    if value is _KEEP or _blank(value):
        return True
    if isinstance(value, Items):
        return not value
    return isinstance(value, dict) and "@type" not in value and all(_empty(item) for item in value.values())


def _same(value: Any, held: Any) -> bool:
    return (_blank(value) and _blank(held)) or value == held


def _pointer(name: str) -> str:
    """A property name as one JSON-pointer segment."""
    return name.replace("~", "~0").replace("/", "~1")


def _unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def _stripped(value: Any) -> Any:
    """An embedded object as sent whole: without the secrets left empty and the unset values."""
    if value is _KEEP:
        return None
    if isinstance(value, Items):
        return value.wire()
    if not isinstance(value, dict):
        return value
    kept = {key: _stripped(item) for key, item in value.items() if item is not _KEEP}
    return {key: item for key, item in kept.items() if item is not None}


def _diff(path: str, node: Node, typed: Any, held: Any) -> dict[str, Any]:
    """The patch of an edited embedded object: each changed property by JSON pointer, or the
    whole object where it is new or changes its `@type` (a secret left empty is kept)."""
    if typed is _KEEP:
        return {}
    if typed is None:
        return {} if _blank(held) else {path: None}
    if _blank(held) and (_empty(typed) or (node.variants and node.group(str(typed["@type"])) is None)):
        return {}  # unset, and left empty or at a kind that holds nothing: nothing to say
    if not isinstance(held, dict) or (node.variants and held.get("@type") != typed.get("@type")):
        return {path: _stripped(typed)}
    group = node.group(str(typed.get("@type") or ""))
    patch: dict[str, Any] = {}
    for sub in group.subs if group is not None else []:
        name = sub.field.name
        if name not in typed or typed[name] is _KEEP:
            continue
        where = f"{path}/{_pointer(name)}"
        if sub.many is not None:
            patch.update(_many_patch(where, sub.many, typed[name]))
        elif sub.node is not None:
            patch.update(_diff(where, sub.node, typed[name], held.get(name)))
        elif not _same(typed[name], held.get(name)):
            patch[where] = typed[name]
    return patch


def _object_text(form: SchemaForm, node: Node, value: Any) -> str:
    """An object item in words: its kind, then each property set, one a line (secrets as set)."""
    if not isinstance(value, dict):
        return ""
    lines: list[str] = []
    variant = str(value.get("@type") or "")
    if node.variants:
        lines.append(f"{gettext('Kind')}: {node.label_of(variant)}")
    group = node.group(variant)
    for sub in group.subs if group is not None else []:
        item = value.get(sub.field.name)
        if sub.many is not None:
            text = form._count(sub.many, len(item)) if isinstance(item, dict) and item else ""
        elif sub.node is not None:
            text = _object_text(form, sub.node, item).replace("\n", "; ")
        else:
            text = shown(form.schema, sub.field, item, form.choices)
            if text and form.secretive(sub.field):
                text = gettext("set")
        if text:
            lines.append(f"{sub.field.label}: {text}")
    return "\n".join(lines)


def _entries(value: Any, *, is_map: bool) -> list[tuple[str, Any]]:
    """A list's items (by their numeric keys, in order) or a map's entries, as the server holds them."""
    if not isinstance(value, dict):
        return []
    if is_map:
        return [(str(key), item) for key, item in value.items()]
    numbered = [(key, item) for key, item in value.items() if str(key).isdigit()]
    return [(str(key), item) for key, item in sorted(numbered, key=lambda pair: int(pair[0]))]


def _same_item(row: Row, typed: Any, held: Any) -> bool:
    if row.node is not None:
        return not _diff("", row.node, typed, held)
    return _same(typed, held)


def _place(row: Row, position: int | None) -> tuple[int, int, int]:
    """Where a list's row goes: by its position; an item moved up to a taken position goes
    before the one there, one moved down after it (its new place, as the person sees it)."""
    shown = row.index + 1
    wanted = position or shown
    return wanted, (wanted > shown) - (wanted < shown), row.index


def _changed_whole(many: Many, typed: Items) -> bool:
    """Whether a list (or map) is sent whole: a list that gained, lost or moved items, a map
    that changed at all (a list edited in place is patched item by item)."""
    if not many.is_map:
        return many.sent != list(range(len(many.held)))
    held = dict(many.held)
    if len(typed) != len(held) or any(key not in held for key, _ in typed):
        return True
    return any(
        not _same_item(many.rows[index], value, held[key])
        for index, (key, value) in zip(many.sent, typed, strict=True)
    )


def _kept_secrets(node: Node, typed: Any) -> list[str]:
    """The form names of the secrets left empty (kept) inside what was typed into an object."""
    if not isinstance(typed, dict):
        return []
    group = node.group(str(typed.get("@type") or ""))
    names: list[str] = []
    for sub in group.subs if group is not None else []:
        item = typed.get(sub.field.name)
        if sub.node is not None:
            names += _kept_secrets(sub.node, item)
        elif item is _KEEP:
            names.append(sub.name)
    return names


def _many_patch(path: str, many: Many, typed: Any) -> dict[str, Any]:
    """The patch of an edited list or map: nothing when unchanged, each held item by pointer
    where a list keeps its items in place, else the whole list (or map)."""
    if not isinstance(typed, Items):
        return {}
    if many.whole:
        return {path: typed.wire()}
    if many.is_map:
        return {}
    patch: dict[str, Any] = {}
    for index, (_, value) in zip(many.sent, typed, strict=True):
        row = many.rows[index]
        key, held = many.held[row.held]
        if row.node is not None:
            patch.update(_diff(f"{path}/{_pointer(key)}", row.node, value, held))
    return patch


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
