from django.urls import path

from . import schema_views, views

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
    # Stalwart 0.16+: the objects of the server's schema (capabilities.JMAP_ONLY_PAGES)
    path("objects/", schema_views.index, name="schema-index"),
    path("objects/reload", schema_views.reload, name="schema-reload"),
    path("objects/<str:slug>/", schema_views.page, name="schema-page"),
    path("objects/<str:slug>/create/", schema_views.create, name="schema-create"),
    path("objects/<str:slug>/items/<str:object_id>/", schema_views.item, name="schema-item"),
    path("objects/<str:slug>/items/<str:object_id>/delete/", schema_views.delete, name="schema-delete"),
]
