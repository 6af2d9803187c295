from django.urls import path

from . import views

app_name = "observability"
urlpatterns = [
    path("logs/", views.logs, name="logs"),
    path("history/span/<int:span_id>/", views.span, name="span"),
    path("history/<slug:kind>/", views.history, name="history"),
    path("live/", views.live, name="live"),
    path("live/stream", views.live_stream, name="live-stream"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/live", views.metrics_stream, name="metrics-stream"),
]
