from functools import cached_property

from django import forms
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.utils.html import format_html
from django.utils.translation import ngettext

from vectorstores import gateway
from vectorstores.console.views import Console
from vectorstores.exceptions import UpstreamError

from .fields import UnreadableSecret
from .models import Credential

UNREADABLE_STATE = (
    "cannot be decrypted: the server's encryption key changed. Enter the key again, or run "
    "manage.py rotate_credentials_key with the old key."
)
UNREADABLE_HELP = (
    "The stored key cannot be decrypted: the server's encryption key changed. Enter the key again to "
    "replace it (or run manage.py rotate_credentials_key with the old key). Leaving this blank keeps the "
    "unreadable stored value as it is."
)


class CredentialForm(forms.ModelForm):
    # Write-only: a password input that never renders the stored key back into the page.
    api_key = forms.CharField(
        label="API key", required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave blank to keep the stored key.",
    )
    base_url = forms.URLField(
        label="Base URL", required=False, assume_scheme="https",
        help_text=Credential._meta.get_field("base_url").help_text,
    )

    class Meta:
        model = Credential
        fields = ["name", "api_key", "base_url", "organization", "project", "users", "groups"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.pop("api_key", None)  # the stored key never reaches the form's HTML
        if not self.instance._state.adding:
            self.fields["api_key"].help_text = (
                f"Stored key: {self.instance.masked_api_key}. Leave blank to keep it; type a new key to replace it."
                if self.instance.api_key_readable else UNREADABLE_HELP
            )

    def clean_api_key(self):
        key = self.cleaned_data["api_key"]
        if key:
            return key
        if self.instance._state.adding:
            raise forms.ValidationError("An API key is required.")
        # The stored key; an unreadable one (an UnreadableSecret) is written back byte for byte.
        return self.instance.api_key


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    form = CredentialForm
    list_display = ["name", "masked_key", "base_url_or_default", "allowed", "last_used_at", "vector_stores_link"]
    search_fields = ["name"]
    filter_horizontal = ["users", "groups"]
    readonly_fields = ["id", "created_at", "updated_at", "last_used_at"]
    fieldsets = [
        (None, {"fields": ["name", "api_key"]}),
        ("Endpoint", {"fields": ["base_url", "organization", "project"]}),
        ("Who may use it through the API", {"fields": ["users", "groups"]}),
        ("Record", {"fields": ["id", "created_at", "updated_at", "last_used_at"]}),
    ]
    actions = ["test_connection"]
    # Adds a "Vector stores" link to the change page's object tools.
    change_form_template = "admin/vectorstores/credential_change_form.html"

    def get_urls(self):
        # The vector store console (vectorstores/console/), under this model's admin URLs.
        return self.console.urls() + super().get_urls()

    @cached_property
    def console(self):
        return Console(self)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            # View-only: admin would show every field's value as text, the stored key included. Show the mask.
            return [(name, {**options, "fields": ["masked_key" if field == "api_key" else field
                                                  for field in options["fields"]]})
                    for name, options in fieldsets]
        return fieldsets

    def get_queryset(self, request):
        # console_usable: whether the user may use the credential (the API's rule), for the console links.
        usable = Credential.objects.usable_by(request.user).filter(pk=OuterRef("pk"))
        return super().get_queryset(request).prefetch_related("users", "groups").annotate(
            console_usable=Exists(usable))

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            self._warn_about_unreadable_credentials(request)
        return super().changelist_view(request, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and request.method == "GET" and not obj.api_key_readable:
            self.message_user(request, f"The stored API key of {obj.name} {UNREADABLE_STATE}", messages.WARNING)
        if obj is not None and getattr(obj, "console_usable", False):
            context["vector_stores_url"] = self.console.console_url(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not obj.api_key_readable:
            self.message_user(request, f"The stored API key of {obj.name} still {UNREADABLE_STATE}", messages.WARNING)

    def _warn_about_unreadable_credentials(self, request):
        # values_list: the field's own loading, without a model instance (and its log line) per row.
        unreadable = sorted(
            name for name, key in Credential.objects.values_list("name", "api_key") if isinstance(key, UnreadableSecret)
        )
        if unreadable:
            count = len(unreadable)
            self.message_user(request, ngettext(
                "%(count)d credential cannot be decrypted: ", "%(count)d credentials cannot be decrypted: ", count,
            ) % {"count": count} + (
                "the server's CRYPTOGRAPHY_KEY (or SECRET_KEY) changed. Run manage.py rotate_credentials_key "
                "with the old key, or enter the key again: " + ", ".join(unreadable) + "."
            ), messages.WARNING)

    @admin.display(description="API key")
    def masked_key(self, credential):
        if not credential.api_key_readable:
            return format_html('<strong style="color: #ba2121">{}</strong>', credential.masked_api_key)
        return credential.masked_api_key

    @admin.display(description="Base URL", ordering="base_url")
    def base_url_or_default(self, credential):
        return credential.base_url or "OpenAI (default)"

    @admin.display(description="Vector stores")
    def vector_stores_link(self, credential):
        if not getattr(credential, "console_usable", False):
            return "—"  # not one this user may use: the console would answer 404
        return format_html('<a href="{}">Vector stores</a>', self.console.console_url(credential))

    @admin.display(description="Who may use it")
    def allowed(self, credential):
        users = [user.get_username() for user in credential.users.all()]
        groups = [f"group {group.name}" for group in credential.groups.all()]
        return ", ".join(users + groups) or "superusers only"

    @admin.action(description="Test connection to OpenAI")
    def test_connection(self, request, queryset):
        working = 0
        for credential in queryset:
            if not credential.api_key_readable:  # never hand the placeholder to OpenAI as a key
                self.message_user(request, f"{credential.name}: the stored API key {UNREADABLE_STATE}", messages.ERROR)
                continue
            try:
                gateway.check_connection(credential)
            except UpstreamError as error:
                self.message_user(request, f"{credential.name}: {error.detail}", messages.ERROR)
            else:
                working += 1
                credential.mark_used()
        if working:
            self.message_user(request, ngettext(
                "%d credential connected to OpenAI.", "%d credentials connected to OpenAI.", working
            ) % working, messages.SUCCESS)
