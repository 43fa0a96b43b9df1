"""The audit trail: who used which credential for what, on which store, with which outcome."""

import uuid

import pytest
from django.core.signals import request_finished
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from rest_framework.test import APIRequestFactory, force_authenticate

from tests.conftest import TEST_API_KEY, client_for, text_file, token_of
from vectorstores.api import audit
from vectorstores.api.views import VectorStoreViewSet
from vectorstores.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_each_call_is_recorded_with_who_what_where_and_the_outcome(api, url, user, credential, fake_openai):
    store = fake_openai.create_vector_store(name="audited")
    api.get(url(f"/{store['id']}"))
    api.get(url("/vs_missing"))
    entries = list(AuditEntry.objects.order_by("id"))
    assert [(e.username, e.credential, e.operation, e.method, e.vector_store_id, e.status_code) for e in entries] == [
        ("alice", credential, "retrieve", "GET", store["id"], 200),
        ("alice", credential, "retrieve", "GET", "vs_missing", 404),
    ]
    assert entries[0].credential_name == "Test credential"
    assert entries[0].duration_ms >= 0


def test_the_row_holds_what_the_orm_would_store(api, url, credential, fake_openai):
    """The INSERT is SQL of its own: its row, column by column as the database holds it, is the one the ORM
    writes for the same entry (a key, a UUID, a time and text each in the database's own form)."""
    before = timezone.now()
    api.get(url("/vs_missing"))
    written = AuditEntry.objects.get()
    assert before <= written.created_at <= timezone.now()
    fields = [field for field in AuditEntry._meta.concrete_fields if not field.primary_key]
    copy = AuditEntry.objects.create(**{field.name: getattr(written, field.name) for field in fields})
    AuditEntry.objects.filter(pk=copy.pk).update(created_at=written.created_at)  # create() sets its own

    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {AuditEntry._meta.db_table} ORDER BY id")
        rows = cursor.fetchall()
    assert rows[0] == rows[1]
    assert written.user is not None and written.credential == credential


def test_refused_credentials_are_recorded_too(other_user, url, credential, fake_openai):
    asked_for = uuid.uuid4()
    client_for(other_user).get(url(credential_id=asked_for))
    entry = AuditEntry.objects.get()
    assert (entry.username, entry.credential, entry.credential_ref, entry.status_code) == (
        "mallory",
        None,
        str(asked_for),
        404,
    )


def test_anonymous_calls_are_not_recorded(url, fake_openai):
    assert client_for(None).get(url()).status_code == 401
    assert not AuditEntry.objects.exists()


def test_a_call_refused_before_authentication_is_recorded_for_a_signed_in_caller(api, url, fake_openai):
    """DRF refuses an Accept header before it authenticates: the entry still names the caller."""
    assert api.get(url(), HTTP_ACCEPT="text/html").status_code == 406
    assert (AuditEntry.objects.get().username, AuditEntry.objects.get().status_code) == ("alice", 406)


@pytest.mark.parametrize("authorization", ["Token nonsense", "Basic bm9wZTpub3Bl"], ids=["bad-token", "unknown-scheme"])
def test_a_call_refused_before_authentication_with_a_failing_token_is_a_406_not_recorded(
    authorization, url, fake_openai
):
    response = client_for(None).get(url(), HTTP_ACCEPT="text/html", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 406
    assert response.json()["code"] == "not_acceptable"
    assert not AuditEntry.objects.exists()


def test_the_trail_outlives_the_credential_and_holds_no_key(api, url, credential, fake_openai):
    api.post(url(), {"name": "x"}, format="json")
    credential.delete()
    entry = AuditEntry.objects.get()
    assert entry.credential is None and entry.credential_name == "Test credential"
    assert all(TEST_API_KEY not in str(value) for value in AuditEntry.objects.values().get().values())


def test_recording_costs_one_insert(api, url, fake_openai, django_assert_max_num_queries):
    api.get(url())  # warm up: token, last_used_at
    with django_assert_max_num_queries(3) as captured:  # token + credential + the audit insert
        api.get(url())
    inserts = [query["sql"] for query in captured.captured_queries if query["sql"].startswith("INSERT")]
    assert len(inserts) == 1 and "vectorstores_auditentry" in inserts[0]


def test_admins_read_the_trail_but_cannot_change_it(admin_client, api, url, fake_openai):
    api.get(url())
    entry = AuditEntry.objects.get()
    changelist = admin_client.get("/admin/vectorstores/auditentry/")
    assert changelist.status_code == 200
    assert "alice" in changelist.content.decode()
    assert admin_client.get(f"/admin/vectorstores/auditentry/{entry.pk}/change/").status_code == 200
    assert admin_client.post(f"/admin/vectorstores/auditentry/{entry.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/vectorstores/auditentry/add/").status_code == 403


def test_the_entry_is_written_once_the_response_is_sent(user, credential, fake_openai):
    """The server closes a response after sending it; the INSERT waits for that, so the caller does not."""
    request = APIRequestFactory().get("/", {"credential": str(credential.pk)})
    force_authenticate(request, user=user)
    response = VectorStoreViewSet.as_view({"get": "list"})(request)
    response.render()

    assert response.status_code == 200 and not AuditEntry.objects.exists()
    # As Django's test client does: keep request_finished from closing the test's database connection.
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    assert AuditEntry.objects.get().operation == "list"


@pytest.mark.parametrize("error", [DatabaseError("disk full"), ValueError("a bug")], ids=["database", "other"])
def test_a_failed_write_does_not_fail_the_call_and_is_logged(error, api, url, fake_openai, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(audit, "_insert", broken)
    assert api.get(url()).status_code == 200
    assert "Could not write the audit entry of GET /api/v1/openai-assistants-vector-store" in caplog.text
    assert str(error) in caplog.text


def test_text_a_database_cannot_store_is_recorded_safely(api, credential, fake_openai):
    """PostgreSQL refuses NUL characters in text: the entry is written anyway, and the call answers."""
    response = api.get(f"/api/v1/openai-assistants-vector-store?credential={credential.pk}%00")
    assert response.status_code == 400
    assert AuditEntry.objects.get().credential_ref == f"{credential.pk}\ufffd"


def test_a_call_that_ends_in_an_unhandled_exception_is_recorded_as_a_500(api, url, fake_openai, monkeypatch):
    from vectorstores import gateway

    def crash(*args, **kwargs):
        raise RuntimeError("a bug nobody handled")

    monkeypatch.setattr(gateway, "list_vector_stores", crash)
    api.raise_request_exception = False
    assert api.get(url()).status_code == 500
    entry = AuditEntry.objects.get()
    assert (entry.username, entry.operation, entry.status_code) == ("alice", "list", 500)


@pytest.mark.parametrize("method", ["PROPFIND", "MKCALENDAR", "X-" + "LONG" * 20])
def test_any_http_method_is_recorded(api, url, fake_openai, method):
    response = api.generic(method, url())
    assert response.status_code == 405
    assert AuditEntry.objects.get().method == method[:32]


def test_a_host_whose_anonymous_user_is_none_gets_answers_not_500s(url, fake_openai, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "UNAUTHENTICATED_USER": None}
    response = client_for(None).get(url())
    assert response.status_code in (401, 403)
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("route", ["API", "OpenAI-compatible"])
def test_a_query_string_with_too_many_fields_is_a_json_400_and_audited(api, url, user, credential, fake_openai, route):
    """Django refuses to read it (DATA_UPLOAD_MAX_NUMBER_FIELDS): the answer still is the API's, and recorded."""
    many = "&".join(f"x{n}=1" for n in range(1100))
    if route == "API":
        response = api.get(f"{url()}&{many}")
        assert (response.status_code, response.json()["code"]) == (400, "parse_error")
    else:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_of(user)}")
        response = api.get(f"/api/openai/{credential.pk}/v1/vector_stores?{many}")
        assert (response.status_code, response.json()["error"]["code"]) == (400, "parse_error")
    assert list(AuditEntry.objects.values_list("status_code", flat=True)) == [400]
    assert fake_openai.requests == []


# --- the Files and file batches a call named or made ---------------------------------------------


def object_ids():
    return [entry.object_ids.split() for entry in AuditEntry.objects.order_by("id")]


def test_an_upload_records_the_files_and_the_batch_it_made(upload, fake_openai):
    files = upload(text_file("a.txt"), text_file("b.txt")).json()
    [batch_id] = fake_openai.file_batches
    assert object_ids() == [[files[0]["id"], files[1]["id"], batch_id]]


@pytest.mark.parametrize("cleanup", ["deletes them", "fails"])
def test_a_failed_upload_records_the_files_it_made(upload, fake_openai, cleanup):
    if cleanup == "fails":
        fake_openai.fail("DELETE", "/files/.*", 500, times=99)
    fake_openai.batch_outcome = "failed"
    response = upload(text_file("a.txt"), text_file("b.txt"))
    assert response.status_code == 500
    made = [file["id"] for file in response.json()["files"]]
    assert len(made) == 2 and sorted(object_ids()[0]) == sorted(made)
    assert set(fake_openai.files) == (set(made) if cleanup == "fails" else set())


def test_an_upload_whose_answer_was_lost_records_the_file_it_found_and_deleted(user, credential, fake_openai):
    fake_openai.drop("POST", "/files", after_processing=True)
    response = client_for(user, "Bearer").post(
        f"/api/openai/{credential.pk}/v1/files", {"file": text_file("lost.txt"), "purpose": "assistants"}
    )
    assert response.status_code == 502
    [deleted] = [request.path.rsplit("/", 1)[1] for request in fake_openai.requests_to("DELETE", "/files/")]
    assert object_ids() == [[deleted]]


def test_calls_record_the_files_and_batches_they_name(api, url, store, fake_openai):
    named = [fake_openai.create_file(f"f{n}.txt", b"text")["id"] for n in range(3)]
    attached = api.post(url(f"/{store['id']}/files"), {"file_ids": named[:2]}, format="json").json()
    api.get(url(f"/{store['id']}/files/{named[0]}"))
    api.patch(url(f"/{store['id']}"), {"file_ids": named[:2]}, format="json")
    api.delete(url(f"/{store['id']}/files/file-x%20{named[2]}"))  # refused: no id of it is recorded
    assert object_ids() == [[*named[:2], attached["id"]], [named[0]], named[:2], []]


def test_admins_find_the_calls_about_a_file(admin_client, api, url, store, fake_openai):
    file_id = fake_openai.create_file("f.txt", b"text")["id"]
    api.post(url(f"/{store['id']}/files"), {"file_id": file_id}, format="json")
    api.get(url())
    found = admin_client.get("/admin/vectorstores/auditentry/", {"q": file_id}).context["cl"].result_list
    assert [entry.operation for entry in found] == ["attach_files"]


def test_the_openai_compatible_files_routes_record_the_file(user, credential, fake_openai):
    client = client_for(user, "Bearer")
    files = f"/api/openai/{credential.pk}/v1/files"
    created = client.post(files, {"file": text_file("a.txt"), "purpose": "assistants"}, format="multipart").json()
    client.delete(f"{files}/{created['id']}")
    assert object_ids() == [[created["id"]], [created["id"]]]
