"""The console's place in the credential admin, for a site to compose with its credential admin.

`credentials` knows nothing of vector stores: its admin is plain. A site that wants the console
registers a credential admin that adds `VectorStoreConsoleMixin`, e.g. with the setting
`OPENAI_CREDENTIALS = {"CREDENTIAL_ADMIN_CLASS": "vectorstores.console.admin.CredentialConsoleAdmin"}`
(as the standalone site does), or its own `class MyAdmin(VectorStoreConsoleMixin, MyCredentialAdmin)`.
"""

from functools import cached_property

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.utils.html import format_html
from django.utils.translation import ngettext

from credentials.admin import CredentialAdmin
from credentials.models import Credential

from .. import gateway
from .views import Console


class VectorStoreConsoleMixin:
    """Adds to a Credential ModelAdmin: the console's pages under the credential's admin URLs, a
    "Vector stores" link in each row and on the change page, and the "Test connection" action."""

    change_form_template = "admin/vectorstores/credential_change_form.html"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.actions = [*(self.actions or ()), "test_connection"]

    @cached_property
    def console(self):
        return Console(self)

    def get_urls(self):
        return self.console.urls() + super().get_urls()

    def history_view(self, request, object_id, extra_context=None):
        credential = self.get_object(request, unquote(object_id))
        if credential is not None and not self.console.may_read_history(request, credential):
            raise PermissionDenied
        return super().history_view(request, object_id, extra_context)

    def get_list_display(self, request):
        return [*super().get_list_display(request), "vector_stores_link"]

    def get_queryset(self, request):
        # console_usable: whether the user may use the credential (the API's rule), for the console links.
        usable = Credential.objects.usable_by(request.user).filter(pk=OuterRef("pk"))
        return super().get_queryset(request).annotate(console_usable=Exists(usable))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and getattr(obj, "console_usable", False):
            context["vector_stores_url"] = self.console.console_url(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="Vector stores")
    def vector_stores_link(self, credential):
        if not getattr(credential, "console_usable", False):
            return "—"  # not one this user may use: the console would answer 404
        return format_html('<a href="{}">Vector stores</a>', self.console.console_url(credential))

    @admin.action(description="Test connection to OpenAI", permissions=["change"])
    def test_connection(self, request, queryset):
        """Only the selected credentials the user may use are tried; nothing is said about the others."""
        working = 0
        for credential in queryset.filter(pk__in=Credential.objects.usable_by(request.user).values("pk")):
            try:
                gateway.check_connection(credential)  # an unreadable key or a refused host is refused first
            except gateway.GatewayError as error:
                self.message_user(request, f"{credential.name}: {error}", messages.ERROR)
            else:
                working += 1
                credential.mark_used()
        if working:
            self.message_user(
                request,
                ngettext("%d credential connected to OpenAI.", "%d credentials connected to OpenAI.", working)
                % working,
                messages.SUCCESS,
            )


class CredentialConsoleAdmin(VectorStoreConsoleMixin, CredentialAdmin):
    """The credential admin with the vector store console: what the standalone site registers."""
