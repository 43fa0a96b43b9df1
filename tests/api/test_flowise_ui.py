"""Flowise's web UI against this API: its requests replayed as it sends them, and the fields it reads checked.

Every request below is copied from Flowise's UI at commit ababf4c8e (FlowiseAI/Flowise, "fix: flowise-615
(#6629)"): the path (under `${baseURL}/api/v1`, no trailing slash), the query, the JSON body as
`JSON.stringify` writes it, and the multipart field names of its FormData. The comment above each request
names the file it comes from:

- packages/ui/src/api/client.js: axios with baseURL `${baseURL}/api/v1` and the headers
  `'Content-type': 'application/json'` and `'x-request-from': 'internal'` on every request;
- packages/ui/src/api/assistants.js: the paths, `?credential=${credentialId}`;
- packages/ui/src/views/assistants/openai/AssistantVectorStoreDialog.jsx: list, get, create, update, delete
  of a vector store, and what it reads of the answers;
- packages/ui/src/views/assistants/openai/AssistantDialog.jsx with packages/ui/src/ui-component/file/File.jsx:
  the upload (FormData, one `files` part per file) and the removal of a file (PATCH `{file_ids: [fileId]}`);
  its error messages are `error.response.data.message` when the answer is JSON.

The UI signs in to Flowise with a cookie; here the calls carry a DRF token instead (as a deployment in
front of this API would), which changes nothing of what the UI sends or reads.
"""

import json

import pytest

from tests.api.multipart_bodies import body as multipart_body
from tests.api.multipart_bodies import file_part

pytestmark = pytest.mark.django_db

# packages/ui/src/api/client.js (ababf4c8e): the headers axios sends with every request.
UI_HEADERS = {"HTTP_X_REQUEST_FROM": "internal"}
# What Chrome's FormData writes as the boundary of a multipart body.
BOUNDARY = "----WebKitFormBoundaryfG3tqY8IqkPZkvFw"


def stringify(value):
    """The body as JavaScript's JSON.stringify writes it: no spaces."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.fixture
def ui(api, credential):
    """ui(method, path, body=None): a request as Flowise's UI sends it (client.js), `path` relative to
    /api/v1, the credential appended as assistants.js does: `?credential=${credentialId}`."""

    def send(method, path, body=None):
        full = f"/api/v1{path}?credential={credential.pk}"
        if body is None:
            return api.generic(method, full, **UI_HEADERS)
        return api.generic(method, full, stringify(body), content_type="application/json", **UI_HEADERS)

    return send


def ui_message(response):
    """What the UI's snackbars show of a failed call:
    `typeof error.response.data === 'object' ? error.response.data.message : error.response.data`."""
    data = response.json()
    return data["message"] if isinstance(data, dict) else data


# --- AssistantVectorStoreDialog.jsx ------------------------------------------------------------------


def test_list_gives_what_the_store_picker_reads(ui, fake_openai):
    named = fake_openai.create_vector_store(name="Product docs")
    fake_openai.attach_file(named["id"], fake_openai.create_file("a.txt", b"12345")["id"])
    unnamed = fake_openai.create_vector_store()
    # assistants.js: listAssistantVectorStore = (credentialId) =>
    #     client.get(`/openai-assistants-vector-store?credential=${credentialId}`)
    response = ui("GET", "/openai-assistants-vector-store")
    assert response.status_code == 200
    stores = response.json()
    # AssistantVectorStoreDialog.jsx: for (let i = 0; i < listAssistantVectorStoreApi.data.length; ...)
    #     label: data[i]?.name ?? data[i].id, name: data[i].id,
    #     description: `${data[i]?.file_counts?.total} files (${formatBytes(data[i]?.usage_bytes)})`
    assert isinstance(stores, list)
    by_id = {store["id"]: store for store in stores}
    assert set(by_id) == {named["id"], unnamed["id"]}
    assert (
        by_id[named["id"]]["name"],
        by_id[named["id"]]["file_counts"]["total"],
        by_id[named["id"]]["usage_bytes"],
    ) == ("Product docs", 1, 5)
    assert (by_id[unnamed["id"]]["file_counts"]["total"], by_id[unnamed["id"]]["usage_bytes"]) == (0, 0)
    assert "name" in by_id[unnamed["id"]]


def test_get_gives_what_the_edit_dialog_reads(ui, fake_openai):
    store = fake_openai.create_vector_store(name="Docs", expires_after={"anchor": "last_active_at", "days": 30})
    # assistants.js: getAssistantVectorStore = (id, credentialId) =>
    #     client.get(`/openai-assistants-vector-store/${id}?credential=${credentialId}`)
    response = ui("GET", f"/openai-assistants-vector-store/{store['id']}")
    assert response.status_code == 200
    # AssistantVectorStoreDialog.jsx: data.name, data.id, data.expires_after && data.expires_after.days
    data = response.json()
    assert (data["name"], data["id"], data["expires_after"]["days"]) == ("Docs", store["id"], 30)


@pytest.mark.parametrize(
    ("body", "sent"),
    [
        ({"name": "Support articles", "expires_after": None}, {"name": "Support articles"}),
        (
            {"name": None, "expires_after": {"anchor": "last_active_at", "days": 7}},
            {"expires_after": {"anchor": "last_active_at", "days": 7}},
        ),
        ({"name": None, "expires_after": None}, {}),
    ],
    ids=["named-no-expiry", "unnamed-expiring", "nothing"],
)
def test_create_takes_the_dialogs_nulls_as_not_given(ui, fake_openai, body, sent):
    # AssistantVectorStoreDialog.jsx, addNewVectorStore:
    #     const obj = { name: name !== '' ? name : null,
    #                   expires_after: isExpirationOn
    #                       ? { anchor: 'last_active_at', days: parseFloat(expirationDays) } : null }
    # assistants.js: createAssistantVectorStore = (credentialId, body) =>
    #     client.post(`/openai-assistants-vector-store?credential=${credentialId}`, body)
    response = ui("POST", "/openai-assistants-vector-store", body)
    assert response.status_code == 200, response.content
    # onConfirm(createResp.data): AssistantDialog.jsx keeps it as vector_store_object, shows
    # vector_store_object?.name ? ...name : ...id, and sets vector_store_ids: [vectorStoreObj.id]
    created = response.json()
    assert created["id"] in fake_openai.vector_stores and "name" in created
    assert created["name"] == (body["name"] or "")
    assert fake_openai.requests_to("POST", "/vector_stores")[0].json == sent


def test_update_with_expiry_off_removes_it(ui, fake_openai):
    store = fake_openai.create_vector_store(name="Docs", expires_after={"anchor": "last_active_at", "days": 30})
    # AssistantVectorStoreDialog.jsx, saveVectorStore: the same saveObj as on create
    # assistants.js: updateAssistantVectorStore = (id, credentialId, body) =>
    #     client.put(`/openai-assistants-vector-store/${id}?credential=${credentialId}`, body)
    response = ui("PUT", f"/openai-assistants-vector-store/{store['id']}", {"name": "Renamed", "expires_after": None})
    assert response.status_code == 200
    # saveResp.data: 'files' in saveResp.data
    #     ? onConfirm(omit(saveResp.data, ['files']), files) : onConfirm(saveResp.data)
    updated = response.json()
    assert (updated["id"], updated["name"], updated["expires_after"]) == (store["id"], "Renamed", None)
    assert "files" not in updated
    assert fake_openai.vector_stores[store["id"]]["expires_after"] is None
    assert fake_openai.requests[-1].json == {"name": "Renamed", "expires_after": None}


def test_update_with_the_name_cleared_keeps_it(ui, fake_openai):
    store = fake_openai.create_vector_store(name="Docs")
    # saveObj.name is null when the name field is empty
    response = ui(
        "PUT",
        f"/openai-assistants-vector-store/{store['id']}",
        {"name": None, "expires_after": {"anchor": "last_active_at", "days": 7}},
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["expires_after"]["days"]) == ("Docs", 7)


def test_delete(ui, fake_openai):
    store = fake_openai.create_vector_store(name="Docs")
    # assistants.js: deleteAssistantVectorStore = (id, credentialId) =>
    #     client.delete(`/openai-assistants-vector-store/${id}?credential=${credentialId}`)
    response = ui("DELETE", f"/openai-assistants-vector-store/{store['id']}")
    assert response.status_code == 200
    # AssistantVectorStoreDialog.jsx, deleteVectorStore: if (deleteResp.data) { ... onDelete(selectedVectorStore) }
    assert response.json() == {"id": store["id"], "object": "vector_store.deleted", "deleted": True}
    assert store["id"] not in fake_openai.vector_stores


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ({"name": "Docs", "expires_after": {"anchor": "last_active_at", "days": 7.5}}, "expires_after.days:"),
        ({"name": "Docs", "expires_after": {"anchor": "last_active_at", "days": 0}}, "expires_after.days:"),
    ],
    ids=["fractional-days", "zero-days"],
)
def test_a_refused_create_shows_the_apis_message(ui, fake_openai, body, shown):
    # parseFloat(expirationDays): the expiry field can send 7.5 or 0
    response = ui("POST", "/openai-assistants-vector-store", body)
    assert response.status_code == 400
    # enqueueSnackbar({ message: `Failed to add new Vector Store: ${error.response.data.message}` })
    assert ui_message(response).startswith(shown)
    assert fake_openai.requests == []


def test_a_missing_store_shows_openais_message(ui, fake_openai):
    response = ui("DELETE", "/openai-assistants-vector-store/vs_gone")
    assert response.status_code == 404
    # `Failed to delete Vector Store: ${error.response.data.message}`
    assert ui_message(response) == "No vector store found with id 'vs_gone'."


# --- AssistantDialog.jsx + File.jsx: files --------------------------------------------------------------


@pytest.fixture
def ui_upload(api, credential, upload_dir):
    """ui_upload(store_id, *(name, content, type)): the upload as the UI sends it.

    File.jsx, handleFormDataUpload: const formData = new FormData();
        for (...) formData.append('files', e.target.files[i])
    assistants.js: uploadFilesToAssistantVectorStore = (id, credentialId, formData) =>
        client.post(`/openai-assistants-vector-store/${id}?credential=${credentialId}`, formData,
                    { headers: { 'Content-Type': 'multipart/form-data' } })
    (the browser adds the boundary to that Content-Type)."""

    def send(store_id, *files):
        parts = [
            file_part(name.encode(), content, content_type.encode(), boundary=BOUNDARY)
            for name, content, content_type in files
        ]
        return api.generic(
            "POST",
            f"/api/v1/openai-assistants-vector-store/{store_id}?credential={credential.pk}",
            multipart_body(*parts, boundary=BOUNDARY),
            content_type=f"multipart/form-data; boundary={BOUNDARY}",
            **UI_HEADERS,
        )

    return send


def test_upload_gives_the_files_the_ui_lists(ui_upload, store, fake_openai):
    response = ui_upload(
        store["id"], ("manual.pdf", b"%PDF-1.7\nmanual", "application/pdf"), ("notes.md", b"# Notes", "text/markdown")
    )
    assert response.status_code == 200, response.content
    # AssistantDialog.jsx, uploadFormDataToVectorStore: const uploadedFiles = uploadResp.data;
    #     files: [...existingFiles, ...uploadedFiles]; each shown as {file.filename}, removed by file.id
    uploaded = response.json()
    assert [file["filename"] for file in uploaded] == ["manual.pdf", "notes.md"]
    assert all(file["id"] in fake_openai.files for file in uploaded)
    assert {fake_openai.vector_store_files[(store["id"], file["id"])]["status"] for file in uploaded} == {"completed"}


def test_a_refused_upload_shows_the_apis_message(ui_upload, store, fake_openai):
    # File.jsx takes any file (fileType='*'): a picture is refused before anything reaches OpenAI
    response = ui_upload(store["id"], ("photo.png", b"\x89PNG\r\n\x1a\n", "image/png"))
    assert response.status_code == 400
    # `Failed to upload file: ${error.response.data.message}`
    assert "photo.png" in ui_message(response)
    assert fake_openai.requests_to("POST", "/files") == []


def test_removing_a_file_sends_its_id_in_file_ids(ui, store, fake_openai):
    kept, removed = (fake_openai.create_file(name)["id"] for name in ("kept.txt", "removed.txt"))
    for file_id in (kept, removed):
        fake_openai.attach_file(store["id"], file_id)
    # AssistantDialog.jsx, onFileDeleteClick(fileId, 'file_search'):
    #     await assistantsApi.deleteFilesFromAssistantVectorStore(vectorStoreId, assistantCredential,
    #                                                             { file_ids: [fileId] })
    # assistants.js: deleteFilesFromAssistantVectorStore = (id, credentialId, body) =>
    #     client.patch(`/openai-assistants-vector-store/${id}?credential=${credentialId}`, body)
    response = ui("PATCH", f"/openai-assistants-vector-store/{store['id']}", {"file_ids": [removed]})
    assert response.status_code == 200
    assert response.json() == [{"id": removed, "object": "vector_store.file.deleted", "deleted": True}]
    assert (store["id"], kept) in fake_openai.vector_store_files
    assert (store["id"], removed) not in fake_openai.vector_store_files
    assert removed in fake_openai.files  # the UI removes the file from the store only
