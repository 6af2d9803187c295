from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from portal.navigation import Menu


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "portal_user", None)
    return {
        "portal_user": user,
        "nav_menu": Menu(user, request.path) if user is not None else None,
    }
