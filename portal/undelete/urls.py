from django.urls import path

from . import views

app_name = "undelete"
urlpatterns = [
    path("", views.choose_account, name="index"),
    path("<principal:account>/", views.deleted_list, name="list"),
    path("<principal:account>/restore", views.restore, name="restore"),
]
