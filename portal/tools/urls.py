from django.urls import path

from . import views

app_name = "tools"
urlpatterns = [
    path("delivery/", views.delivery, name="delivery"),
    path("delivery/run", views.delivery_run, name="delivery-run"),
    path("delivery/events", views.delivery_events, name="delivery-events"),
    path("dmarc/", views.dmarc, name="dmarc"),
    path("spam-filter/", views.spam_classify, name="spam"),
    path("spam-filter/train", views.spam_train, name="spam-train"),
    path("maintenance/", views.maintenance, name="maintenance"),
    path("maintenance/<slug:action>", views.maintenance_action, name="maintenance-action"),
    path("accounts/<principal:name>/empty-trash", views.account_empty_trash, name="account-empty-trash"),
    path("accounts/<principal:name>/delete-bayes", views.account_delete_bayes, name="account-delete-bayes"),
]
