from django.contrib import admin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the trail is written by the API, never edited."""

    list_display = [
        "created_at",
        "username",
        "credential_name",
        "operation",
        "vector_store_id",
        "status_code",
        "duration_ms",
    ]
    list_filter = ["operation", "status_code", "credential"]
    search_fields = ["username", "credential_name", "credential_ref", "vector_store_id"]
    date_hierarchy = "created_at"
    list_select_related = ["credential"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
