from django.urls import path

from portal import views as portal_views

from . import api_keys, views

app_name = "account"
urlpatterns = [
    path("", portal_views.account_overview, name="overview"),
    path("security/", views.security, name="security"),
    path("security/app-passwords/", views.app_passwords, name="app-passwords"),
    path("security/app-passwords/new", views.app_password_create, name="app-password-create"),
    path("security/app-passwords/revoke", views.app_password_revoke, name="app-password-revoke"),
    path("security/app-passwords/<str:app_id>/edit", views.app_password_edit, name="app-password-edit"),
    path("security/app-passwords/revoke-all", views.app_passwords_revoke_all, name="app-passwords-revoke-all"),
    path("security/api-keys/", api_keys.api_keys, name="api-keys"),
    path("security/api-keys/new", api_keys.api_key_create, name="api-key-create"),
    path("security/api-keys/<str:key_id>/edit", api_keys.api_key_edit, name="api-key-edit"),
    path("security/api-keys/<str:key_id>/revoke", api_keys.api_key_revoke, name="api-key-revoke"),
    path("security/two-factor/", views.two_factor, name="two-factor"),
    path("security/two-factor/enable", views.two_factor_enable, name="two-factor-enable"),
    path("security/two-factor/disable", views.two_factor_disable, name="two-factor-disable"),
    path("security/password", views.password_change, name="password"),
    path("security/password/strength", views.password_strength, name="password-strength"),
    path("security/encryption", views.encryption, name="encryption"),
    path("security/encryption/disable", views.encryption_disable, name="encryption-disable"),
]
