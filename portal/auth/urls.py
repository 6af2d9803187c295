from django.urls import path

from . import views

app_name = "auth"
urlpatterns = [
    path("sign-in", views.sign_in, name="sign-in"),
    path("sign-out", views.sign_out, name="sign-out"),
    path("sso/start", views.sso_start, name="sso-start"),
    path("sso/callback", views.sso_callback, name="sso-callback"),
    path("throttle/", views.throttle_list, name="throttle"),
    path("throttle/clear", views.throttle_clear, name="throttle-clear"),
]
