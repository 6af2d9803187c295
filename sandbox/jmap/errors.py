"""Method errors and SetErrors of the JMAP front-end (jmap-management.md §3.6)."""

from __future__ import annotations


class MethodError(Exception):
    """``["error", {"type": …, "description"?: …}, callId]``."""

    def __init__(self, type_: str, description: str | None = None):
        super().__init__(type_)
        self.type = type_
        self.description = description

    def body(self) -> dict:
        body = {"type": self.type}
        if self.description is not None:
            body["description"] = self.description
        return body


class SetError(Exception):
    """One entry of ``notCreated``/``notUpdated``/``notDestroyed``."""

    def __init__(self, type_: str, description: str | None = None, **extra):
        super().__init__(type_)
        self.value = {"type": type_}
        if description is not None:
            self.value["description"] = description
        self.value.update({k: v for k, v in extra.items() if v is not None})

    @classmethod
    def invalid_patch(cls, prop: str, description: str = "Invalid property or value.") -> SetError:
        return cls("invalidPatch", description, properties=[prop])

    @classmethod
    def invalid_properties(cls, props: list[str], description: str | None = None) -> SetError:
        return cls("invalidProperties", description, properties=props)

    @classmethod
    def required(cls, *props: str) -> SetError:
        return cls("validationFailed", validationErrors=[{"type": "Required", "property": p} for p in props])

    @classmethod
    def foreign_key(cls, obj: str, id_: str) -> SetError:
        return cls("invalidForeignKey", objectId={"object": obj, "id": id_})

    @classmethod
    def primary_key(cls, props: list[str], obj: str, id_: str) -> SetError:
        return cls("primaryKeyViolation", properties=props, objectId={"object": obj, "id": id_})
