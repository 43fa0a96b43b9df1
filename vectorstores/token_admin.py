"""DRF's API tokens in admin, for superusers only.

DRF's own token admin lists every token's key to any staff user with its view permission, and lets
one with its change permission give a token to another user. A key is as good as its user's
password, so a staff user with either could call the API as a superuser: every credential, every
store. This admin is DRF's, shown to superusers alone. Register it in place of DRF's (the standalone
site does, in config/urls.py):

    admin.site.unregister(TokenProxy)
    admin.site.register(TokenProxy, SuperuserTokenAdmin)

Import it only where `rest_framework.authtoken` is installed.
"""

from rest_framework.authtoken.admin import TokenAdmin


class SuperuserTokenAdmin(TokenAdmin):
    """DRF's TokenAdmin, which only active superusers see or use, whatever permissions other staff hold."""

    def _superuser(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return self._superuser(request)

    def has_view_permission(self, request, obj=None):
        return self._superuser(request)

    def has_add_permission(self, request):
        return self._superuser(request)

    def has_change_permission(self, request, obj=None):
        return self._superuser(request)

    def has_delete_permission(self, request, obj=None):
        return self._superuser(request)
