"""The server's own description of its settings (Stalwart 0.16+ `/api/schema`), as typed values.

`SettingsSchema` reads the schema once (a few thousand objects, properties, forms, lists and
enums) and builds, on demand and then kept, what a page needs: the settings navigation
(`layouts` "Settings"), one `SettingsPage` per navigable entry (a singleton, a view of a
singleton, a collection or a view of a collection), the form sections of each object and variant
(`forms`, `fields`), the list columns (`lists`) and the enum choices (`enums`). Nothing here is
written per object: a new release's schema gives new pages without code changes.

Values travel as the server writes them (JSON); `Field.type` says how to read one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Where the settings objects are (the schema's layout of that name).
SETTINGS_LAYOUT = "Settings"
#: String formats whose values are never shown (the server answers "****" for them).
SECRET_FORMATS = frozenset({"secret", "secretText"})
SINGLETON_ID = "singleton"
#: The most objects of one collection a settings form offers to choose from (read a page of
#: the server's `maxObjectsInGet` a request); past that, a form keeps the one it holds.
MAX_CHOICES = 5_000


@dataclass(frozen=True, slots=True)
class ValueType:
    """One schema type: `kind` is string, number, boolean, enum, objectId, set, map, object,
    objectList, utcDateTime or blobId; `item` is a set's members or a map's values."""

    kind: str
    format: str = ""
    nullable: bool = False
    enum: str = ""
    object_name: str = ""
    item: ValueType | None = None
    key: ValueType | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    min_items: int = 0

    @classmethod
    def read(cls, raw: Any) -> ValueType:
        if not isinstance(raw, Mapping):
            return cls(kind="unknown")

        def number(name: str) -> float | None:
            value = raw.get(name)
            return value if isinstance(value, int | float) and not isinstance(value, bool) else None

        item = raw.get("class", raw.get("valueClass"))
        key = raw.get("keyClass")
        max_length = number("maxLength")
        return cls(
            kind=str(raw.get("type") or "unknown"),
            format=str(raw.get("format") or ""),
            nullable=raw.get("nullable") is True,
            enum=str(raw.get("enumName") or ""),
            object_name=str(raw.get("objectName") or ""),
            item=cls.read(item) if item is not None else None,
            key=cls.read(key) if key is not None else None,
            minimum=number("min"),
            maximum=number("max"),
            max_length=int(max_length) if max_length is not None else None,
            min_items=int(number("minItems") or 0),
        )

    @property
    def secret(self) -> bool:
        return self.kind == "string" and self.format in SECRET_FORMATS

    @property
    def scalar(self) -> bool:
        return self.kind in ("string", "number", "boolean", "enum", "objectId", "utcDateTime", "blobId")


@dataclass(frozen=True, slots=True)
class Field:
    """One property as a form shows it."""

    name: str
    label: str
    description: str
    type: ValueType
    #: "mutable", "immutable" (set on create only) or "serverSet" (never sent)
    update: str
    enterprise: bool = False
    placeholder: str = ""
    default: Any = None

    @property
    def secret(self) -> bool:
        return self.type.secret

    @property
    def server_set(self) -> bool:
        return self.update == "serverSet"

    def editable(self, *, creating: bool) -> bool:
        if self.server_set:
            return False
        return creating or self.update != "immutable"


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class Variant:
    """One `@type` of a polymorphic object."""

    name: str
    label: str
    schema_name: str


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    label: str


@dataclass(frozen=True, slots=True)
class SettingsPage:
    """One entry of the settings navigation: what it edits and how it is shown."""

    slug: str  # the view name without "x:", "/" written "." (URL-safe)
    view_name: str  # "x:SystemSettings/NetworkSettings"
    object_name: str  # "x:SystemSettings"
    singleton: bool
    title: str
    subtitle: str
    description: str
    permission_prefix: str
    variants: tuple[Variant, ...] = ()
    columns: tuple[Column, ...] = ()
    label_property: str = ""
    singular: str = ""
    plural: str = ""
    #: the list's fixed filter (a collection view: `x:MemoryLookupKey/SpamTrap`), also set on create
    static: Mapping[str, Any] = field(default_factory=dict)
    text_filter: str = ""

    @property
    def method(self) -> str:
        """The object's name in method calls (`SystemSettings` for `x:SystemSettings/get`)."""
        return self.object_name.removeprefix("x:")

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)


@dataclass(frozen=True, slots=True)
class NavNode:
    """A heading with children, or a link to a page (`slug`)."""

    label: str
    slug: str = ""
    children: tuple[NavNode, ...] = ()


@dataclass(frozen=True, slots=True)
class SettingsItem:
    """One object of a collection (or the singleton) as the server sent it."""

    id: str
    values: Mapping[str, Any]
    #: the names of the objects its id properties point at (property -> name; a list's `references`)
    names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SettingsRecord:
    """An object to edit, and the labels of the objects its id fields may point at."""

    item: SettingsItem
    choices: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Problem:
    """A refusal of the server, with the property path it names ("" for the whole object)."""

    path: str
    message: str

    @property
    def field(self) -> str:
        return self.path.split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class SetOutcome:
    """What a `/set` of one object did: its id, or what the server refused."""

    id: str = ""
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def slug_of(view_name: str) -> str:
    return view_name.removeprefix("x:").replace("/", ".")


def view_name_of(slug: str) -> str:
    return "x:" + slug.replace(".", "/")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def humanize(name: str) -> str:
    """`maxConnections` -> "Max connections" (properties no form names)."""
    words: list[str] = []
    current = ""
    for char in name.lstrip("@"):
        if char.isupper() and current and not current[-1].isupper():
            words.append(current)
            current = char
        else:
            current += char
    words.append(current)
    text = " ".join(words).strip()
    return text[:1].upper() + text[1:].lower() if text else name


def _form_sections(form: Mapping[str, Any], properties: Mapping[str, Field]) -> list[Section]:
    """A schema form's sections with the properties they name, in order, with the form's labels
    and placeholders; a property named twice (or unknown) is left out after its first place."""
    sections: list[Section] = []
    seen: set[str] = set()
    for raw in map(_dict, _list(form.get("sections"))):
        fields = []
        for entry in map(_dict, _list(raw.get("fields"))):
            name = _text(entry.get("name"))
            prop = properties.get(name)
            if prop is None or name in seen:
                continue
            seen.add(name)
            fields.append(
                Field(
                    name=prop.name,
                    label=_text(entry.get("label")) or prop.label,
                    description=prop.description,
                    type=prop.type,
                    update=prop.update,
                    enterprise=prop.enterprise,
                    placeholder=_text(entry.get("placeholder")),
                    default=prop.default,
                )
            )
        sections.append(Section(_text(raw.get("title")), tuple(fields)))
    return sections


class SettingsSchema:
    """The parsed schema of one server release (`hash`: the last part of `/api/schema/<hash>`)."""

    def __init__(self, raw: Mapping[str, Any], hash: str = "") -> None:
        self.hash = hash
        self._objects = _dict(raw.get("objects"))
        self._schemas = _dict(raw.get("schemas"))
        self._fields = _dict(raw.get("fields"))
        self._forms = _dict(raw.get("forms"))
        self._lists = _dict(raw.get("lists"))
        self._enums = _dict(raw.get("enums"))
        self._layouts = _list(raw.get("layouts"))
        self._pages: dict[str, SettingsPage | None] = {}
        self._sections: dict[tuple[str, str], tuple[Section, ...]] = {}
        self._properties: dict[str, dict[str, Field]] = {}
        self._choices: dict[str, tuple[tuple[str, str], ...]] = {}
        self._texts: dict[str, dict[str, tuple[str, str]]] = {}
        self._navigation: tuple[NavNode, ...] | None = None

    # --- objects and pages ------------------------------------------------------------------
    def page(self, slug: str) -> SettingsPage | None:
        """The page of a navigable `x:` object or view (None: not a settings object)."""
        if slug not in self._pages:
            self._pages[slug] = self._page(slug)
        return self._pages[slug]

    def _page(self, slug: str) -> SettingsPage | None:
        view_name = view_name_of(slug)
        entry = _dict(self._objects.get(view_name))
        kind = entry.get("type")
        object_name = view_name
        if kind == "view":
            object_name = _text(entry.get("objectName"))
            entry = _dict(self._objects.get(object_name))
            kind = entry.get("type")
        if kind not in ("singleton", "object") or not object_name.startswith("x:"):
            return None
        prefix = _text(entry.get("permissionPrefix"))
        if not prefix:
            return None
        form = _dict(self._forms.get(view_name))
        listing = _dict(self._lists.get(view_name)) or _dict(self._lists.get(object_name))
        schema = _dict(self._schemas.get(object_name))
        variants = tuple(
            Variant(_text(v.get("name")), _text(v.get("label")) or _text(v.get("name")), _text(v.get("schemaName")))
            for v in map(_dict, _list(schema.get("variants")))
            if schema.get("type") == "multiple" and _text(v.get("name"))
        )
        filters = [_dict(f) for f in _list(listing.get("filters"))]
        text_filter = next((_text(f.get("field")) for f in filters if f.get("type") == "text"), "")
        name = object_name.removeprefix("x:")
        title = _text(form.get("title")) or _text(listing.get("title")) or humanize(name)
        return SettingsPage(
            slug=slug,
            view_name=view_name,
            object_name=object_name,
            singleton=kind == "singleton",
            title=title,
            subtitle=_text(form.get("subtitle")) or _text(listing.get("subtitle")),
            description=_text(entry.get("description")),
            permission_prefix=prefix,
            variants=variants,
            columns=tuple(
                Column(_text(c.get("name")), _text(c.get("label")) or humanize(_text(c.get("name"))))
                for c in map(_dict, _list(listing.get("columns")))
                if _text(c.get("name"))
            ),
            label_property=_text(listing.get("labelProperty")),
            singular=_text(listing.get("singularName")),
            plural=_text(listing.get("pluralName")),
            static=dict(_dict(listing.get("filtersStatic"))),
            text_filter=text_filter,
        )

    def schema_name(self, page: SettingsPage, variant: str = "") -> str:
        """The `fields` entry of the object (of one variant of a polymorphic one)."""
        if page.variants:
            chosen = page.variant(variant) or page.variants[0]
            return chosen.schema_name
        entry = _dict(self._schemas.get(page.object_name))
        return _text(entry.get("schemaName")) or page.object_name

    def properties(self, schema_name: str) -> dict[str, Field]:
        """Every property of a schema, labelled from its name (forms relabel them)."""
        if schema_name not in self._properties:
            spec = _dict(self._fields.get(schema_name))
            defaults = _dict(spec.get("defaults"))
            found: dict[str, Field] = {}
            for name, prop in _dict(spec.get("properties")).items():
                prop = _dict(prop)
                found[name] = Field(
                    name=name,
                    label=humanize(name),
                    description=_text(prop.get("description")),
                    type=ValueType.read(prop.get("type")),
                    update=_text(prop.get("update")) or "mutable",
                    enterprise=prop.get("enterprise") is True,
                    default=defaults.get(name),
                )
            self._properties[schema_name] = found
        return self._properties[schema_name]

    def sections(self, page: SettingsPage, variant: str = "") -> tuple[Section, ...]:
        """The form of a page: the view's own form, or the object's (of the variant), or every
        property in one section when the schema has no form for it."""
        schema_name = self.schema_name(page, variant)
        key = (page.view_name, schema_name)
        if key not in self._sections:
            properties = self.properties(schema_name)
            form = _dict(self._forms.get(page.view_name)) if page.view_name != page.object_name else {}
            if not form or page.variants:
                form = _dict(self._forms.get(schema_name)) or _dict(self._forms.get(page.object_name))
            sections = [section for section in _form_sections(form, properties) if section.fields]
            if not sections and properties:  # no form for it: every property, by name
                sections.append(Section("", tuple(prop for _, prop in sorted(properties.items()))))
            self._sections[key] = tuple(sections)
        return self._sections[key]

    def object_variants(self, object_name: str) -> tuple[Variant, ...]:
        """The `@type`s of a polymorphic embedded object (`x:HttpAuth`), () for a single one;
        a variant that holds nothing (`None`, `Unauthenticated`) has no `schema_name`."""
        spec = _dict(self._schemas.get(object_name))
        if spec.get("type") != "multiple":
            return ()
        return tuple(
            Variant(_text(v.get("name")), _text(v.get("label")) or _text(v.get("name")), _text(v.get("schemaName")))
            for v in map(_dict, _list(spec.get("variants")))
            if _text(v.get("name"))
        )

    def object_schema(self, object_name: str) -> str:
        """The `fields` entry of a single (not polymorphic) embedded object."""
        return _text(_dict(self._schemas.get(object_name)).get("schemaName")) or object_name

    def object_fields(self, schema_name: str) -> tuple[Field, ...]:
        """The properties of an embedded object's schema in its form's order and labels (the
        rest after them, by name): what a nested fieldset shows."""
        key = ("", schema_name)
        if key not in self._sections:
            properties = self.properties(schema_name)
            form = _dict(self._forms.get(schema_name))
            labelled = [f for section in _form_sections(form, properties) for f in section.fields]
            seen = {f.name for f in labelled}
            labelled += [prop for name, prop in sorted(properties.items()) if name not in seen]
            self._sections[key] = (Section("", tuple(labelled)),)
        return self._sections[key][0].fields

    def fields(self, page: SettingsPage, variant: str = "") -> dict[str, Field]:
        return {f.name: f for section in self.sections(page, variant) for f in section.fields}

    def enum_choices(self, name: str) -> tuple[tuple[str, str], ...]:
        if name not in self._choices:
            self._choices[name] = tuple(
                (_text(e.get("name")), _text(e.get("label")) or _text(e.get("name")))
                for e in map(_dict, _list(self._enums.get(name)))
                if _text(e.get("name"))
            )
        return self._choices[name]

    def enum_texts(self, name: str) -> Mapping[str, tuple[str, str]]:
        """Each member of an enum with its label and its explanation ("" where the schema has
        none): `EventType` names what the server logs and traces (`queue.message-queued`)."""
        if name not in self._texts:
            self._texts[name] = {
                _text(e.get("name")): (_text(e.get("label")), _text(e.get("explanation") or e.get("description")))
                for e in map(_dict, _list(self._enums.get(name)))
                if _text(e.get("name"))
            }
        return self._texts[name]

    def variant_enum(self, object_name: str, variant: str, prop: str) -> str:
        """The enum a property of one variant of a polymorphic object takes ("" when it is no
        enum): `variant_enum("x:Task", "StoreMaintenance", "maintenanceType")`."""
        spec = _dict(self._schemas.get(object_name))
        chosen = next(
            (_dict(v) for v in _list(spec.get("variants")) if _dict(v).get("name") == variant), {}
        )
        schema_name = _text(chosen.get("schemaName"))
        field = self.properties(schema_name).get(prop) if schema_name else None
        return field.type.enum if field is not None and field.type.kind == "enum" else ""

    def empty_variant(self, object_name: str) -> str:
        """The variant of a polymorphic object that holds nothing ("" when it has none):
        `x:SecretKeyOptional`'s `None`, how an optional secret is unset."""
        spec = _dict(self._schemas.get(object_name))
        return next(
            (_text(v.get("name")) for v in map(_dict, _list(spec.get("variants")))
             if _text(v.get("name")) and not _text(v.get("schemaName"))),
            "",
        )

    def holds_secret(self, object_name: str) -> bool:
        """Whether some variant of an object is a secret (`x:SecretKey`, `x:SecretTextOptional`...)."""
        spec = _dict(self._schemas.get(object_name))
        names = [_text(v.get("schemaName")) for v in map(_dict, _list(spec.get("variants")))]
        names.append(_text(spec.get("schemaName")))
        return any(f.secret for name in names if name for f in self.properties(name).values())

    def holds_secret_deep(self, object_name: str, _seen: frozenset[str] = frozenset()) -> bool:
        """Whether an object holds a secret anywhere inside (its own properties, the objects,
        lists and maps of objects it embeds): a list of such items cannot be sent again whole
        without its secrets typed again."""
        if object_name in _seen:
            return False
        spec = _dict(self._schemas.get(object_name))
        names = [_text(v.get("schemaName")) for v in map(_dict, _list(spec.get("variants")))]
        names.append(_text(spec.get("schemaName")) or (object_name if not spec else ""))
        seen = _seen | {object_name}
        for name in filter(None, names):
            for prop in self.properties(name).values():
                t = prop.type.item if prop.type.kind == "map" and prop.type.item is not None else prop.type
                if t.secret or (t.kind in ("object", "objectList") and self.holds_secret_deep(t.object_name, seen)):
                    return True
        return False

    def label_property(self, object_name: str) -> str:
        """The property that names an object of a collection (its list's `labelProperty`)."""
        listing = _dict(self._lists.get(object_name))
        label = _text(listing.get("labelProperty"))
        if label:
            return label
        entry = _dict(self._objects.get(object_name))
        if entry.get("type") != "object":
            return ""
        spec = _dict(self._schemas.get(object_name))
        schema_name = _text(spec.get("schemaName")) or object_name
        props = _dict(_dict(self._fields.get(schema_name)).get("properties"))
        return next((name for name in ("name", "description") if name in props), "")

    def is_collection(self, object_name: str) -> bool:
        return _dict(self._objects.get(object_name)).get("type") == "object"

    # --- navigation -------------------------------------------------------------------------
    def navigation(self) -> tuple[NavNode, ...]:
        """The settings layout: headings and links to the pages this portal can show."""
        if self._navigation is None:
            layout = next(
                (_dict(entry) for entry in self._layouts if _dict(entry).get("name") == SETTINGS_LAYOUT), {}
            )
            self._navigation = self._nodes(_list(layout.get("items")))
        return self._navigation

    def _nodes(self, items: list[Any]) -> tuple[NavNode, ...]:
        nodes: list[NavNode] = []
        for raw in map(_dict, items):
            entry = raw
            kind = raw.get("type")
            if "link" in raw:
                entry, kind = _dict(raw["link"]), "link"
            elif "container" in raw:
                entry, kind = _dict(raw["container"]), "container"
            name = _text(entry.get("name"))
            if kind == "link":
                view = _text(entry.get("viewName"))
                slug = slug_of(view)
                if view.startswith("x:") and self.page(slug) is not None:
                    nodes.append(NavNode(name, slug=slug))
            elif kind == "container":
                children = self._nodes(_list(entry.get("items")))
                if children:
                    nodes.append(NavNode(name, children=children))
        return tuple(nodes)

    def pages(self) -> list[SettingsPage]:
        """Every page of the navigation, in its order."""
        found: list[SettingsPage] = []

        def visit(nodes: tuple[NavNode, ...]) -> None:
            for node in nodes:
                page = self.page(node.slug) if node.slug else None
                if page is not None:
                    found.append(page)
                visit(node.children)

        visit(self.navigation())
        return found
