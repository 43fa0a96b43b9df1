"""API tokens in the standalone site's admin: superusers only (vectorstores.token_admin)."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from tests.conftest import logged_in, token_of
from vectorstores.checks import check_token_admin
from vectorstores.token_admin import SuperuserTokenAdmin

pytestmark = pytest.mark.django_db

TOKEN_PERMISSIONS = ["view_tokenproxy", "add_tokenproxy", "change_tokenproxy", "delete_tokenproxy"]


@pytest.fixture
def token_staff(django_user_model):
    """A staff user (not a superuser) granted every permission on DRF's tokens."""
    user = django_user_model.objects.create_user("eve", password="staff-password", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="authtoken", codename__in=TOKEN_PERMISSIONS)
    )
    return user


def test_a_staff_user_with_every_token_permission_reaches_no_token(token_staff, admin_user):
    """With DRF's own token admin, eve read the superuser's key in the list (view permission), or gave her own
    token to the superuser (change permission), and called the API as them."""
    key = token_of(admin_user)
    client = logged_in(token_staff)

    pages = {
        "list": client.get(reverse("admin:authtoken_tokenproxy_changelist")),
        "token": client.get(reverse("admin:authtoken_tokenproxy_change", args=[admin_user.pk])),
        "add": client.post(reverse("admin:authtoken_tokenproxy_add"), {"user": admin_user.pk}),
    }

    assert {name: page.status_code for name, page in pages.items()} == {"list": 403, "token": 403, "add": 403}
    index = client.get(reverse("admin:index")).content.decode()
    assert "authtoken" not in index and key not in index
    assert token_of(admin_user) == key  # not replaced, nor another user's


def test_a_superuser_manages_every_token(admin_client, token_staff):
    response = admin_client.post(reverse("admin:authtoken_tokenproxy_add"), {"user": token_staff.pk})
    assert response.status_code == 302
    assert token_of(token_staff) in admin_client.get(reverse("admin:authtoken_tokenproxy_changelist")).content.decode()


def test_a_site_that_keeps_drfs_token_admin_is_warned():
    """A host that skips the README's recipe is told, as the standalone site (which follows it) is not."""
    assert [message.id for message in check_token_admin(None)] == []
    admin.site.unregister(TokenProxy)
    admin.site.register(TokenProxy, TokenAdmin)
    try:
        assert [message.id for message in check_token_admin(None)] == ["vectorstores.W003"]
    finally:
        admin.site.unregister(TokenProxy)
        admin.site.register(TokenProxy, SuperuserTokenAdmin)
