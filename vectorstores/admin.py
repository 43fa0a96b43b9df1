from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q

from credentials.models import AccessMode, Credential

from . import ownership
from .console.display import timestamp
from .models import AuditEntry, StoreFileRecord, StoreRecord

DELETING_LEAVES_THE_STORE = (
    "Deleting a record does not delete the vector store at OpenAI: the store stays, and only those who reach "
    "every store of the credential reach it, until it is imported again (manage.py import_vector_stores)."
)


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
    list_filter = ["operation", "status_code", ("credential", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["username", "credential_name", "credential_ref", "vector_store_id", "object_ids"]
    date_hierarchy = "created_at"
    list_select_related = ["credential"]

    def get_queryset(self, request):
        # Entries name stores and their owners: staff see those of the credentials they may use, as the
        # store records (under an owned credential, unless they manage stores, their own calls only).
        entries = super().get_queryset(request)
        if request.user.is_superuser:
            return entries  # those of deleted credentials included
        entries = entries.filter(credential__in=Credential.objects.usable_by(request.user))
        if ownership.may_manage_stores(request.user):
            return entries
        return entries.filter(Q(credential__access_mode=AccessMode.SHARED) | Q(user=request.user))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StoreRecordForm(forms.ModelForm):
    """Owner and group: all an admin changes of a record (the rest is what OpenAI and the import said)."""

    class Meta:
        model = StoreRecord
        fields = ["owner", "group"]

    def clean_owner(self):
        owner = self.cleaned_data["owner"]
        if owner is None:
            return owner
        # The owner reaches the store through its credential: only a user who may use it can own it.
        if not self.instance.credential.may_be_used_by(owner):
            raise forms.ValidationError(
                f"{owner.get_username()} may not use the credential {self.instance.credential}: add them to its "
                "users or to one of its groups first."
            )
        return owner


class StoreFileRecordInline(admin.TabularInline):
    """The Files attached to the store through this site, and by whom: read-only."""

    model = StoreFileRecord
    fields = ["file_id", "attached_by", "attached_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "files attached through this site"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        # Shown on the record's own page, which the record's permissions already guard.
        return True


@admin.register(StoreRecord)
class StoreRecordAdmin(admin.ModelAdmin):
    """Whose each recorded vector store is. Records are made by the API, the console and
    `manage.py import_vector_stores`; here they are reassigned, or (superusers) deleted."""

    form = StoreRecordForm
    inlines = [StoreFileRecordInline]
    list_display = ["store_id", "name", "credential", "owner", "group", "created_by", "recorded_at"]
    list_filter = [
        ("credential", admin.RelatedOnlyFieldListFilter),
        ("group", admin.RelatedOnlyFieldListFilter),
        "credential__access_mode",
    ]
    list_select_related = ["credential", "owner", "group", "created_by"]
    readonly_fields = ["credential", "store_id", "name", "store_created", "created_by", "recorded_at", "snapshot"]
    fieldsets = [
        (None, {"fields": ["credential", "store_id", "name", "store_created"]}),
        ("Who reaches it", {"fields": ["owner", "group"]}),
        (
            "Record",
            {
                "fields": ["created_by", "recorded_at", "snapshot"],
                "description": DELETING_LEAVES_THE_STORE,
            },
        ),
    ]

    def get_search_fields(self, request):
        return ["store_id", f"owner__{get_user_model().USERNAME_FIELD}", "snapshot__name"]

    def get_queryset(self, request):
        records = super().get_queryset(request)
        if ownership.may_manage_stores(request.user):
            return records.filter(credential__in=Credential.objects.usable_by(request.user))
        # Others see the records of the stores they reach: all under a shared credential, else their own.
        reached = Q(credential__access_mode=AccessMode.SHARED) | Q(
            pk__in=records.reachable_by(request.user).values("pk")
        )
        return records.filter(reached, credential__in=Credential.objects.usable_by(request.user))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Reassigning a store is managing stores: the model permission alone only lets a user view records.
        return super().has_change_permission(request, obj) and ownership.may_manage_stores(request.user)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @admin.display(description="name", ordering="snapshot__name")
    def name(self, record):
        return record.snapshot.get("name") or ""

    @admin.display(description="created at OpenAI", ordering="store_created_at")
    def store_created(self, record):
        return (record.store_created_at and timestamp(record.store_created_at)) or "unknown"
