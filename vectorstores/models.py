from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q


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
    # The store's owner when the call was made (copied, like the names above).
    store_owner = models.CharField(max_length=150, blank=True)
    # The Files and file batches the call named (in its path or body) or made, space-separated.
    object_ids = models.TextField("files and batches", blank=True)
    status_code = models.PositiveSmallIntegerField()
    duration_ms = models.PositiveIntegerField()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit trail"

    def __str__(self):
        return f"{self.username} {self.operation} {self.vector_store_id or ''} → {self.status_code}"


class StoreRecordQuerySet(models.QuerySet):
    def reachable_by(self, user):
        """The records of stores `user` owns or that are shared with one of their groups (the owned rule;
        whether the credential's mode or the user's permission makes them reach more is decided elsewhere)."""
        if not (user.is_authenticated and user.is_active):
            return self.none()
        return self.filter(Q(owner=user) | Q(group__in=user.groups.all()))


class StoreRecord(models.Model):
    """A vector store this site knows: whose it is, and the store as the site last saw it.

    Made when a store is created through the API or the console (the caller owns it), or imported
    by an admin. Owned lists are served from these rows, in OpenAI's order (created_at, newest first).
    """

    credential = models.ForeignKey(
        "credentials.Credential", on_delete=models.CASCADE, related_name="vector_store_records"
    )
    store_id = models.CharField("vector store id", max_length=128)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Its members reach the store too.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    # OpenAI's vector store object when the site last saw it, and its created_at (the lists' order).
    snapshot = models.JSONField(default=dict, editable=False)
    store_created_at = models.BigIntegerField(default=0, editable=False)

    objects = StoreRecordQuerySet.as_manager()

    class Meta:
        # OpenAI's order: created_at, then (within a second) the order the site recorded them in.
        ordering = ["-store_created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["credential", "store_id"], name="one_record_per_store")]
        indexes = [models.Index(fields=["credential", "-store_created_at", "-id"], name="store_record_order")]
        permissions = [("manage_all_stores", "Can reach every vector store of the credentials they may use")]
        verbose_name = "vector store record"

    def __str__(self):
        return self.snapshot.get("name") or self.store_id


class StoreFileRecord(models.Model):
    """A File this site attached to a recorded store: who attached it, so that deleting the File never
    takes it from a store of somebody else."""

    store = models.ForeignKey(StoreRecord, on_delete=models.CASCADE, related_name="files")
    file_id = models.CharField(max_length=128, db_index=True)
    attached_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    attached_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "file_id"], name="one_record_per_store_file")]
        verbose_name = "vector store file record"

    def __str__(self):
        return self.file_id


class FileRecord(models.Model):
    """An OpenAI File a user uploaded through the site (the OpenAI-compatible `POST /files`, or an upload into a
    store by the API or the console): whose it is, and the File as the site last saw it. `GET /files` lists a
    caller's own from these rows, and in owned mode nobody else attaches, reads or deletes the File (unless it
    is in a store they reach), also once no store holds it."""

    credential = models.ForeignKey("credentials.Credential", on_delete=models.CASCADE, related_name="file_records")
    file_id = models.CharField(max_length=128)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    # OpenAI's File object when the site last saw it, and its created_at (the list's order).
    snapshot = models.JSONField(default=dict)
    file_created_at = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-file_created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["credential", "file_id"], name="one_record_per_file")]
        indexes = [models.Index(fields=["credential", "owner", "-file_created_at", "-id"], name="file_record_order")]
        verbose_name = "uploaded file record"

    def __str__(self):
        return self.snapshot.get("filename") or self.file_id
