"""`manage.py import_vector_stores`: stores made at OpenAI outside this site become someone's."""

import io

import pytest
from django.core.management import CommandError, call_command

from credentials.models import Credential
from tests.conftest import TEST_API_KEY
from vectorstores import gateway
from vectorstores.models import StoreRecord
from vectorstores.testing import create_credential

pytestmark = pytest.mark.django_db

# 2023-11-14T22:13:20Z, and later ones a day apart.
NOV_14 = 1_700_000_000
DAY = 86_400


def run(*args):
    """The command's output lines."""
    out = io.StringIO()
    call_command("import_vector_stores", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().splitlines()


def owners(credential):
    """{store id: (owner's username, group's name)} of the credential's records."""
    return {
        record.store_id: (record.owner and record.owner.username, record.group and record.group.name)
        for record in StoreRecord.objects.filter(credential=credential).select_related("owner", "group")
    }


@pytest.fixture
def stores(store_made_at):
    """Handbook (Nov 14), Policies (Nov 15), Minutes (Nov 16): made at OpenAI, not recorded."""
    return [store_made_at(name, NOV_14 + day * DAY) for day, name in enumerate(["Handbook", "Policies", "Minutes"])]


@pytest.fixture
def bobs_store(owned_credential, bob, store_made_at):
    """A store already recorded as bob's."""
    store = store_made_at("Bob's notes", NOV_14 - DAY)
    StoreRecord.objects.create(credential=owned_credential, store_id=store["id"], owner=bob, snapshot=store)
    return store


# --- listing -------------------------------------------------------------------------------------


def test_list_prints_the_unrecorded_stores_newest_first_and_changes_nothing(owned_credential, stores, bobs_store):
    handbook, policies, minutes = stores

    lines = run("Team key", "--list")

    assert lines == [
        f"{minutes['id']}\tMinutes\t2023-11-16T22:13:20Z",
        f"{policies['id']}\tPolicies\t2023-11-15T22:13:20Z",
        f"{handbook['id']}\tHandbook\t2023-11-14T22:13:20Z",
        "3 stores of Team key without a record.",
    ]
    assert owners(owned_credential) == {bobs_store["id"]: ("bob", None)}


def test_list_takes_no_owner(owned_credential, stores):
    with pytest.raises(CommandError, match="--list changes nothing"):
        run("Team key", "--list", "--owner", "alice")


def test_a_note_says_when_openai_holds_more_stores_than_were_looked_at(owned_credential, stores, settings):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "LIST_MAX_ITEMS": 2}

    lines = run("Team key", "--list")

    assert len(lines) == 4  # the two newest, the count, the note
    assert lines[-1] == (
        "OpenAI holds more stores of Team key than the 2 looked at (the LIST_MAX_ITEMS setting): "
        "those past them were not considered."
    )


# --- recording -----------------------------------------------------------------------------------


def test_one_store_becomes_the_owners(owned_credential, stores, alice):
    policies = stores[1]

    lines = run("Team key", "--store", policies["id"], "--owner", "alice")

    assert lines == [
        f"Recorded {policies['id']} “Policies” (created 2023-11-15T22:13:20Z)",
        "1 store recorded as owner alice.",
    ]
    assert owners(owned_credential) == {policies["id"]: ("alice", None)}
    assert StoreRecord.objects.get().created_by is None  # imported, not created through the site


def test_several_stores_become_the_owners_and_the_groups(owned_credential, stores, group):
    handbook, _, minutes = stores

    lines = run(
        "Team key", "--store", handbook["id"], "--store", minutes["id"], "--owner", "bob", "--group", "analysts"
    )

    assert lines[-1] == "2 stores recorded as owner bob, group analysts."
    assert owners(owned_credential) == {handbook["id"]: ("bob", "analysts"), minutes["id"]: ("bob", "analysts")}


def test_all_records_every_unrecorded_store_and_keeps_recorded_ones(owned_credential, stores, bobs_store):
    lines = run("Team key", "--all", "--owner", "alice")

    assert lines[-1] == "3 stores recorded as owner alice."
    assert owners(owned_credential) == {
        **{store["id"]: ("alice", None) for store in stores},
        bobs_store["id"]: ("bob", None),
    }


def test_a_group_alone_may_receive_the_stores(owned_credential, stores, group):
    run("Team key", "--all", "--group", "analysts")

    assert set(owners(owned_credential).values()) == {(None, "analysts")}


def test_records_carry_the_store_as_openai_lists_it_in_its_order(owned_credential, store_made_at):
    # Two stores of one second too: OpenAI lists the later made first, and so must the records.
    made = [store_made_at(name, created_at) for name, created_at in [("A", NOV_14), ("B", NOV_14), ("C", NOV_14 + DAY)]]
    listed = gateway.list_vector_stores(owned_credential, paged=False).items

    run("Team key", "--all", "--owner", "alice")

    records = list(StoreRecord.objects.filter(credential=owned_credential))
    assert (
        [record.store_id for record in records]
        == [store["id"] for store in listed]
        == [
            made[2]["id"],
            made[1]["id"],
            made[0]["id"],
        ]
    )
    assert [record.snapshot for record in records] == listed
    assert [record.store_created_at for record in records] == [NOV_14 + DAY, NOV_14, NOV_14]


def test_dry_run_reports_and_records_nothing(owned_credential, stores):
    handbook, _, minutes = stores

    lines = run("Team key", "--store", handbook["id"], "--store", minutes["id"], "--owner", "alice", "--dry-run")

    assert lines == [
        f"Would record {handbook['id']} “Handbook” (created 2023-11-14T22:13:20Z)",
        f"Would record {minutes['id']} “Minutes” (created 2023-11-16T22:13:20Z)",
        "Dry run: 2 stores would be recorded as owner alice. Nothing was changed.",
    ]
    assert not StoreRecord.objects.exists()


def test_a_store_already_recorded_is_kept_as_it_is(owned_credential, stores, bobs_store):
    handbook = stores[0]

    lines = run("Team key", "--store", bobs_store["id"], "--store", handbook["id"], "--owner", "alice")

    assert lines == [
        f"Recorded {handbook['id']} “Handbook” (created 2023-11-14T22:13:20Z)",
        f"Kept {bobs_store['id']}: already recorded (owner bob)",
        "1 store recorded as owner alice; 1 already recorded, kept as they were.",
    ]
    assert owners(owned_credential) == {bobs_store["id"]: ("bob", None), handbook["id"]: ("alice", None)}


def test_a_shared_credential_is_said_to_reach_everyone_anyway(credential, fake_openai):
    fake_openai.create_vector_store(name="Anyone's")

    lines = run("Test credential", "--all", "--owner", "alice")

    assert lines[-2:] == [
        "1 store recorded as owner alice.",
        "Test credential is in shared mode: everyone who may use it reaches every store until it is owned.",
    ]


# --- refusals: nothing is recorded ----------------------------------------------------------------


def test_an_unknown_store_is_an_error_naming_it(owned_credential, stores):
    with pytest.raises(CommandError, match=r"without a record: vs_nowhere\. Nothing was recorded\.$"):
        run("Team key", "--store", stores[0]["id"], "--store", "vs_nowhere", "--owner", "alice")

    assert not StoreRecord.objects.exists()


def test_the_owner_must_be_a_user_who_may_use_the_credential(owned_credential, stores, other_user):
    with pytest.raises(CommandError, match="mallory may not use Team key"):
        run("Team key", "--all", "--owner", "mallory")

    assert not StoreRecord.objects.exists()


def test_a_user_of_one_of_the_credentials_groups_may_own(owned_credential, stores, other_user, group):
    owned_credential.groups.add(group)
    other_user.groups.add(group)

    run("Team key", "--store", stores[0]["id"], "--owner", "mallory")

    assert owners(owned_credential) == {stores[0]["id"]: ("mallory", None)}


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--all"], "Give --owner, --group or both"),
        (["--owner", "alice"], "one of the arguments --store --all --list is required"),
        (["--all", "--store", "vs_a", "--owner", "alice"], "not allowed with argument"),
        (["--all", "--owner", "nobody"], "No such user: nobody"),
        (["--all", "--group", "nobody"], "No such group: nobody"),
    ],
)
def test_arguments_that_say_no_clear_import_are_errors(owned_credential, stores, args, error):
    with pytest.raises(CommandError, match=error):
        run("Team key", *args)

    assert not StoreRecord.objects.exists()


def test_gateway_errors_become_command_errors_with_their_message(owned_credential, fake_openai):
    fake_openai.fail("GET", "/vector_stores", 500, times=2)

    for args in (["--list"], ["--all", "--owner", "alice"]):
        with pytest.raises(CommandError) as raised:
            run("Team key", *args)
        assert str(raised.value).startswith("Could not list the vector stores of Team key: OpenAI failed (500)")
    assert not StoreRecord.objects.exists()


# --- naming the credential ------------------------------------------------------------------------


def test_the_credential_may_be_named_by_its_id(owned_credential, stores):
    assert run(str(owned_credential.pk), "--list")[-1] == "3 stores of Team key without a record."


def test_a_name_two_credentials_share_is_an_error_listing_their_ids(owned_credential, fake_openai):
    twin = create_credential(fake_openai, name="Team key", api_key=TEST_API_KEY)

    with pytest.raises(CommandError, match="2 credentials are named 'Team key'") as raised:
        run("Team key", "--list")
    assert str(owned_credential.pk) in str(raised.value) and str(twin.pk) in str(raised.value)


def test_an_unknown_credential_is_an_error(db):
    assert not Credential.objects.exists()
    with pytest.raises(CommandError, match="No credential has the id or name 'Nope'"):
        run("Nope", "--list")
