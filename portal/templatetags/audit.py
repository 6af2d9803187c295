"""The audit trail's readable action labels and changes (`portal.audit.display`)."""

from __future__ import annotations

from typing import Any

from django import template

from portal.audit import display

register = template.Library()


@register.filter
def action_label(code: object) -> str:
    """`principal.update` -> "Changed a directory entry"; an unknown code as itself."""
    return display.action_label(str(code or ""))


@register.filter
def audit_changes(params: Any) -> list[display.Change]:
    """An entry's recorded request as a list of `display.Change`."""
    return display.changes(params)
