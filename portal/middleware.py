"""Turns service-layer errors that views did not handle into explanatory pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from portal import responses
from portal.stalwart import errors


class UpstreamErrorMiddleware(MiddlewareMixin):
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, errors.StalwartError):
            return responses.upstream_error(request, exception)
        return None
