"""The OpenAPI document: served, valid, committed up to date, and documenting each operation as it behaves;
the Swagger UI and ReDoc pages, served from this site without any CDN; and the same three pages in a
host site that includes them in one line, whatever its own drf-spectacular settings."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.views import serve
from django.core.management import call_command
from django.test import RequestFactory
from drf_spectacular.settings import spectacular_settings

from tests.hosts import modules_imported_by

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
    ("post", API + "/{store_id}/files"): "attach_files_to_vector_store",
    ("get", API + "/{store_id}/files/{file_id}"): "get_vector_store_file",
    ("post", API + "/{store_id}/files/{file_id}"): "update_vector_store_file",
    ("delete", API + "/{store_id}/files/{file_id}"): "detach_vector_store_file",
    ("get", API + "/{store_id}/files/{file_id}/content"): "get_vector_store_file_content",
    ("post", API + "/{store_id}/file_batches"): "create_vector_store_file_batch",
    ("get", API + "/{store_id}/file_batches/{batch_id}"): "get_vector_store_file_batch",
    ("post", API + "/{store_id}/file_batches/{batch_id}/cancel"): "cancel_vector_store_file_batch",
    ("get", API + "/{store_id}/file_batches/{batch_id}/files"): "list_vector_store_file_batch_files",
    ("post", API + "/{store_id}/search"): "search_vector_store",
}
PATHS = {path for _, path in OPERATIONS}
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
    api_paths = {path: item for path, item in document["paths"].items() if path.startswith(API)}
    found = {(method, path): op["operationId"] for path, item in api_paths.items() for method, op in item.items()}
    assert found == OPERATIONS
    assert all(op["tags"] == ["Vector stores"] for item in api_paths.values() for op in item.values())
    # The rest are the OpenAI-compatible routes (tests/openai_sdk/test_wire_rules.py).
    assert all(path.startswith("/api/openai/") for path in set(document["paths"]) - set(api_paths))


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
    for name in ("store_id", "file_id", "batch_id"):
        if f"{{{name}}}" in path:
            path_id = next(p for p in op["parameters"] if p["name"] == name)
            assert (path_id["in"], path_id["required"]) == ("path", True)
            assert path_id["schema"]["pattern"] == "^[A-Za-z0-9_-]{1,128}$"
    responses = op["responses"]
    for status in ("400", "401", "403", "404", "406", "409", "429", "4XX", "502", "504"):
        assert json_schema(responses[status]) == ERROR, status
    assert responses["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert "200" in responses and "content" in responses["200"]
    if "requestBody" in op:
        assert json_schema(responses["415"]) == ERROR


def test_lists_document_paging_and_the_link_header(document):
    for path in (API, API + "/{store_id}/files", API + "/{store_id}/file_batches/{batch_id}/files"):
        op = operation(document, "get", path)
        parameters = {p["name"]: p for p in op["parameters"]}
        assert parameters["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}
        assert parameters["order"]["schema"]["enum"] == ["asc", "desc"]
        assert {"after", "before"} <= set(parameters)
        # DRF reads an optional query parameter given empty (`?limit=`) as not given.
        assert all(
            p.get("allowEmptyValue") for name, p in parameters.items() if p["in"] == "query" and name != "credential"
        )
        assert "Link" in op["responses"]["200"]["headers"]
        assert json_schema(op["responses"]["200"])["type"] == "array"
    for path in (API + "/{store_id}/files", API + "/{store_id}/file_batches/{batch_id}/files"):
        status_filter = next(p for p in operation(document, "get", path)["parameters"] if p["name"] == "filter")
        assert status_filter["schema"]["enum"] == ["in_progress", "completed", "failed", "cancelled"]


def test_the_content_documents_its_page_token_and_link(document):
    op = operation(document, "get", API + "/{store_id}/files/{file_id}/content")
    page = next(p for p in op["parameters"] if p["name"] == "page")
    assert page["schema"]["maxLength"] == 1024 and page["schema"]["minLength"] == 1
    assert "page=" in op["responses"]["200"]["headers"]["Link"]["description"]
    assert json_schema(op["responses"]["200"]) == {"$ref": "#/components/schemas/FileContentPage"}
    content = document["components"]["schemas"]["FileContentPage"]
    assert content["properties"]["object"]["enum"] == ["vector_store.file_content.page"]
    assert content["required"] == ["data", "has_more", "next_page", "object"]


@pytest.mark.parametrize(("method", "path"), [("post", API + "/{store_id}"), ("post", API + "/{store_id}/files")])
def test_wait_false_documents_the_202_and_its_location(document, method, path):
    op = operation(document, method, path)
    wait = next(p for p in op["parameters"] if p["name"] == "wait")
    assert wait["schema"] == {"type": "boolean", "default": True}
    accepted = op["responses"]["202"]
    assert accepted["headers"]["Location"]["schema"] == {"type": "string", "format": "uri"}
    assert json_schema(accepted) == {"$ref": "#/components/schemas/FileBatchObject"}
    for status in ("500", "504"):
        assert json_schema(op["responses"][status]) == ERROR
    assert "batch_timeout" in op["responses"]["504"]["description"]


def test_request_bodies_document_their_limits(document):
    create = component(
        document, operation(document, "post", API)["requestBody"]["content"]["application/json"]["schema"]
    )
    assert create["additionalProperties"] is False
    metadata = create["properties"]["metadata"]
    assert metadata["maxProperties"] == 16
    assert metadata["additionalProperties"] == {"type": "string", "maxLength": 512}
    assert "64" in metadata["description"]
    assert create["properties"]["file_ids"]["maxItems"] == 500
    # On create, null means "not given": every field is nullable.
    assert all(schema.get("nullable") for schema in create["properties"].values())
    expires_after = component(document, create["properties"]["expires_after"]["allOf"][0])
    assert expires_after["properties"]["days"] == {**expires_after["properties"]["days"], "minimum": 1, "maximum": 365}
    static = document["components"]["schemas"]["StaticChunking"]["properties"]
    assert (static["max_chunk_size_tokens"]["minimum"], static["max_chunk_size_tokens"]["maximum"]) == (100, 4096)
    assert (static["chunk_overlap_tokens"]["minimum"], static["chunk_overlap_tokens"]["maximum"]) == (0, 2048)

    update = component(
        document,
        operation(document, "put", API + "/{store_id}")["requestBody"]["content"]["application/json"]["schema"],
    )
    assert update["properties"]["expires_after"]["nullable"] is True

    remove = operation(document, "patch", API + "/{store_id}")["requestBody"]
    remove_files = component(document, remove["content"]["application/json"]["schema"])
    assert remove["required"] is True
    assert remove_files["required"] == ["file_ids"]
    assert (remove_files["properties"]["file_ids"]["minItems"], remove_files["properties"]["file_ids"]["maxItems"]) == (
        1,
        500,
    )

    for path in (API + "/{store_id}/files", API + "/{store_id}/file_batches"):
        batch = component(
            document, operation(document, "post", path)["requestBody"]["content"]["application/json"]["schema"]
        )
        assert batch["additionalProperties"] is False
        assert (batch["properties"]["file_ids"]["minItems"], batch["properties"]["file_ids"]["maxItems"]) == (1, 2000)
        assert batch["properties"]["file_ids"]["uniqueItems"] is True
        assert (batch["properties"]["files"]["minItems"], batch["properties"]["files"]["maxItems"]) == (1, 2000)
        assert component(document, batch["properties"]["files"]["items"])["required"] == ["file_id"]
        assert_attribute_limits(batch["properties"]["attributes"])
    attach = component(
        document,
        operation(document, "post", API + "/{store_id}/files")["requestBody"]["content"]["application/json"]["schema"],
    )
    assert attach["properties"]["file_id"]["pattern"] == "^[A-Za-z0-9_-]{1,128}$"
    update_file = component(
        document,
        operation(document, "post", API + "/{store_id}/files/{file_id}")["requestBody"]["content"]["application/json"][
            "schema"
        ],
    )
    assert update_file["required"] == ["attributes"]
    assert_attribute_limits(update_file["properties"]["attributes"])

    search = component(
        document,
        operation(document, "post", API + "/{store_id}/search")["requestBody"]["content"]["application/json"]["schema"],
    )
    assert search["required"] == ["query"]
    assert search["properties"]["max_num_results"] == {"type": "integer", "minimum": 1, "maximum": 50}


def assert_attribute_limits(attributes):
    assert attributes["type"] == "object" and attributes["nullable"] is True
    assert attributes["maxProperties"] == 16
    assert attributes["additionalProperties"] == {
        "oneOf": [{"type": "string", "maxLength": 512}, {"type": "number"}, {"type": "boolean"}]
    }
    assert "64" in attributes["description"]


def test_the_upload_is_a_multipart_array_of_binary_files(document):
    op = operation(document, "post", API + "/{store_id}")
    body = op["requestBody"]["content"]
    assert list(body) == ["multipart/form-data"]
    schema = component(document, body["multipart/form-data"]["schema"])
    assert schema["required"] == ["files"]
    assert schema["properties"]["files"]["items"] == {"type": "string", "format": "binary"}
    for part in ("chunking_strategy", "attributes"):
        assert body["multipart/form-data"]["encoding"][part]["contentType"] == "application/json"
    assert set(schema["properties"]) == {"files", "chunking_strategy", "attributes"}
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
    assert response_ref("get", API + "/{store_id}/files/{file_id}") == "VectorStoreFile"
    assert response_ref("post", API + "/{store_id}/files/{file_id}") == "VectorStoreFile"
    assert response_ref("delete", API + "/{store_id}/files/{file_id}") == "FileDetachment"
    assert response_ref("get", API + "/{store_id}/files/{file_id}/content") == "FileContentPage"
    assert response_ref("get", API + "/{store_id}/file_batches/{batch_id}/files") == "VectorStoreFile"
    for method, path in [
        ("post", "/{store_id}/file_batches"),
        ("get", "/{store_id}/file_batches/{batch_id}"),
        ("post", "/{store_id}/file_batches/{batch_id}/cancel"),
    ]:
        assert response_ref(method, API + path) == "FileBatchObject"
    # Attaching one file answers its vector store file; a batch, the batch.
    attached = json_schema(operation(document, "post", API + "/{store_id}/files")["responses"]["200"])
    assert component(document, attached) == {
        "oneOf": [{"$ref": "#/components/schemas/VectorStoreFile"}, {"$ref": "#/components/schemas/FileBatchObject"}]
    }
    schemas = document["components"]["schemas"]
    assert schemas["VectorStore"]["properties"]["object"]["enum"] == ["vector_store"]
    assert schemas["VectorStoreDeletion"]["properties"]["object"]["enum"] == ["vector_store.deleted"]
    assert schemas["FileBatchObject"]["properties"]["object"]["enum"] == [
        "vector_store.files_batch",
        "vector_store.file_batch",
    ]
    assert schemas["FileDetachment"]["properties"]["object"]["enum"] == ["vector_store.file.deleted"]
    assert schemas["Error"]["required"] == ["code", "detail", "message"]
    assert {"errors", "openai_request_id", "files"} <= set(schemas["Error"]["properties"])
    assert {"$ref": "#/components/schemas/AttachFileReport"} in schemas["Error"]["properties"]["files"]["items"][
        "anyOf"
    ]


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
    return path[len(prefix) :] if path.startswith(prefix) else None


def assert_loads_nothing_from_another_host(response, schema_url):
    """The page loads only this site's static files, and the OpenAPI document at `schema_url`."""
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

    # The page loads the API's own OpenAPI document.
    assert f'url: "{schema_url}"' in html or f'spec-url="{schema_url}"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_load_nothing_from_another_host(client, page):
    assert_loads_nothing_from_another_host(client.get(page), "/api/schema/")


# --- in a host site: path("ai/", include("vectorstores.api.schema.urls")) ----------------------


@pytest.mark.subprocess
def test_the_schema_settings_import_nothing():
    """A settings module imports them before Django is configured; drf-spectacular, if imported then,
    would keep the SPECTACULAR_SETTINGS it found (none yet) for good."""
    loaded = modules_imported_by("vectorstores.api.schema.settings")
    assert "vectorstores.api.schema.settings" in loaded
    frameworks = ("django", "rest_framework", "drf_spectacular")
    assert sorted(name for name in loaded if name.partition(".")[0] in frameworks) == []


def _use_spectacular_settings(user_settings):
    spectacular_settings.reload()  # forgets the values read so far ...
    spectacular_settings._user_settings = user_settings  # ... and reload() alone would read REST_FRAMEWORK


@pytest.fixture
def host_settings(settings):
    """Gives the host the SPECTACULAR_SETTINGS passed (by default none: drf-spectacular's defaults, i.e.
    its title, no hooks, Swagger UI and ReDoc from a CDN), and none of this site's templates (so
    drf-spectacular's own ReDoc page, with Google's web fonts)."""
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": []}]
    original = spectacular_settings.user_settings

    def use(user_settings):
        settings.SPECTACULAR_SETTINGS = user_settings
        # drf-spectacular reads SPECTACULAR_SETTINGS once, when imported: make it read them again.
        _use_spectacular_settings(user_settings)

    use({})
    yield use
    _use_spectacular_settings(original)


HOST_API = "/ai/openai-assistants-vector-store"


def _host_path(path):
    """A path of the committed document under the host's prefixes (tests/api/schema_host_urls.py)."""
    return path.replace("/api/v1/", "/ai/", 1).replace("/api/openai/", "/ai/openai/", 1)


@pytest.mark.django_db
@pytest.mark.urls("tests.api.schema_host_urls")
@pytest.mark.parametrize(
    "own_settings",
    [
        {},
        {
            "TITLE": "Host",
            "OAS_VERSION": "3.1.0",
            "COMPONENT_SPLIT_REQUEST": True,
            "SCHEMA_PATH_PREFIX": "/ai",
            "SCHEMA_PATH_PREFIX_TRIM": True,
        },
    ],
    ids=["no-settings", "other-options"],
)
def test_a_host_serves_the_apis_document_under_its_own_prefix(client, host_settings, own_settings):
    host_settings(own_settings)
    assert spectacular_settings.PREPROCESSING_HOOKS == []  # the host's

    response = client.get("/ai/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    hosted = json.loads(response.content)

    # The API's operations only (not the host's, nor the docs' own), under the host's prefix, without
    # the optional trailing slash.
    committed = json.loads(json.dumps(yaml.safe_load(COMMITTED_SCHEMA.read_text())))
    prefixed = {_host_path(path): item for path, item in committed["paths"].items()}
    assert {path.replace(API, HOST_API, 1) for path in PATHS} < set(hosted["paths"]) == set(prefixed)
    # The API's settings and hooks: the committed document, only the prefix differs.
    assert hosted["info"]["title"] == "OpenAI vector stores API"
    assert all(
        p.get("allowEmptyValue")
        for p in hosted["paths"][HOST_API]["get"]["parameters"]
        if p["in"] == "query" and p["name"] != "credential"
    )
    assert hosted == {**committed, "paths": prefixed}
    # ... and the host's settings are its own again.
    assert spectacular_settings.TITLE == own_settings.get("TITLE", "")


@pytest.mark.django_db
@pytest.mark.urls("tests.api.schema_host_urls")
def test_the_hosts_own_document_leaves_out_the_apis_docs_pages(client, host_settings):
    host_document = client.get("/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "/ai/status/" in host_document["paths"]
    assert not {"/ai/schema/", "/ai/docs/", "/ai/redoc/"} & set(host_document["paths"])


@pytest.mark.django_db
@pytest.mark.urls("tests.api.schema_host_urls")
@pytest.mark.parametrize("page", ["/ai/docs/", "/ai/redoc/"])
def test_a_hosts_docs_pages_load_nothing_from_another_host(client, host_settings, page):
    # drf-spectacular's own page, with the host's settings, would use a CDN ...
    assert "cdn.jsdelivr.net" in client.get("/docs/").content.decode()
    # ... the API's pages do not, and load the API's document (not the host's, also named "schema").
    response = client.get(page)
    assert_loads_nothing_from_another_host(response, "/ai/schema/")
    assert "<title>OpenAI vector stores API</title>" in response.content.decode()
