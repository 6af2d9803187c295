"""System checks for the portal's own versions of Django's security middleware.

`portal.middleware` runs Django's middleware hooks in the event loop (subclasses, same
behaviour). Django's deploy checks look for the original dotted paths, so they are
silenced in settings and replaced by these, which check the same thing: that the
middleware is installed.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string

REPLACED = {
    "security.W001": "django.middleware.security.SecurityMiddleware",
    "security.W002": "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "security.W003": "django.middleware.csrf.CsrfViewMiddleware",
}


@register(Tags.security, deploy=True)
def security_middleware_installed(app_configs=None, **kwargs):
    installed = [import_string(path) for path in settings.MIDDLEWARE]
    problems = []
    for check_id, path in REPLACED.items():
        original = import_string(path)
        if not any(isinstance(cls, type) and issubclass(cls, original) for cls in installed):
            problems.append(
                Error(
                    f"Neither {path} nor a subclass of it is in MIDDLEWARE.",
                    hint="Use the portal's version from portal.middleware.",
                    id=f"portal.{check_id.replace('.', '_')}",
                )
            )
    return problems
