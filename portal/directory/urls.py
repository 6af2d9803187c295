from django.urls import path

from . import dns_views, views

app_name = "directory"
urlpatterns = [
    path("pick/<slug:field>/", views.picker_options, name="picker"),
    path("accounts/<principal:name>/password", views.account_password, name="account-password"),
    path("accounts/<principal:name>/sign-in", views.account_sign_in, name="account-sign-in"),
    path(
        "accounts/<principal:name>/credentials/<str:credential>/revoke",
        views.account_credential_revoke,
        name="account-credential-revoke",
    ),
    path("domains/<principal:name>/dns", dns_views.domain_dns, name="domain-dns"),
    path("accounts/import", views.account_import, name="import"),
    path("<slug:kind>/", views.principal_list, name="list"),
    path("<slug:kind>/export.csv", views.principal_export, name="export"),
    path("<slug:kind>/new", views.principal_create, name="create"),
    path("<slug:kind>/delete", views.principal_bulk_delete, name="bulk-delete"),
    path("<slug:kind>/delete-matching", views.principal_delete_matching, name="delete-matching"),
    path("<slug:kind>/<principal:name>/", views.principal_detail, name="detail"),
    path("<slug:kind>/<principal:name>/edit", views.principal_edit, name="edit"),
    path("<slug:kind>/<principal:name>/delete", views.principal_delete, name="delete"),
    path("<slug:kind>/<principal:name>/permissions", views.principal_permissions, name="permissions"),
]
