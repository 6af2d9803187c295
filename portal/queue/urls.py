from django.urls import path

from . import views

app_name = "queue"
urlpatterns = [
    path("", views.message_list, name="list"),
    path("bulk", views.bulk, name="bulk"),
    path("status", views.queue_status, name="status"),
    path("messages/<int:message_id>/", views.message_detail, name="detail"),
    path("messages/<int:message_id>/retry", views.message_retry, name="retry"),
    path("messages/<int:message_id>/cancel", views.message_cancel, name="cancel"),
    path("reports/", views.report_list, name="reports"),
    path("reports/cancel-matching", views.reports_delete_matching, name="reports-delete"),
    path("reports/<str:report_id>/", views.report_detail, name="report"),
    path("reports/<str:report_id>/cancel", views.report_delete, name="report-delete"),
    path("reports/<str:report_id>/reschedule", views.report_reschedule, name="report-reschedule"),
]
