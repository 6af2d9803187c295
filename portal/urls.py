from django.urls import include, path, register_converter

from portal import views
from portal.converters import PrincipalName

register_converter(PrincipalName, "principal")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/catalog.js", views.javascript_catalog, name="javascript-catalog"),
    path("auth/", include("portal.auth.urls")),
    path("account/", include("portal.account.urls")),
    path("directory/", include("portal.directory.urls")),
    path("queue/", include("portal.queue.urls")),
    path("reports/", include("portal.reports.urls")),
    path("undelete/", include("portal.undelete.urls")),
    path("audit/", include("portal.audit.urls")),
    path("observability/", include("portal.observability.urls")),
    path("settings/", include("portal.settings_pages.urls")),
    path("tools/", include("portal.tools.urls")),
    path("search/", include("portal.search.urls")),
]

handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"
