from django.urls import path

from . import views

app_name = "config"
urlpatterns = [
    path("", views.browse, name="browse"),
    path("groups/", views.groups, name="groups"),
    path("key/", views.key_edit, name="key-edit"),
    path("key/new", views.key_new, name="key-new"),
    path("key/delete", views.key_delete, name="key-delete"),
    path("record/", views.record_edit, name="record-edit"),
    path("record/new", views.record_new, name="record-new"),
    path("record/delete", views.record_delete, name="record-delete"),
    path("reveal", views.reveal, name="reveal"),
    path("saved", views.saved, name="saved"),
    path("reload", views.reload, name="reload"),
]
