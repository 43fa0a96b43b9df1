from django import forms
from django.contrib import admin, messages
from django.db import models
from django.utils.html import format_html
from django.utils.module_loading import import_string
from django.utils.translation import ngettext

from .conf import credential_settings
from .fields import UnreadableSecret, validate_typed_api_key
from .models import ENDPOINT_FIELDS, AccessMode, Credential, EndpointChangeNeedsKey

UNREADABLE_STATE = (
    "cannot be decrypted: the server's encryption keys changed. Enter the key again, or add the old key to "
    "CRYPTOGRAPHY_KEYS and run manage.py rotate_credentials_key."
)
UNREADABLE_HELP = (
    "The stored key cannot be decrypted: the server's encryption keys changed. Enter the key again to "
    "replace it (for an owned credential, a superuser must), or add the old key to CRYPTOGRAPHY_KEYS and run "
    "manage.py rotate_credentials_key. Leaving "
    "this blank keeps the unreadable stored value as it is."
)


def _https_by_default(field, **kwargs):
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")  # a URL typed without a scheme
    return field.formfield(**kwargs)


class CredentialForm(forms.ModelForm):
    # Write-only: a password input that never renders the stored key back into the page.
    api_key = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave blank to keep the stored key.",
    )

    class Meta:
        model = Credential
        fields = ["name", "api_key", "base_url", "organization", "project", "users", "groups", "access_mode"]
        formfield_callback = _https_by_default

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.pop("api_key", None)  # the stored key never reaches the form's HTML
        if not self.instance._state.adding:
            self.fields["api_key"].help_text = (
                f"Stored key: {self.instance.masked_api_key}. Leave blank to keep it; type a new key to replace it."
                if self.instance.api_key_readable
                else UNREADABLE_HELP
            )

    # The user whose request this form serves (set by CredentialAdmin.get_form).
    user = None

    def clean_api_key(self):
        key = self.cleaned_data["api_key"]
        if key:
            validate_typed_api_key(key)
        elif self.instance._state.adding:
            raise forms.ValidationError("An API key is required.")
        return key

    def clean(self):
        cleaned_data = super().clean()
        adding = self.instance._state.adding
        if not cleaned_data.get("api_key"):
            # Blank keeps the stored key: the instance's is left as loaded (an unreadable one is written
            # back byte for byte), and the model knows it was not given again.
            cleaned_data.pop("api_key", None)
            if not adding and self._changes_endpoint():
                self.add_error("api_key", EndpointChangeNeedsKey.MESSAGE)
        if adding or self.user.is_superuser:
            return cleaned_data
        # Whoever shares a key must be able to use it: nobody can grant themselves someone else's key. Nor
        # send its users' calls to another account: a new key or endpoint is theirs to decide too.
        grants, redirects = self._grants_access(), "api_key" in cleaned_data or self._changes_endpoint()
        if (grants or redirects) and not self._user_may_use_it():
            if grants:
                self.add_error(None, "You may add users or groups only to a credential you may use yourself.")
            if redirects:
                self.add_error(
                    None, "You may replace the key or change the endpoint only of a credential you may use yourself."
                )
        elif redirects and self.instance.access_mode == AccessMode.OWNED:
            # Its users do not reach each other's stores: none of them may send the others' calls to an account
            # of their choosing, whose owner would read what they upload and search.
            self.add_error(None, "Only a superuser may replace the key or change the endpoint of an owned credential.")
        return cleaned_data

    def _changes_endpoint(self):
        return bool(set(ENDPOINT_FIELDS) & set(self.changed_data))

    def _grants_access(self):
        for name in ("users", "groups"):
            if name in self.changed_data:
                before = {item.pk for item in self.initial.get(name) or ()}
                if {item.pk for item in self.cleaned_data.get(name) or ()} - before:
                    return True
        return False

    def _user_may_use_it(self):
        return self.instance.may_be_used_by(self.user)


class CredentialAdmin(admin.ModelAdmin):
    form = CredentialForm
    list_display = ["name", "masked_key", "base_url_or_default", "allowed", "access_mode", "last_used_at"]
    search_fields = ["name"]
    filter_horizontal = ["users", "groups"]
    readonly_fields = ["id", "created_at", "updated_at", "last_used_at"]
    fieldsets = [
        (None, {"fields": ["name", "api_key"]}),
        ("Endpoint", {"fields": ["base_url", "organization", "project"]}),
        ("Who may use it through the API", {"fields": ["users", "groups", "access_mode"]}),
        ("Record", {"fields": ["id", "created_at", "updated_at", "last_used_at"]}),
    ]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # as the form's own (_https_by_default)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        # Where the key is sent is a superuser's decision (within the allow-list, for everyone); so is
        # whether its users reach each other's stores.
        return readonly if request.user.is_superuser else [*readonly, "base_url", "access_mode"]

    def construct_change_message(self, request, form, formsets, add=False):
        """Admin's message, with the old and new value of each endpoint field (never the key)."""
        message = super().construct_change_message(request, form, formsets, add)
        if add or not message or "changed" not in message[0]:
            return message
        labels = message[0]["changed"]["fields"]  # one per name of form.changed_data, in its order
        message[0]["changed"]["fields"] = [
            f"{label} (from {_shown(form.initial.get(name))} to {_shown(form.cleaned_data.get(name))})"
            if name in ENDPOINT_FIELDS
            else label
            for name, label in zip(form.changed_data, labels, strict=True)
        ]
        return message

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            # View-only: admin would show every field's value as text, the stored key included. Show the mask.
            return [
                (
                    name,
                    {
                        **options,
                        "fields": ["masked_key" if field == "api_key" else field for field in options["fields"]],
                    },
                )
                for name, options in fieldsets
            ]
        return fieldsets

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("users", "groups")

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            self._warn_about_unreadable_credentials(request)
        return super().changelist_view(request, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and request.method == "GET" and not obj.api_key_readable:
            self.message_user(request, f"The stored API key of {obj.name} {UNREADABLE_STATE}", messages.WARNING)
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
            self.message_user(
                request,
                ngettext(
                    "%(count)d credential cannot be decrypted: ",
                    "%(count)d credentials cannot be decrypted: ",
                    count,
                )
                % {"count": count}
                + (
                    "the server's encryption keys changed (CRYPTOGRAPHY_KEYS, or SECRET_KEY for keys stored by version "
                    "0.1). Add the old key to CRYPTOGRAPHY_KEYS and run manage.py rotate_credentials_key, or enter the "
                    "key again: " + ", ".join(unreadable) + "."
                ),
                messages.WARNING,
            )

    @admin.display(description="API key")
    def masked_key(self, credential):
        if not credential.api_key_readable:
            return format_html('<strong style="color: #ba2121">{}</strong>', credential.masked_api_key)
        return credential.masked_api_key

    @admin.display(description="Base URL", ordering="base_url")
    def base_url_or_default(self, credential):
        return credential.base_url or "OpenAI (default)"

    @admin.display(description="Who may use it")
    def allowed(self, credential):
        users = [user.get_username() for user in credential.users.all()]
        groups = [f"group {group.name}" for group in credential.groups.all()]
        return ", ".join(users + groups) or "superusers only"


def _shown(value):
    return f"“{value}”" if value else "blank"


if credential_settings.CREDENTIAL_ADMIN_CLASS and credential_settings.is_valid("CREDENTIAL_ADMIN_CLASS"):
    # A site may swap the credential admin (e.g. for one with the vector store console): see conf.py. A path
    # that cannot be imported registers none, and the system check credentials.E004 says so.
    admin.site.register(Credential, import_string(credential_settings.CREDENTIAL_ADMIN_CLASS))
