"""Errors no view answers (a fault of this server's): JSON under the API's routes, Django's pages elsewhere."""

import pytest

from tests.conftest import client_for
from vectorstores import ownership

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken_access_check(monkeypatch):
    """A fault of this server's in every API call (here, in the access check)."""

    def fail(*args, **kwargs):
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(ownership, "usable_credential", fail)


@pytest.fixture
def caller(user):
    client = client_for(user)
    client.raise_request_exception = False  # answer as the server would: through handler500
    return client


@pytest.mark.usefixtures("broken_access_check")
def test_a_fault_of_ours_in_the_api_is_its_json_500(caller, url, caplog):
    response = caller.get(url())
    assert (response.status_code, response["Content-Type"]) == (500, "application/json")
    assert response.json() == {
        "detail": "The server failed to answer this call.",
        "message": "The server failed to answer this call.",
        "code": "server_error",
    }
    assert any(record.exc_info and "a bug of ours" in str(record.exc_info[1]) for record in caplog.records)


@pytest.mark.usefixtures("broken_access_check")
def test_a_fault_of_ours_on_the_openai_compatible_routes_is_in_openais_envelope(user, credential):
    caller = client_for(user, "Bearer")
    caller.raise_request_exception = False
    response = caller.get(f"/api/openai/{credential.pk}/v1/vector_stores")
    assert response.status_code == 500
    assert response.json()["error"] == {
        "message": "The server failed to answer this call.",
        "type": "server_error",
        "param": None,
        "code": "server_error",
    }


def test_elsewhere_a_fault_is_djangos_own_page(client, monkeypatch):
    monkeypatch.setattr("config.views.connection", None)  # the health check's database: a fault of ours
    client.raise_request_exception = False
    response = client.get("/api/v1/health")
    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("path", "read_code"),
    [
        ("/api/v1/openai-assistants-vector-store", lambda body: body["code"]),
        ("/api/openai/00000000-0000-0000-0000-000000000000/v1/vector_stores", lambda body: body["error"]["code"]),
    ],
)
def test_a_host_the_site_does_not_serve_is_a_json_400_under_the_apis_routes(client, path, read_code):
    response = client.get(path, HTTP_HOST="evil.example")
    assert (response.status_code, response["Content-Type"]) == (400, "application/json")
    assert read_code(response.json()) == "bad_request"
    assert client.get("/admin/", HTTP_HOST="evil.example")["Content-Type"].startswith("text/html")


UNKNOWN_API_PATHS = [
    "/api",
    "/api/",
    "/api/v1/",
    "/api/v1/xyz",
    "/api/v2/",
    "/api/v1/health/x",
    "/api/openai",
    "/api/schemas",
]


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("path", UNKNOWN_API_PATHS)
def test_the_standalone_site_answers_unknown_api_paths_with_the_apis_json_404(path, method):
    client = client_for(None)
    client.handler.enforce_csrf_checks = True  # a POST is answered 404, not with Django's CSRF page
    response = getattr(client, method)(path)
    assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("path", ["/api/schema", "/api/docs", "/api/redoc"])
def test_the_docs_pages_answer_without_their_trailing_slash(client, path):
    assert client.get(path).status_code == 200


def test_the_health_check_answers_other_methods_with_a_json_405(client):
    client.handler.enforce_csrf_checks = True
    response = client.post("/api/v1/health")
    assert (response.status_code, response["Allow"]) == (405, "GET, HEAD")
    assert response.json()["code"] == "method_not_allowed"
