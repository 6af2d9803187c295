from django.urls import path

from . import blocked, tasks, views

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
    path("maintenance/tasks/", tasks.tasks, name="tasks"),
    path("maintenance/tasks/rerun", tasks.task_rerun, name="task-rerun"),
    path("maintenance/tasks/cancel", tasks.task_cancel, name="task-cancel"),
    path("blocked-ips/", blocked.blocked_ips, name="blocked-ips"),
    path("blocked-ips/unblock", blocked.blocked_ip_unblock, name="blocked-ip-unblock"),
]
