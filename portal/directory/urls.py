from django.urls import path

from . import views

app_name = "directory"
urlpatterns = [
    path("<slug:kind>/", views.principal_list, name="list"),
]
