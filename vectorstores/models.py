from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """One call of the API by a signed-in user: who, with which credential, what, on which store, the outcome.

    Names are copied, so the trail survives the deletion of the user or the credential.
    Never holds an API key or file contents.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    username = models.CharField(max_length=150)
    credential = models.ForeignKey(
        "credentials.Credential", null=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    credential_name = models.CharField(max_length=200, blank=True)
    # What the caller asked for, also when it was not a credential they may use.
    credential_ref = models.CharField("credential asked for", max_length=64, blank=True)
    operation = models.CharField(max_length=32, db_index=True)
    method = models.CharField(max_length=32)  # longer names are cut; any method is recorded
    vector_store_id = models.CharField(max_length=128, blank=True, db_index=True)
    status_code = models.PositiveSmallIntegerField()
    duration_ms = models.PositiveIntegerField()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit trail"

    def __str__(self):
        return f"{self.username} {self.operation} {self.vector_store_id or ''} → {self.status_code}"
