"""The Credential model: the key encrypted at rest and kept out of text, who may use it, use tracking."""

import contextlib
import gc
import threading
import uuid
import weakref
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.db import DatabaseError, connections
from django.utils import timezone

from credentials.models import Credential
from tests.conftest import TEST_API_KEY, typed_fields
from tests.credentials.credentials_crypto import raw_column

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(group, user):
    """The suite's group, with `user` in it."""
    user.groups.add(group)
    return group


@pytest.fixture
def make_credential(db):
    def make(name="Other credential", api_key="sk-other-" + "x" * 20 + "zz99", **fields):
        return Credential.objects.create(name=name, api_key=api_key, **fields)

    return make


# --- the key at rest and in text -------------------------------------------------


def test_api_key_is_encrypted_at_rest(credential):
    raw = raw_column(credential.pk)

    assert raw  # the row holds something...
    assert TEST_API_KEY.encode() not in raw  # ...but not the key
    assert TEST_API_KEY[-8:].encode() not in raw
    assert TEST_API_KEY[8:-4].encode() not in raw


def test_api_key_reads_back_decrypted(credential):
    assert Credential.objects.get(pk=credential.pk).api_key == TEST_API_KEY


def test_same_key_encrypts_differently_each_time(credential, make_credential):
    """Fernet tokens carry a random IV, so equal keys can't be spotted by comparing rows."""
    twin = make_credential(api_key=TEST_API_KEY)

    assert raw_column(twin.pk) != raw_column(credential.pk)


def test_str_and_repr_never_contain_the_key(credential):
    for text in (str(credential), repr(credential)):
        assert TEST_API_KEY not in text
        assert TEST_API_KEY[-8:] not in text
    assert str(credential) == "Test credential"
    assert str(credential.pk) in repr(credential)


def test_id_is_a_uuid(credential):
    assert isinstance(credential.pk, uuid.UUID)
    assert isinstance(Credential.objects.get(pk=credential.pk).pk, uuid.UUID)


# --- masked key ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_key", "masked"),
    [
        (TEST_API_KEY, "sk-…a1b2"),
        ("sk-proj-abcdefghijklmnopWXYZ", "sk-…WXYZ"),
        ("azure0123456789abcdefKEY9", "…KEY9"),  # no sk- prefix: nothing invented
        ("sk-short123", "…"),  # 11 chars: too short to reveal even the tail
        ("", "…"),
    ],
    ids=["sk-key", "sk-proj-key", "no-sk-prefix", "short", "empty"],
)
def test_masked_api_key_shows_at_most_the_last_four_characters(api_key, masked):
    assert Credential(name="x", api_key=api_key).masked_api_key == masked


# --- who may use a credential ------------------------------------------------------------


def may_use(user, credential):
    """Whether `user` may use `credential`, asked both ways the model offers; the answers must agree."""
    listed = credential in Credential.objects.usable_by(user)
    fetched = Credential.objects.get_usable(user, credential.pk)
    assert listed == (fetched is not None)
    if fetched is not None:  # the whole row as the ORM loads it (types too), decrypted key included
        assert typed_fields(fetched) == typed_fields(Credential.objects.get(pk=credential.pk))
        assert fetched.api_key == credential.api_key
    return listed


def test_usable_by_a_member_user(credential, user):
    assert list(Credential.objects.usable_by(user)) == [credential]
    assert may_use(user, credential)


def test_not_usable_by_another_user(credential, other_user):
    assert not Credential.objects.usable_by(other_user).exists()
    assert not may_use(other_user, credential)


def test_usable_by_a_member_of_an_allowed_group(credential, other_user):
    group = Group.objects.create(name="partners")
    other_user.groups.add(group)
    credential.groups.add(group)

    assert list(Credential.objects.usable_by(other_user)) == [credential]
    assert may_use(other_user, credential)


def test_not_usable_through_a_group_of_another_credential(credential, make_credential, other_user):
    group = Group.objects.create(name="partners")
    other_user.groups.add(group)
    make_credential(name="Other").groups.add(group)
    Group.objects.create(name="empty").user_set.add(other_user)

    assert not may_use(other_user, credential)


def test_not_usable_through_an_allowed_group_the_user_is_not_in(credential, other_user, group):
    credential.groups.add(group)  # `group` holds `user`, not other_user

    assert not may_use(other_user, credential)


def test_no_duplicates_when_allowed_both_directly_and_by_group(credential, user, group):
    credential.groups.add(group)
    second_group = Group.objects.create(name="second")
    user.groups.add(second_group)
    credential.groups.add(second_group)

    usable = Credential.objects.usable_by(user)

    assert list(usable) == [credential]
    assert usable.count() == 1
    assert may_use(user, credential)


def test_superuser_may_use_every_credential(credential, make_credential, django_user_model):
    nobody_s = make_credential()  # no users, no groups
    root = django_user_model.objects.create_superuser("root", password="root-password")

    assert set(Credential.objects.usable_by(root)) == {credential, nobody_s}
    assert may_use(root, credential) and may_use(root, nobody_s)


def test_anonymous_user_may_use_none(credential):
    assert not Credential.objects.usable_by(AnonymousUser()).exists()
    assert not may_use(AnonymousUser(), credential)


def test_inactive_users_may_use_none(credential, user, group, django_user_model):
    credential.groups.add(group)
    user.is_active = False
    user.save()
    root = django_user_model.objects.create_superuser("root", password="root-password", is_active=False)

    assert not Credential.objects.usable_by(user).exists()
    assert not Credential.objects.usable_by(root).exists()
    assert not may_use(user, credential) and not may_use(root, credential)


def test_get_usable_answers_none_for_a_credential_that_does_not_exist(credential, user, django_user_model):
    root = django_user_model.objects.create_superuser("root", password="root-password")

    assert Credential.objects.get_usable(user, uuid.uuid4()) is None
    assert Credential.objects.get_usable(root, uuid.uuid4()) is None


def test_get_usable_costs_one_query(credential, user, group, django_assert_num_queries):
    credential.groups.add(group)

    with django_assert_num_queries(1):
        assert Credential.objects.get_usable(user, credential.pk) == credential


def test_get_usable_keeps_no_connection_of_a_thread_that_ended(credential, user):
    """Its row plan is per connection (its converters are bound to it): a server's short-lived threads must
    not leave their connections behind."""
    left = []

    def in_a_thread():
        connection = connections["default"]
        left.append(weakref.ref(connection))
        with contextlib.suppress(DatabaseError):  # the plan is made before the query runs
            Credential.objects.get_usable(user, credential.pk)
        connection.close()

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    del thread
    gc.collect()

    [connection] = left
    assert connection() is None


def test_usable_by_is_chainable(credential, user, make_credential):
    make_credential(name="Test credential two").users.add(user)

    assert list(Credential.objects.usable_by(user).filter(name="Test credential")) == [credential]


# --- last use -------------------------------------------------------------------------------


def stored_last_used_at(credential):
    return Credential.objects.values_list("last_used_at", flat=True).get(pk=credential.pk)


def test_mark_used_records_the_time(credential):
    before = timezone.now()

    credential.mark_used()

    assert credential.last_used_at is not None
    assert before <= stored_last_used_at(credential) <= timezone.now()
    assert stored_last_used_at(credential) == credential.last_used_at


def test_mark_used_again_within_a_minute_does_not_touch_the_database(credential, django_assert_num_queries):
    credential.mark_used()
    first = credential.last_used_at

    with django_assert_num_queries(0):
        credential.mark_used()

    assert credential.last_used_at == first


def test_fresh_instance_within_a_minute_does_not_write(credential, django_assert_num_queries):
    credential.mark_used()
    first = stored_last_used_at(credential)
    fresh = Credential.objects.get(pk=credential.pk)

    with django_assert_num_queries(0):
        fresh.mark_used()

    assert stored_last_used_at(credential) == first


def test_stale_instance_within_a_minute_does_not_overwrite(credential, django_assert_num_queries):
    """Another worker's instance, loaded before the first use: its update finds nothing stale."""
    stale = Credential.objects.get(pk=credential.pk)
    credential.mark_used()
    first = stored_last_used_at(credential)

    with django_assert_num_queries(1):
        stale.mark_used()

    assert stored_last_used_at(credential) == first


def test_mark_used_after_a_minute_writes_again(credential):
    long_ago = timezone.now() - timedelta(minutes=2)
    Credential.objects.filter(pk=credential.pk).update(last_used_at=long_ago)
    credential.last_used_at = long_ago

    credential.mark_used()

    assert stored_last_used_at(credential) > long_ago + timedelta(minutes=1)
    assert stored_last_used_at(credential) == credential.last_used_at


def test_mark_used_does_not_touch_other_fields(credential):
    updated_at = Credential.objects.get(pk=credential.pk).updated_at

    credential.mark_used()

    reloaded = Credential.objects.get(pk=credential.pk)
    assert reloaded.updated_at == updated_at
    assert reloaded.api_key == TEST_API_KEY


def test_a_failed_last_used_write_does_not_fail_the_use(credential, monkeypatch, caplog):
    from django.db import DatabaseError
    from django.db.models import QuerySet

    def broken(*args, **kwargs):
        raise DatabaseError("database is locked")

    monkeypatch.setattr(QuerySet, "update", broken)
    credential.mark_used()
    assert credential.last_used_at is None
    assert "Could not record the use of credential" in caplog.text
