from django.conf import settings
from django.test import override_settings

from portal.checks import security_middleware_installed


def test_the_installed_middleware_passes():
    assert security_middleware_installed() == []


def test_missing_security_middleware_is_reported():
    without = [path for path in settings.MIDDLEWARE if not path.endswith(("SecurityMiddleware", "CsrfViewMiddleware"))]
    with override_settings(MIDDLEWARE=without):
        ids = {problem.id for problem in security_middleware_installed()}
    assert ids == {"portal.security_W001", "portal.security_W003"}


def test_django_originals_count_too():
    with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, "django.middleware.security.SecurityMiddleware"]):
        assert security_middleware_installed() == []
