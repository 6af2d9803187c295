from __future__ import annotations

from django.http import HttpRequest

from portal.navigation import sections_for


def portal(request: HttpRequest) -> dict:
    user = getattr(request, "portal_user", None)
    return {
        "portal_user": user,
        "nav_sections": sections_for(user) if user is not None else [],
    }
