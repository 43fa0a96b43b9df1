"""The OpenAPI document: served, valid, committed up to date, and documenting each operation as it behaves;
and the Swagger UI and ReDoc pages, served from this site without any CDN."""
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.views import serve
from django.core.management import call_command
from django.test import RequestFactory

COMMITTED_SCHEMA = Path(settings.BASE_DIR) / "docs" / "openapi.yaml"
API = "/api/v1/openai-assistants-vector-store"
OPERATIONS = {
    ("get", API): "list_vector_stores",
    ("post", API): "create_vector_store",
    ("get", API + "/{store_id}"): "get_vector_store",
    ("put", API + "/{store_id}"): "update_vector_store",
    ("delete", API + "/{store_id}"): "delete_vector_store",
    ("post", API + "/{store_id}"): "upload_files_to_vector_store",
    ("patch", API + "/{store_id}"): "remove_files_from_vector_store",
    ("get", API + "/{store_id}/files"): "list_vector_store_files",
    ("post", API + "/{store_id}/search"): "search_vector_store",
}
ERROR = {"$ref": "#/components/schemas/Error"}


@pytest.fixture(scope="module")
def document(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def operation(document, method, path):
    return document["paths"][path][method]


def json_schema(response):
    return response["content"]["application/json"]["schema"]


def component(document, ref):
    return document["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


# --- the document --------------------------------------------------------------


def test_the_schema_endpoint_serves_an_openapi_3_document(document):
    assert document["openapi"].startswith("3.")
    found = {(method, path): op["operationId"] for path, item in document["paths"].items() for method, op in item.items()}
    assert found == OPERATIONS
    assert all(op["tags"] == ["Vector stores"] for item in document["paths"].values() for op in item.values())


@pytest.mark.django_db
def test_the_committed_schema_is_up_to_date(tmp_path):
    """docs/openapi.yaml is what `make schema` generates (the same command, which also validates)."""
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(generated))
    assert COMMITTED_SCHEMA.exists(), "docs/openapi.yaml is missing: run `make schema`"
    assert generated.read_text() == COMMITTED_SCHEMA.read_text(), (
        "docs/openapi.yaml is out of date with the code: run `make schema` and commit the result"
    )


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_operation_names_its_credential_and_documents_its_errors(document, method, path):
    op = operation(document, method, path)
    credential = next(p for p in op["parameters"] if p["name"] == "credential")
    assert credential == {**credential, "in": "query", "required": True, "schema": {"type": "string", "format": "uuid"}}
    if "{store_id}" in path:
        store_id = next(p for p in op["parameters"] if p["name"] == "store_id")
        assert store_id["schema"]["pattern"] == "^[A-Za-z0-9_-]{1,128}$"
    responses = op["responses"]
    for status in ("400", "401", "403", "404", "406", "409", "429", "4XX", "502", "504"):
        assert json_schema(responses[status]) == ERROR, status
    assert responses["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert "200" in responses and "content" in responses["200"]
    if "requestBody" in op:
        assert json_schema(responses["415"]) == ERROR


def test_lists_document_paging_and_the_link_header(document):
    for path in (API, API + "/{store_id}/files"):
        op = operation(document, "get", path)
        parameters = {p["name"]: p for p in op["parameters"]}
        assert parameters["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}
        assert parameters["order"]["schema"]["enum"] == ["asc", "desc"]
        assert {"after", "before"} <= set(parameters)
        # DRF reads an optional query parameter given empty (`?limit=`) as not given.
        assert all(p.get("allowEmptyValue") for name, p in parameters.items() if p["in"] == "query" and name != "credential")
        assert "Link" in op["responses"]["200"]["headers"]
        assert json_schema(op["responses"]["200"])["type"] == "array"
    assert "filter" in {p["name"] for p in operation(document, "get", API + "/{store_id}/files")["parameters"]}


def test_request_bodies_document_their_limits(document):
    create = component(document, operation(document, "post", API)["requestBody"]["content"]["application/json"]["schema"])
    assert create["additionalProperties"] is False
    metadata = create["properties"]["metadata"]
    assert metadata["maxProperties"] == 16
    assert metadata["additionalProperties"] == {"type": "string", "maxLength": 512}
    assert "64" in metadata["description"]
    assert create["properties"]["file_ids"]["maxItems"] == 500
    expires_after = component(document, create["properties"]["expires_after"])
    assert expires_after["properties"]["days"] == {**expires_after["properties"]["days"], "minimum": 1, "maximum": 365}
    static = document["components"]["schemas"]["StaticChunking"]["properties"]
    assert (static["max_chunk_size_tokens"]["minimum"], static["max_chunk_size_tokens"]["maximum"]) == (100, 4096)
    assert (static["chunk_overlap_tokens"]["minimum"], static["chunk_overlap_tokens"]["maximum"]) == (0, 2048)

    update = component(document, operation(document, "put", API + "/{store_id}")["requestBody"]["content"]["application/json"]["schema"])
    assert update["properties"]["expires_after"]["nullable"] is True

    remove = operation(document, "patch", API + "/{store_id}")["requestBody"]
    remove_files = component(document, remove["content"]["application/json"]["schema"])
    assert remove["required"] is True
    assert remove_files["required"] == ["file_ids"]
    assert (remove_files["properties"]["file_ids"]["minItems"], remove_files["properties"]["file_ids"]["maxItems"]) == (1, 500)

    search = component(document, operation(document, "post", API + "/{store_id}/search")["requestBody"]["content"]["application/json"]["schema"])
    assert search["required"] == ["query"]
    assert search["properties"]["max_num_results"] == {"type": "integer", "minimum": 1, "maximum": 50}


def test_the_upload_is_a_multipart_array_of_binary_files(document):
    op = operation(document, "post", API + "/{store_id}")
    body = op["requestBody"]["content"]
    assert list(body) == ["multipart/form-data"]
    schema = component(document, body["multipart/form-data"]["schema"])
    assert schema["required"] == ["files"]
    assert schema["properties"]["files"]["items"] == {"type": "string", "format": "binary"}
    assert body["multipart/form-data"]["encoding"]["chunking_strategy"]["contentType"] == "application/json"
    for status in ("413", "500"):
        assert json_schema(op["responses"][status]) == ERROR
    assert json_schema(op["responses"]["200"])["items"] == {"$ref": "#/components/schemas/OpenAIFile"}


def test_responses_mirror_openai_objects(document):
    def response_ref(method, path):
        schema = json_schema(operation(document, method, path)["responses"]["200"])
        return schema.get("items", schema)["$ref"].rsplit("/", 1)[1]

    assert response_ref("get", API) == "VectorStore"
    assert response_ref("delete", API + "/{store_id}") == "VectorStoreDeletion"
    assert response_ref("patch", API + "/{store_id}") == "VectorStoreFileRemoval"
    assert response_ref("get", API + "/{store_id}/files") == "VectorStoreFile"
    assert response_ref("post", API + "/{store_id}/search") == "SearchResultsPage"
    schemas = document["components"]["schemas"]
    assert schemas["VectorStore"]["properties"]["object"]["enum"] == ["vector_store"]
    assert schemas["VectorStoreDeletion"]["properties"]["object"]["enum"] == ["vector_store.deleted"]
    assert schemas["Error"]["required"] == ["code", "detail"]
    assert {"errors", "openai_request_id", "files"} <= set(schemas["Error"]["properties"])


# --- Swagger UI and ReDoc, offline --------------------------------------------------


class _References(HTMLParser):
    """Every URL an HTML page makes the browser load or link to."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [attrs[name] for name in ("src", "href", "spec-url") if attrs.get(name)]


def _static_path(url):
    """The static file a same-site URL names, or None when it is not under STATIC_URL."""
    prefix = urljoin("/", settings.STATIC_URL)
    path = urlsplit(url).path
    return path[len(prefix):] if path.startswith(prefix) else None


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_load_nothing_from_another_host(client, page):
    response = client.get(page)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    parser = _References()
    parser.feed(html)
    host = response.wsgi_request.get_host()

    # Nothing on the page points at another host: no CDN, no web fonts, no validator badge.
    absolute = re.findall(r"""(?:https?:)?//[^\s"'<>)]+""", html)
    assert [url for url in absolute if urlsplit(url).netloc != host] == []
    assert parser.urls, "the page references no script or stylesheet"
    for url in parser.urls:
        assert urlsplit(url).netloc in ("", host), url

    # Each referenced script, stylesheet and icon is a static file this site has, and serves.
    static = [path for path in map(_static_path, parser.urls) if path]
    assert any(path.endswith(".js") for path in static)
    for path in static:
        assert finders.find(path), f"{path} is not among the static files"
        served = serve(RequestFactory().get(urljoin("/", settings.STATIC_URL) + path), path, insecure=True)
        assert served.status_code == 200, path
        if path.endswith(".css"):
            content = b"".join(served.streaming_content).decode()
            external = [u for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", content) if not u.startswith("data:")]
            assert [u for u in external if urlsplit(u).netloc] == [], path

    # The page loads this site's own OpenAPI document.
    assert "/api/schema/" in html
