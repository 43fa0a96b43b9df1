"""The admin of vector store records: who sees which, who may reassign a store, and to whom."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.conftest import TEST_API_KEY, logged_in
from vectorstores.models import AuditEntry, StoreFileRecord, StoreRecord
from vectorstores.testing import create_credential

pytestmark = pytest.mark.django_db


def records_url(name, *args):
    """The URL of the records admin's page `name` (changelist, change, add, delete)."""
    return reverse(f"admin:vectorstores_storerecord_{name}", args=args)


def staff(django_user_model, username, *codenames, credential=None):
    """A staff user with these permissions of the vectorstores app, and one of `credential`'s users when given."""
    user = django_user_model.objects.create_user(username, password=f"{username}-password", is_staff=True)
    permissions = Permission.objects.filter(content_type__app_label="vectorstores", codename__in=codenames)
    user.user_permissions.add(*permissions)
    if credential is not None:
        credential.users.add(user)
    return user


def change_data(record, **changes):
    """What the record's change form posts (owner and group, and the empty files inline), with `changes`."""
    data = {
        "owner": record.owner_id or "",
        "group": record.group_id or "",
        "files-TOTAL_FORMS": "0",
        "files-INITIAL_FORMS": "0",
        "files-MIN_NUM_FORMS": "0",
        "files-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    return {**data, **changes}


def listed(response):
    assert response.status_code == 200
    return sorted(record.store_id for record in response.context["cl"].result_list)


@pytest.fixture
def other_credential(fake_openai, other_user):
    """A credential in owned mode that only mallory may use."""
    return create_credential(fake_openai, name="Mallory's key", api_key=TEST_API_KEY, users=[other_user])


@pytest.fixture
def alices_record(owned_credential, alice):
    return StoreRecord.objects.create(
        credential=owned_credential,
        store_id="vs_alice",
        owner=alice,
        created_by=alice,
        snapshot={"id": "vs_alice", "name": "Alice's handbook", "created_at": 1_700_000_000},
        store_created_at=1_700_000_000,
    )


@pytest.fixture
def mallorys_record(other_credential, other_user):
    return StoreRecord.objects.create(
        credential=other_credential, store_id="vs_mallory", owner=other_user, snapshot={"name": "Mallory's plans"}
    )


@pytest.fixture
def manager(django_user_model, owned_credential):
    """Staff who may use the owned credential, with the records' permissions and manage_all_stores."""
    return staff(
        django_user_model,
        "manon",
        "view_storerecord",
        "change_storerecord",
        "manage_all_stores",
        credential=owned_credential,
    )


# --- the changelist ------------------------------------------------------------------------------


def test_staff_see_the_records_of_the_credentials_they_may_use_only(manager, alices_record, mallorys_record):
    response = logged_in(manager).get(records_url("changelist"))

    assert listed(response) == ["vs_alice"]
    content = response.content.decode()
    assert "Alice&#x27;s handbook" in content
    assert "Mallory" not in content  # nor the other credential's name in the credential filter


def test_a_record_of_another_credential_cannot_be_opened(manager, mallorys_record):
    response = logged_in(manager).get(records_url("change", mallorys_record.pk))

    assert response.status_code == 302  # admin's "doesn't exist", to the index
    assert response.url == reverse("admin:index")


def test_superusers_see_every_record(admin_client, alices_record, mallorys_record):
    assert listed(admin_client.get(records_url("changelist"))) == ["vs_alice", "vs_mallory"]


@pytest.mark.parametrize(
    ("query", "found"), [("vs_ali", ["vs_alice"]), ("mallory", ["vs_mallory"]), ("handbook", ["vs_alice"])]
)
def test_search_by_store_id_owner_and_name(admin_client, alices_record, mallorys_record, query, found):
    assert listed(admin_client.get(records_url("changelist"), {"q": query})) == found


# --- reassigning ---------------------------------------------------------------------------------


def test_a_manager_reassigns_a_store_to_another_user_and_a_group(manager, alices_record, bob, group):
    response = logged_in(manager).post(
        records_url("change", alices_record.pk), change_data(alices_record, owner=bob.pk, group=group.pk)
    )

    assert response.status_code == 302
    alices_record.refresh_from_db()
    assert (alices_record.owner, alices_record.group) == (bob, group)
    assert alices_record.created_by.username == "alice"  # who made it stays


def test_without_manage_all_stores_the_change_permission_only_shows_the_record(
    django_user_model, owned_credential, alices_record, bob
):
    editor = staff(django_user_model, "eddie", "view_storerecord", "change_storerecord", credential=owned_credential)
    eddies = StoreRecord.objects.create(credential=owned_credential, store_id="vs_eddie", owner=editor)
    client = logged_in(editor)

    page = client.get(records_url("change", eddies.pk))
    response = client.post(records_url("change", eddies.pk), change_data(eddies, owner=bob.pk))

    assert page.status_code == 200
    assert 'name="owner"' not in page.content.decode()  # read-only
    assert response.status_code == 403
    eddies.refresh_from_db()
    assert eddies.owner == editor


def test_without_manage_all_stores_staff_see_only_the_records_of_stores_they_reach(
    django_user_model, owned_credential, alices_record, group
):
    viewer = staff(django_user_model, "vera", "view_storerecord", credential=owned_credential)
    viewer.groups.add(group)
    shared_with_her = StoreRecord.objects.create(credential=owned_credential, store_id="vs_team", group=group)
    client = logged_in(viewer)

    listed = client.get(records_url("changelist"))
    assert list(listed.context["cl"].result_list) == [shared_with_her]
    assert "Alice's handbook" not in listed.content.decode()
    assert client.get(records_url("change", alices_record.pk)).status_code == 302  # admin's "does not exist"
    owned_credential.access_mode = "shared"
    owned_credential.save()
    assert set(client.get(records_url("changelist")).context["cl"].result_list) == {shared_with_her, alices_record}


def test_the_owner_must_be_a_user_who_may_use_the_credential(manager, alices_record, other_user):
    response = logged_in(manager).post(
        records_url("change", alices_record.pk), change_data(alices_record, owner=other_user.pk)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "owner": ["mallory may not use the credential Team key: add them to its users or to one of its groups first."]
    }
    alices_record.refresh_from_db()
    assert alices_record.owner.username == "alice"


def test_a_member_of_one_of_the_credentials_groups_may_own(manager, owned_credential, alices_record, other_user, group):
    owned_credential.groups.add(group)
    other_user.groups.add(group)

    response = logged_in(manager).post(
        records_url("change", alices_record.pk), change_data(alices_record, owner=other_user.pk)
    )

    assert response.status_code == 302
    alices_record.refresh_from_db()
    assert alices_record.owner == other_user


def test_the_change_page_shows_the_files_attached_through_the_site(admin_client, alices_record, alice):
    StoreFileRecord.objects.create(store=alices_record, file_id="file-guide", attached_by=alice)

    content = admin_client.get(records_url("change", alices_record.pk)).content.decode()

    assert "file-guide" in content


# --- adding and deleting -------------------------------------------------------------------------


def test_nobody_adds_records_here(admin_client):
    assert admin_client.get(records_url("add")).status_code == 403


def test_only_superusers_delete_records_and_the_store_stays_at_openai(
    django_user_model, admin_client, owned_credential, fake_openai
):
    store = fake_openai.create_vector_store(name="Kept")
    record = StoreRecord.objects.create(credential=owned_credential, store_id=store["id"], snapshot=store)
    deleter = staff(django_user_model, "dora", "view_storerecord", "delete_storerecord", credential=owned_credential)

    refused = logged_in(deleter).post(records_url("delete", record.pk), {"post": "yes"})
    confirmation = admin_client.get(records_url("delete", record.pk))
    deleted = admin_client.post(records_url("delete", record.pk), {"post": "yes"})

    assert refused.status_code == 403
    assert "does not delete the vector store at OpenAI" in confirmation.content.decode()
    assert deleted.status_code == 302
    assert not StoreRecord.objects.exists()
    assert fake_openai.get_store(store["id"])["name"] == "Kept"


# --- the audit trail's admin, scoped the same way -------------------------------------------------------


def audit_entry(user, credential, store_id):
    return AuditEntry.objects.create(
        user=user,
        username=user.get_username(),
        credential=credential,
        credential_name=credential.name,
        operation="retrieve",
        method="GET",
        vector_store_id=store_id,
        store_owner=user.get_username(),
        status_code=200,
        duration_ms=1,
    )


@pytest.fixture
def entries(owned_credential, other_credential, alice, bob, other_user):
    """One call each: alice's and bob's under the owned credential, mallory's under hers."""
    return [
        audit_entry(alice, owned_credential, "vs_alice"),
        audit_entry(bob, owned_credential, "vs_bob"),
        audit_entry(other_user, other_credential, "vs_mallory"),
    ]


def audited_stores(user):
    response = logged_in(user).get(reverse("admin:vectorstores_auditentry_changelist"))
    assert response.status_code == 200
    return sorted(entry.vector_store_id for entry in response.context["cl"].result_list), response.content.decode()


@pytest.mark.usefixtures("entries")
def test_staff_see_their_own_calls_under_an_owned_credential(django_user_model, owned_credential, bob):
    bob.is_staff = True
    bob.save()
    bob.user_permissions.add(Permission.objects.get(codename="view_auditentry"))
    stores, page = audited_stores(bob)
    assert stores == ["vs_bob"]
    assert "Mallory" not in page  # nor another credential in the filter
    owned_credential.access_mode = "shared"  # where everyone who may use it reaches every store
    owned_credential.save()
    assert audited_stores(bob)[0] == ["vs_alice", "vs_bob"]


@pytest.mark.usefixtures("entries")
def test_managers_see_the_calls_of_the_credentials_they_may_use(django_user_model, owned_credential):
    manager = staff(django_user_model, "audrey", "view_auditentry", "manage_all_stores", credential=owned_credential)
    assert audited_stores(manager)[0] == ["vs_alice", "vs_bob"]


@pytest.mark.usefixtures("entries")
def test_staff_who_may_use_no_credential_see_no_call(django_user_model):
    assert audited_stores(staff(django_user_model, "eve", "view_auditentry"))[0] == []


@pytest.mark.usefixtures("entries")
def test_superusers_see_every_call(admin_client):
    response = admin_client.get(reverse("admin:vectorstores_auditentry_changelist"))
    assert sorted(entry.vector_store_id for entry in response.context["cl"].result_list) == [
        "vs_alice",
        "vs_bob",
        "vs_mallory",
    ]
