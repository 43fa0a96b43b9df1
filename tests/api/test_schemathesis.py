"""Requests generated from the OpenAPI document, run in-process against the site with the fake OpenAI behind it.

For every operation Schemathesis sends its coverage cases (boundaries, missing and malformed
parameters and bodies) and a few dozen fuzzed ones, valid and invalid. Every answer must be
documented (status, content type, headers, body schema) and none may be a 5xx: with a healthy
fake even the documented 500/502/504 must not occur. Invalid input must be rejected.

Most cases are steered towards real data, so they get past authentication and reach OpenAI:
a valid token, an existing credential, and (for store ids, file ids, batch ids and search queries)
the seeded store, its file, its file batch and a word of its content; uploaded bytes become a PDF,
a file type uploads accept. The rest keep what was generated and so exercise the 401, 404 and 400
answers. Every operation of the document is run (the test fails if one is missing).
"""

import copy
import uuid
import zlib

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.transport.serialization import Binary

from tests.conftest import token_of
from vectorstores.api.serializers import OBJECT_ID_PATTERN
from vectorstores.api.views import VectorStoreViewSet
from vectorstores.testing.fake_openai.validation import DEFAULT_CHUNKING

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MAX_EXAMPLES = 25  # fuzzed cases per operation, on top of Schemathesis' deterministic coverage cases
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
SEED_CONTENT = b"alpha beta gamma: how to reset a password"
WIRE = "/api/openai/"


@pytest.fixture
def wsgi_app(settings):
    settings.ALLOWED_HOSTS = ["localhost"]  # the host Schemathesis' WSGI client sends
    # Like Django's test client: a request must not close the test's database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


class Seed:
    """A store with one processed file, attached by a file batch, in the fake; recreated whenever a
    generated request removed it."""

    def __init__(self, fake):
        self.fake = fake
        self.store_id = self.file_id = self.batch_id = None
        fake.create_vector_store(name="other")  # so that a one-item page has a next page
        self.ensure()

    def ensure(self):
        with self.fake.lock:
            if self.file_id not in self.fake.files:
                self.file_id = self.fake.create_file("notes.txt", SEED_CONTENT)["id"]
            if self.store_id not in self.fake.vector_stores:
                self.store_id = self.fake.create_vector_store(name="seeded")["id"]
            if (
                self.batch_id not in self.fake.file_batches
                or (self.store_id, self.file_id) not in self.fake.vector_store_files
            ):
                self.batch_id = self.fake.create_batch(self.store_id, [(self.file_id, DEFAULT_CHUNKING, None)])["id"]


def _pick(case, what, one_in):
    """True for all but one in `one_in` cases: a choice that depends only on the generated case,
    so Hypothesis can replay and shrink it."""
    generated = repr((what, case.method, sorted(case.query.items(), key=str), case.path_parameters, case.body))
    return zlib.crc32(generated.encode()) % one_in != 0


def _is_uuid(value):
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def steer(case, *, token, credential_id, seed):
    """Point most cases at real data; only valid values are replaced, so negative cases stay negative."""
    wire = case.operation.path.startswith(WIRE)  # the OpenAI-compatible routes: Bearer, the credential in the path
    if _pick(case, "auth", 8):
        case.headers["Authorization"] = f"{'Bearer' if wire else 'Token'} {token}"
    parameters = case.path_parameters if wire else case.query
    credential = parameters.get("credential")
    if credential is not None and _is_uuid(credential) and _pick(case, "credential", 4):
        parameters["credential"] = str(credential_id)
    for name, seeded in (("store_id", "store_id"), ("file_id", "file_id"), ("batch_id", "batch_id")):
        value = case.path_parameters.get(name)
        if isinstance(value, str) and OBJECT_ID_PATTERN.fullmatch(value) and _pick(case, name, 3):
            seed.ensure()
            case.path_parameters[name] = getattr(seed, seeded)
    positive = case.meta is None or case.meta.generation.mode.is_positive
    if positive and isinstance(case.body, dict):
        # A copy: Schemathesis may share one body among several cases, negative ones included.
        case.body = body = copy.deepcopy(case.body)
        given = [name for name in ("file_id", "file_ids", "files") if name in body]
        if len(given) > 1 and case.operation.path.endswith(("/files", "/file_batches")) and _pick(case, "one", 4):
            # Attaching takes exactly one of them (the schema cannot say so); with `files`, no batch-wide settings.
            keep = given[zlib.crc32(repr(body).encode()) % len(given)]
            for name in given:
                if name != keep:
                    del body[name]
            if keep == "files":
                body.pop("attributes", None)
                body.pop("chunking_strategy", None)
        if isinstance(body.get("file_ids"), list) and body["file_ids"] and _pick(case, "file", 2):
            seed.ensure()
            if seed.file_id not in body["file_ids"]:
                body["file_ids"][0] = seed.file_id
        if isinstance(body.get("file_id"), str) and _pick(case, "file", 2):
            seed.ensure()
            body["file_id"] = seed.file_id
        entries = body.get("files")
        if isinstance(entries, list) and entries and isinstance(entries[0], dict) and _pick(case, "file", 2):
            seed.ensure()
            if seed.file_id not in [entry.get("file_id") for entry in entries]:
                entries[0]["file_id"] = seed.file_id
        if "query" in body and _pick(case, "query", 2):
            body["query"] = "alpha"
        if isinstance(body.get("files"), list) and _pick(case, "pdf", 3):
            # Uploads take only the file types OpenAI's file search takes; make the generated bytes a PDF.
            body["files"] = [_as_pdf(item) for item in body["files"]]
        if "file" in body and _pick(case, "pdf", 3):
            body["file"] = _as_pdf(body["file"])


def _as_pdf(item):
    data = item.data if isinstance(item, Binary) else item
    return Binary(b"%PDF-1.7\n" + data) if isinstance(data, bytes) and data else item


def _describe(exc):
    """The failure report; the groups Schemathesis raises carry it in their message."""
    if isinstance(exc, BaseExceptionGroup):
        return "\n".join([str(exc), *(f"  {type(inner).__name__}: {inner}" for inner in exc.exceptions)])
    return f"{type(exc).__name__}: {exc}"


def test_every_answer_is_documented_and_no_input_breaks_the_server(
    wsgi_app, fake_openai, credential, user, monkeypatch
):
    # About a thousand requests a minute from one user: the site's throttle would answer most with 429.
    monkeypatch.setattr(VectorStoreViewSet, "throttle_classes", [])
    token = token_of(user)
    seed = Seed(fake_openai)
    config = SchemathesisConfig.from_dict({"generation": {"mode": "all", "max-examples": MAX_EXAMPLES}})
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app, config=config)
    settings = hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        # The same cases on every run, as in test_properties.py: a failure is the code's, and comes back
        # until it is fixed, instead of turning up once in a while.
        derandomize=True,
        database=None,  # no .hypothesis/ directory in the project
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        # One test function drives every operation with fixtures set up once; slow examples are expected.
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )

    def check(case):
        steer(case, token=token, credential_id=credential.pk, seed=seed)
        # Steering only puts valid values where valid values were: the case stays as positive or negative as
        # generated. (Schemathesis would otherwise check the edited parts again, and it takes any body with a
        # file in it for an invalid one, so a steered upload would count as negative data that was accepted.)
        # Schemathesis does the same after applying its own overrides and auth.
        case._record_starting_state()
        response = case.call()
        case.validate_response(response, checks=CHECKS)

    operations = [result.ok() for result in schema.get_all_operations()]
    # Every operation of the document, none filtered out (test_openapi.py checks the API's 18 are there, and
    # test_wire_rules.py the 20 OpenAI-compatible ones).
    documented = {(method, path) for path, item in schema.raw_schema["paths"].items() for method in item}
    assert {(operation.method.lower(), operation.path) for operation in operations} == documented
    assert len(operations) == 18 + 20
    failures = []
    for operation in operations:
        test = create_test(
            operation=operation,
            test_func=check,
            config=HypothesisTestConfig(
                project=schema.config,
                modes=list(HypothesisTestMode),
                settings=settings,
            ),
        )
        try:
            test()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"--- {operation.label} ---\n{_describe(exc)}")
    assert not failures, "\n\n".join(failures)
