"""The portal's own data. Everything else lives in Stalwart."""

from __future__ import annotations

from django.db import models


class AuditEntry(models.Model):
    """One change the portal made in Stalwart (or tried to), and who asked for it."""

    SUCCESS = "success"
    FAILURE = "failure"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=512, db_index=True)
    # The actor's tenant, when they belong to one (tenant admins see their tenant's entries).
    actor_tenant = models.CharField(max_length=512, blank=True, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    target = models.CharField(max_length=1024, blank=True, db_index=True)
    method = models.CharField(max_length=64)  # "PATCH", or a JMAP method "x:DmarcExternalReport/set"
    path = models.CharField(max_length=2048)
    # Query and body with passwords, hashes, tokens and keys replaced.
    params = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=10, choices=[(SUCCESS, "Success"), (FAILURE, "Failure")])
    status = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["actor", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.target} {self.outcome}"
