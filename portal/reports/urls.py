from django.urls import path

from . import views

app_name = "reports"
# `kind` is dmarc, tls or arf; the views answer 404 for anything else, after the permission check.
urlpatterns = [
    path("", views.index, name="index"),
    path("dmarc/overview", views.dmarc_overview, name="overview"),
    path("<str:kind>/", views.report_list, name="list"),
    path("<str:kind>/delete-matching", views.delete_matching, name="delete-matching"),
    path("<str:kind>/<str:report_id>/", views.report_detail, name="detail"),
    path("<str:kind>/<str:report_id>/delete", views.report_delete, name="delete"),
]
