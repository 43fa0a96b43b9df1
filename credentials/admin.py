from django import forms
from django.contrib import admin, messages
from django.utils.translation import ngettext

from vectorstores import gateway
from vectorstores.exceptions import UpstreamError

from .models import Credential


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
            )

    def clean_api_key(self):
        key = self.cleaned_data["api_key"]
        if key:
            return key
        if self.instance._state.adding:
            raise forms.ValidationError("An API key is required.")
        return self.instance.api_key


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    form = CredentialForm
    list_display = ["name", "masked_key", "base_url_or_default", "allowed", "last_used_at"]
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

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("users", "groups")

    @admin.display(description="API key")
    def masked_key(self, credential):
        return credential.masked_api_key

    @admin.display(description="Base URL", ordering="base_url")
    def base_url_or_default(self, credential):
        return credential.base_url or "OpenAI (default)"

    @admin.display(description="Who may use it")
    def allowed(self, credential):
        users = [user.get_username() for user in credential.users.all()]
        groups = [f"group {group.name}" for group in credential.groups.all()]
        return ", ".join(users + groups) or "superusers only"

    @admin.action(description="Test connection to OpenAI")
    def test_connection(self, request, queryset):
        working = 0
        for credential in queryset:
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
