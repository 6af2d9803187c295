from django.urls import include, path, register_converter

from portal import views
from portal.converters import PrincipalName

register_converter(PrincipalName, "principal")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("auth/", include("portal.auth.urls")),
    path("account/", include(([path("", views.account_overview, name="overview")], "account"))),
    path("directory/", include("portal.directory.urls")),
    path("audit/", include("portal.audit.urls")),
]

handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"
