"""Property-based tests (Hypothesis) over every JSON body, query parameter and path id of the API.

The property, for any input: the answer is a 2xx, or a 4xx in the API's one JSON error shape
({"detail": str, "code": str, ...}); never a 5xx. A 2xx from a route that answers with a list
is a JSON array.

Inputs mix three kinds, for every JSON endpoint (create, update, PATCH remove, search):
fully arbitrary JSON, near-valid bodies (a valid body with one field mutated: wrong type,
out of range by one, too long, extra key, nested wrong) and valid bodies. Query parameters and
path ids get arbitrary text and numbers, plus the tricky ones ('..', '%2F', unicode, very long).
Raw bodies (invalid UTF-8, truncated JSON, deep nesting, ...) go out with application/json and
with random content types, and the upload route gets random multipart bodies.

The fake OpenAI runs behind the API and is re-seeded before every example (a store holding one
file), so valid ids and valid bodies reach it and get a 2xx or an upstream 4xx: both are fine.
Runs are derandomized and use no example database, so CI sees the same examples every time.
"""

import json
import string
from urllib.parse import quote, unquote, urlencode, urlsplit

import pytest
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.api import multipart_bodies as handmade
from tests.conftest import API_ROOT
from vectorstores.api.serializers import OBJECT_ID_PATTERN

pytestmark = pytest.mark.django_db

# --- settings -------------------------------------------------------------------------------


def props(max_examples):
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,  # the same examples on every run: CI is never flaky
        database=None,  # and no example database: nothing replays a past run's failures
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# --- the seeded fake ------------------------------------------------------------------------

# Stand-ins for the ids of the seeded store and file, replaced before a request is sent. They are
# not valid ids themselves ('@'), so replacing exact matches never changes anything else.
STORE = "@@seeded-store@@"
FILE = "@@seeded-file@@"
SEED_CONTENT = b"alpha beta gamma: how to reset a password"


def seed(fake):
    """Empty the fake (so its state and request log never grow) and seed a store holding one file."""
    fake.reset()
    store = fake.create_vector_store(name="seeded", metadata={"team": "docs"})
    file = fake.create_file("notes.txt", SEED_CONTENT)
    fake.attach_file(store["id"], file["id"])
    fake.create_vector_store(name="other")  # so that a one-item page has a next page
    return {STORE: store["id"], FILE: file["id"]}


def substitute(value, ids):
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, list):
        return [substitute(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, ids) for key, item in value.items()}
    return value


# --- sending and checking -------------------------------------------------------------------

# (route name, method) whose 2xx answer is a JSON array.
LIST_ANSWERS = {
    ("vector-store-list", "GET"),
    ("vector-store-files", "GET"),
    ("vector-store-detail", "PATCH"),
    ("vector-store-detail", "POST"),
}


def answers_with_a_list(method, path):
    """Whether the route `path` reaches (as Django resolves it: an id may be empty or hold '/') answers an array."""
    try:
        match = resolve(unquote(urlsplit(path).path))
    except Resolver404:
        return False
    return (match.url_name, method) in LIST_ANSWERS


def send(api, method, path, *, data=b"", content_type="application/json"):
    try:
        return api.generic(method, path, data=data, content_type=content_type)
    except Exception as exc:  # the test client re-raises what the view did not handle: a 500
        raise AssertionError(f"{method} {path!r} with {data[:300]!r} ({content_type!r}) raised {exc!r}: a 500") from exc


def request(api, method, path, *, data=b"", content_type="application/json", what=""):
    """Send, and check the property: a 2xx (an array where the route answers one) or a 4xx error shape."""
    what = what or f"{method} {path} {data[:300]!r} as {content_type!r}"
    response = send(api, method, path, data=data, content_type=content_type)
    status = response.status_code
    body = response.content[:1000]
    assert status < 500, f"{what}: {status} {body!r}"
    if status >= 400:
        try:
            error = response.json()  # also checks the content type is JSON
        except ValueError:
            raise AssertionError(f"{what}: {status} is not JSON: {response.get('Content-Type')} {body!r}") from None
        assert isinstance(error, dict), f"{what}: {status} {error!r}"
        assert isinstance(error.get("detail"), str), f"{what}: {status} {error!r}"
        assert isinstance(error.get("code"), str), f"{what}: {status} {error!r}"
    elif 200 <= status < 300 and answers_with_a_list(method, path):
        assert isinstance(response.json(), list), f"{what}: {status} {body!r}"
    return response


def encode(body, ascii_only=True):
    text = json.dumps(body, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")


# --- arbitrary JSON -------------------------------------------------------------------------

FIELD_NAMES = [
    "name",
    "description",
    "file_ids",
    "metadata",
    "expires_after",
    "chunking_strategy",
    "anchor",
    "days",
    "type",
    "static",
    "max_chunk_size_tokens",
    "chunk_overlap_tokens",
    "delete_files",
    "query",
    "max_num_results",
    "filters",
    "ranking_options",
    "ranker",
    "score_threshold",
    "rewrite_query",
    "key",
    "value",
    "non_field_errors",
]
# Any unicode but lone surrogates: control characters and NUL included.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
INTS = st.one_of(
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.sampled_from(
        [
            0,
            1,
            -1,
            2,
            49,
            50,
            51,
            99,
            100,
            101,
            365,
            366,
            500,
            501,
            4096,
            4097,
            2**31,
            2**53 + 1,
            2**63,
            2**64,
            -(2**63) - 1,
            10**30,
            10**300,
            -(10**300),
        ]
    ),
)
FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1.0, 1.0000001, -1e-300, 5e-324, 1e308, -1e308, 0.5]),
)
SCALARS = st.one_of(st.none(), st.booleans(), INTS, FLOATS, TEXT)
KEYS = st.one_of(st.sampled_from(FIELD_NAMES), TEXT)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(KEYS, children, max_size=5)),
    max_leaves=20,
)
JSON_OBJECTS = st.dictionaries(KEYS, JSON, max_size=6)

# --- ids ------------------------------------------------------------------------------------

ID_ALPHABET = string.ascii_letters + string.digits + "_-"
VALID_IDS = st.one_of(
    st.text(ID_ALPHABET, min_size=1, max_size=40),
    st.sampled_from(["vs_abc123", "file-abc", "_", "-", "a" * 128]),
)
TRICKY_IDS = [
    "",
    " ",
    ".",
    "..",
    "...",
    "%2F",
    "%2f..%2f",
    "a/b",
    "a%2Fb",
    "..%2F..%2Fetc%2Fpasswd",
    "a" * 129,
    "a" * 5000,
    "vs_abc\n",
    "vs_abc\r\n",
    "\nvs_abc",
    "vs abc",
    "vs_abc ",
    "vs_é",
    "ｖｓ＿ａｂｃ",
    "٣",
    "vs_abc\x00",
    "\x00",
    "vs_abc\t",
    "%00",
    "%ff",
    "%",
    "%%",
    "?",
    "#",
    "&",
    "=",
    "+",
    ";",
    "vs_abc?x=1",
    "😀",
    "\u202e",
    "\ufeff",
    "null",
    "None",
    "true",
    "0",
    "-1",
    "1e400",
    "[]",
    "{}",
    "'",
    '"',
    "\\",
    "<script>",
]
ARBITRARY_IDS = st.one_of(
    st.sampled_from(TRICKY_IDS), TEXT, st.text(st.characters(exclude_categories=("Cs",)), max_size=300), INTS.map(str)
)
STORE_IDS = st.one_of(st.just(STORE), st.just(STORE), VALID_IDS, ARBITRARY_IDS)
FILE_IDS = st.one_of(st.just(FILE), VALID_IDS)

# --- valid bodies ---------------------------------------------------------------------------

# Text our validation takes as a string: anything but NUL and lone surrogates.
VALID_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)
METADATA = st.one_of(
    st.dictionaries(st.one_of(TEXT, st.just("k" * 64)), st.one_of(VALID_TEXT, st.just("v" * 512)), max_size=4),
    st.just({f"key{n}": "v" * 512 for n in range(16)}),
)
EXPIRES_AFTER = st.fixed_dictionaries(
    {"anchor": st.just("last_active_at"), "days": st.one_of(st.integers(1, 365), st.sampled_from([1, 365]))}
)


@st.composite
def static_chunking(draw):
    size = draw(st.one_of(st.integers(100, 4096), st.sampled_from([100, 101, 4096])))
    overlap = draw(st.one_of(st.integers(0, size // 2), st.sampled_from([0, size // 2])))
    return {"type": "static", "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap}}


CHUNKING = st.one_of(st.just({"type": "auto"}), static_chunking())
FILE_ID_LISTS = st.one_of(
    st.lists(FILE_IDS, min_size=1, max_size=4, unique=True),
    st.just([f"file-{n}" for n in range(500)]),
)


@st.composite
def valid_create(draw):
    body = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "name": VALID_TEXT,
                "description": VALID_TEXT,
                "file_ids": st.one_of(st.just([]), FILE_ID_LISTS),
                "metadata": st.one_of(st.none(), METADATA),
                "expires_after": EXPIRES_AFTER,
            },
        )
    )
    if body.get("file_ids") and draw(st.booleans()):
        body["chunking_strategy"] = draw(CHUNKING)
    return body


VALID_UPDATE = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.none(), VALID_TEXT),
        "metadata": st.one_of(st.none(), METADATA),
        "expires_after": st.one_of(st.none(), EXPIRES_AFTER),
    },
)
VALID_REMOVE = st.fixed_dictionaries(
    # Small lists only: each id is a call to the fake (500 ids are tried as a mutation's boundary).
    {"file_ids": st.lists(FILE_IDS, min_size=1, max_size=4, unique=True)},
    optional={"delete_files": st.booleans()},
)

FILTER_SCALARS = st.one_of(VALID_TEXT, st.integers(-(2**53), 2**53), FLOATS, st.booleans())
COMPARISON = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]),
        "key": st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=20),
        "value": st.one_of(FILTER_SCALARS, st.lists(FILTER_SCALARS, max_size=4)),
    }
)


def filters(depth=1):
    if depth >= 8:  # the deepest compound allowed holds only comparisons
        return COMPARISON
    compound = st.fixed_dictionaries(
        {
            "type": st.sampled_from(["and", "or"]),
            "filters": st.lists(st.deferred(lambda: filters(depth + 1)), min_size=1, max_size=2),
        }
    )
    return st.one_of(COMPARISON, COMPARISON, compound)


def deep_filter(depth):
    node = {"type": "eq", "key": "k", "value": 1}
    for _ in range(depth - 1):
        node = {"type": "and", "filters": [node]}
    return node


NON_BLANK = VALID_TEXT.filter(lambda s: s.strip())
VALID_SEARCH = st.fixed_dictionaries(
    {
        "query": st.one_of(
            st.just("alpha"), NON_BLANK, st.lists(st.one_of(st.just("beta"), NON_BLANK), min_size=1, max_size=3)
        )
    },
    optional={
        "max_num_results": st.one_of(st.integers(1, 50), st.sampled_from([1, 50])),
        "filters": st.one_of(filters(), st.sampled_from([deep_filter(8), deep_filter(1)])),
        "ranking_options": st.fixed_dictionaries(
            {},
            optional={
                "ranker": st.sampled_from(["none", "auto", "default-2024-11-15"]),
                "score_threshold": st.one_of(st.floats(0, 1), st.sampled_from([0, 1, 0.0, 1.0])),
            },
        ),
        "rewrite_query": st.booleans(),
    },
)

# --- near-valid bodies: a valid body with one place mutated ---------------------------------


def places(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:5]):
            yield from places(item, (*path, index))


def replace_at(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replace_at(value[head], rest, new)}
    return [replace_at(item, rest, new) if index == head else item for index, item in enumerate(value)]


def mutations(value):
    """Ways to get `value` slightly (or entirely) wrong."""
    options = [
        JSON,
        st.sampled_from([None, [], {}, "", True, 0, -1, 1.5, "x" * 600]),
        st.just(str(value)),
        st.just([value]),
        st.just({"value": value}),
    ]
    if isinstance(value, bool):
        options.append(st.sampled_from([int(value), "true", "false", str(value).lower(), None]))
    elif isinstance(value, int):
        options.append(
            st.sampled_from(
                [
                    value - 1,
                    value + 1,
                    -value,
                    value * 1000,
                    float(value),
                    value + 0.5,
                    str(value),
                    2**64,
                    -(2**64),
                    10**300,
                ]
            )
        )
    elif isinstance(value, float):
        options.append(st.sampled_from([value - 1, value + 1, -value - 1e-9, value + 1e-9, str(value), 1e308, -1e308]))
    elif isinstance(value, str):
        options.append(
            st.sampled_from(
                [
                    "",
                    " ",
                    "\t\n",
                    value + "\x00",
                    value + "\n",
                    value + "\ud800",
                    value * 600 or "x" * 600,
                    "x" * 65,
                    "x" * 129,
                    "x" * 513,
                    value.upper() + "!",
                    "a/b",
                    "..",
                    value + "\u202e",
                ]
            )
        )
    elif isinstance(value, list):
        options.append(
            st.sampled_from(
                [
                    [],
                    value + value[:1],
                    value * 2,
                    [None],
                    [1],
                    [[value]],
                    [{}],
                    [f"file-{n}" for n in range(501)],
                    [*list(value), ""],
                    [*list(value), "bad id!"],
                ]
            )
        )
    elif isinstance(value, dict):
        extra = {**value, "unexpected": 1}
        fewer = dict(list(value.items())[1:])
        many = {**value, **{f"k{n}": "v" for n in range(17)}}
        long_key = {**value, "k" * 65: "v"}
        wrong_values = dict.fromkeys(value, 1) or {"": 1}
        options.append(st.sampled_from([extra, fewer, many, long_key, wrong_values, []]))
    return st.one_of(*options)


@st.composite
def near_valid(draw, valid):
    body = draw(valid)
    path = draw(st.sampled_from(list(places(body))))
    target = body
    for step in path:
        target = target[step]
    if isinstance(target, dict) and target and draw(st.booleans()):
        # Or a key of it: missing, renamed, another type's value under a known name.
        key = draw(st.sampled_from(sorted(target)))
        choice = draw(st.sampled_from(["drop", "rename", "replace"]))
        if choice == "drop":
            new = {k: v for k, v in target.items() if k != key}
        elif choice == "rename":
            renamed = key + draw(st.sampled_from(["_", " ", "\x00", "\ud800", "k" * 64]))
            new = {(renamed if k == key else k): v for k, v in target.items()}
        else:
            new = {**target, key: draw(mutations(target[key]))}
        return replace_at(body, path, new)
    return replace_at(body, path, draw(mutations(target)))


def bodies(valid):
    """Fully arbitrary JSON, arbitrary objects, near-valid and valid bodies, about equally often."""
    return st.one_of(JSON, JSON_OBJECTS, near_valid(valid), near_valid(valid), valid, valid)


# --- raw bodies and content types -----------------------------------------------------------

CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=latin-1",
            "application/json; charset=utf-16",
            "application/json; charset=bogus",
            "application/json; charset=idna",
            # Charsets naming codecs that are not text encodings (rot13, bz2_codec) break Django itself before
            # any view runs; the site's WSGI application answers them (tests/site/test_deploy.py).
            "application/JSON",
            "text/json",
            "text/plain",
            "application/xml",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "multipart/form-data; boundary=xyz",
            "multipart/form-data; boundary=",
            "multipart/mixed; boundary=xyz",
            "application/octet-stream",
            "",
            ";",
            "application/json;;",
            "*/*",
            "application/*",
        ]
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)


@st.composite
def raw_bodies(draw, valid):
    kind = draw(
        st.sampled_from(
            ["bytes", "truncated", "invalid_utf8", "tokens", "deep", "big_number", "bom", "surrogate", "text"]
        )
    )
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "truncated":
        text = encode(draw(valid))
        return text[: draw(st.integers(0, max(len(text) - 1, 0)))]
    if kind == "invalid_utf8":
        text = encode(draw(valid), ascii_only=False)
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80"])) + text[at:]
    if kind == "tokens":
        return draw(
            st.sampled_from(
                [
                    b"NaN",
                    b"Infinity",
                    b"-Infinity",
                    b'{"query": NaN}',
                    b'{"name": Infinity}',
                    b'{"max_num_results": 1e400}',
                    b'{"query": "a", "filters": {"type": "eq", "key": "k", "value": 1e400}}',
                    b'{"query": "a", "filters": {"type": "eq", "key": "k", "value": -1e400}}',
                    b'{"query": "a", "ranking_options": {"score_threshold": 1e-400}}',
                    b"null",
                    b"true",
                    b"[]",
                    b'""',
                    b'{"name": "a", "name": "b"}',
                    b"{} {}",
                    b"{}x",
                    b"  {}  ",
                    b"\x00",
                    b"{,}",
                    b"{'a': 1}",
                    b"",
                ]
            )
        )
    if kind == "deep":
        # Around Python's recursion limit (1000) and far beyond it.
        depth = draw(st.one_of(st.sampled_from([50, 999, 1000, 5000, 100_000]), st.integers(850, 1000)))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'{"filters":', b"}")]))
        return opener * depth + b"1" + closer * depth
    if kind == "big_number":
        digits = draw(st.sampled_from([4300, 4301, 10_000]))
        field = draw(st.sampled_from(["max_num_results", "days", "name", "x"]))
        return b'{"%s": %s}' % (field.encode(), b"9" * digits)
    if kind == "bom":
        return b"\xef\xbb\xbf" + encode(draw(valid))
    if kind == "surrogate":  # a lone surrogate escaped in JSON text: valid JSON, not valid unicode
        field = draw(
            st.sampled_from(
                [
                    '{"name": "\\ud800"}',
                    '{"metadata": {"\\ud800": "v"}}',
                    '{"metadata": {"k": "\\udfff"}}',
                    '{"query": "\\ud800"}',
                    '{"query": "a", "filters": {"type": "eq", "key": "\\ud800", "value": 1}}',
                    '{"query": "a", "filters": {"type": "eq", "key": "k", "value": "\\ud800"}}',
                    '{"query": "a", "filters": {"type": "in", "key": "k", "value": ["\\udc00"]}}',
                    '{"file_ids": ["\\ud800"]}',
                    '{"\\ud800": 1}',
                ]
            )
        )
        return field.encode()
    return draw(TEXT).encode("utf-8")


# --- the JSON endpoints ---------------------------------------------------------------------

ENDPOINTS = {
    # name: (method, path template, valid bodies)
    "create": ("POST", "", valid_create()),
    "update": ("PUT", "/{id}", VALID_UPDATE),
    "remove_files": ("PATCH", "/{id}", VALID_REMOVE),
    "search": ("POST", "/{id}/search", VALID_SEARCH),
}


def store_path(template, store_id):
    return template.format(id=quote(store_id, safe=""))


@pytest.mark.slow
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_any_json_body_gets_2xx_or_a_4xx_error_shape(endpoint, api, url, fake_openai):
    method, template, valid = ENDPOINTS[endpoint]

    @props(max_examples=150)
    @given(body=bodies(valid), store_id=STORE_IDS, ascii_only=st.booleans())
    def run(body, store_id, ascii_only):
        ids = seed(fake_openai)
        path = url(store_path(template, ids.get(store_id, store_id)))
        body = substitute(body, ids)
        request(api, method, path, data=encode(body, ascii_only), what=f"{method} {path} {body!r}"[:2000])

    run()


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_near_valid_and_valid_bodies_on_the_seeded_store(endpoint, api, url, fake_openai):
    """The seeded store always: valid bodies reach the fake, near-valid ones probe each rule's edge."""
    method, template, valid = ENDPOINTS[endpoint]

    @props(max_examples=75)
    @given(body=st.one_of(near_valid(valid), valid))
    def run(body):
        ids = seed(fake_openai)
        path = url(store_path(template, ids[STORE]))
        body = substitute(body, ids)
        request(api, method, path, data=encode(body), what=f"{method} {path} {body!r}"[:2000])

    run()


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_raw_bodies_and_content_types(endpoint, api, url, fake_openai):
    method, template, valid = ENDPOINTS[endpoint]

    @props(max_examples=60)
    @example(data=b"[" * 1000 + b"]" * 1000, content_type="application/json")
    @example(data=b'{"query": "\\ud800", "metadata": {"\\ud800": "v"}}', content_type="application/json")
    @given(data=raw_bodies(valid), content_type=st.one_of(st.just("application/json"), CONTENT_TYPES))
    def run(data, content_type):
        ids = seed(fake_openai)
        path = url(store_path(template, ids[STORE]))
        request(api, method, path, data=data, content_type=content_type)

    run()


# --- query parameters -----------------------------------------------------------------------

QUERY_VALUES = st.one_of(
    TEXT,
    INTS.map(str),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=300),
    st.sampled_from(TRICKY_IDS),
    st.sampled_from(
        [
            "",
            "0",
            "1",
            "100",
            "101",
            "-1",
            " 5",
            "5 ",
            "5.0",
            "1e2",
            "0x10",
            "1_0",
            "５",
            "٣",
            "+7",
            "asc",
            "desc",
            "ASC",
            "completed",
            "in_progress",
            "failed",
            "cancelled",
            "all",
            "00000000-0000-0000-0000-000000000000",
            "not-a-uuid",
        ]
    ),
)
PARAM_VALUES = {
    "limit": st.one_of(st.integers(1, 100).map(str), QUERY_VALUES),
    "order": st.one_of(st.sampled_from(["asc", "desc"]), QUERY_VALUES),
    "after": st.one_of(st.just(STORE), st.just(FILE), VALID_IDS, QUERY_VALUES),
    "before": st.one_of(st.just(STORE), st.just(FILE), VALID_IDS, QUERY_VALUES),
    "filter": st.one_of(st.sampled_from(["in_progress", "completed", "failed", "cancelled"]), QUERY_VALUES),
}
# Junk glued onto the query string as is: broken percent-escapes, bare keys, separators.
RAW_QUERY_TAILS = st.one_of(
    st.just(""),
    st.sampled_from(
        [
            "&",
            "&&",
            "&limit",
            "&limit=",
            "&=",
            "&%",
            "&%zz=1",
            "&limit=%ff",
            "&after=%00",
            "&credential=",
            "&order=asc&order=desc",
            "&limit=1&limit=x",
            ";limit=5",
            "&filter=%E2%80%AE",
            "&before=a%0A",
            "&after=vs_abc%0A",
            "&x=" + "%41" * 500,
            "#frag",
        ]
    ),
    st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="#"), max_size=30).map(
        lambda s: "&" + s
    ),
)


@st.composite
def queries(draw, params):
    """A query naming the credential (usually the right one) and any of `params`, valid or not."""
    query = []
    credential = draw(st.sampled_from(["ours", "ours", "ours", "ours", "absent", "other", "arbitrary", "twice"]))
    if credential in ("ours", "twice"):
        query.append(("credential", "@@credential@@"))
    if credential == "other":
        query.append(("credential", "00000000-0000-4000-8000-000000000000"))
    if credential in ("arbitrary", "twice"):
        query.append(("credential", draw(QUERY_VALUES)))
    for name in params:
        if draw(st.booleans()):
            query.append((name, draw(PARAM_VALUES[name])))
            if draw(st.integers(0, 5)) == 0:  # repeated
                query.append((name, draw(PARAM_VALUES[name])))
    order = draw(st.permutations(range(len(query))))
    return [query[i] for i in order], draw(RAW_QUERY_TAILS)


def with_query(path, query, tail, ids, credential):
    ids = {**ids, "@@credential@@": str(credential.pk)}
    pairs = [(name, substitute(value, ids)) for name, value in query]
    text = urlencode(pairs, quote_via=quote, encoding="utf-8", errors="surrogatepass")
    return f"{API_ROOT}{path}?{text}{tail}"


GET_ROUTES = {
    "list": ("", ["limit", "order", "after", "before"]),
    "retrieve": ("/{id}", []),
    "list_files": ("/{id}/files", ["limit", "order", "after", "before", "filter"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("route", list(GET_ROUTES))
def test_any_query_parameters(route, api, credential, fake_openai):
    template, params = GET_ROUTES[route]

    @props(max_examples=150)
    @given(query=queries(params), store_id=STORE_IDS)
    def run(query, store_id):
        ids = seed(fake_openai)
        path = with_query(store_path(template, ids.get(store_id, store_id)), *query, ids, credential)
        request(api, "GET", path)

    run()


# --- path ids, on every route and method ----------------------------------------------------

ROUTES = [
    # (method, path template, a body that is valid for the route; "upload" for a multipart one)
    ("GET", "/{id}", None),
    ("PUT", "/{id}", {"name": "renamed"}),
    ("DELETE", "/{id}", None),
    ("PATCH", "/{id}", {"file_ids": [FILE]}),
    ("POST", "/{id}", "upload"),
    ("GET", "/{id}/files", None),
    ("POST", "/{id}/search", {"query": "alpha"}),
]


@st.composite
def raw_paths(draw):
    """A store id, percent-encoded or put into the path as it is (so '/', '%2F', '..' stay what they are)."""
    store_id = draw(STORE_IDS)
    how = draw(st.sampled_from(["quoted", "quoted", "raw", "raw_slash"]))
    return store_id, how


def id_in_path(store_id, how):
    if how == "quoted":
        return quote(store_id, safe="")
    return quote(store_id, safe="/%." if how == "raw_slash" else "%.")


@pytest.mark.parametrize("route", ROUTES, ids=[f"{method} {template}" for method, template, *_ in ROUTES])
def test_any_path_id(route, api, url, fake_openai, upload_dir):
    method, template, valid_body = route

    @props(max_examples=50)
    @given(where=raw_paths(), trailing_slash=st.booleans())
    def run(where, trailing_slash):
        ids = seed(fake_openai)
        store_id, how = where
        segment = id_in_path(ids.get(store_id, store_id), how)
        path = url(template.format(id=segment) + ("/" if trailing_slash else ""))
        if valid_body == "upload":
            data, content_type = multipart([("files", "notes.txt", b"alpha")])
        else:
            data, content_type = (
                (b"" if valid_body is None else encode(substitute(valid_body, ids))),
                "application/json",
            )
        request(api, method, path, data=data, content_type=content_type)
        assert list(upload_dir.iterdir()) == []

    run()


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_any_method_on_any_path_under_the_api(method, api, url, fake_openai):
    """Unknown routes and methods a route does not allow are JSON errors too."""

    @props(max_examples=30)
    @given(
        suffix=st.one_of(
            st.sampled_from(["", "/", "//", "/x/files/extra", "/x/search/", "/x/y/z", "/%2F", "/../..", "/x/files//"]),
            st.lists(ARBITRARY_IDS, min_size=1, max_size=4).map(
                lambda parts: "/" + "/".join(quote(p, safe="") for p in parts)
            ),
        ),
        body=st.one_of(st.just(b""), JSON.map(encode)),
    )
    def run(suffix, body):
        seed(fake_openai)
        path = url(suffix)
        request(api, method, path, data=body)

    run()


# --- the upload route: random multipart bodies ----------------------------------------------


def multipart(parts):
    """A multipart/form-data body from (field name, file name or None, content) parts; (body, content type)."""
    encoded = []
    for field, filename, content in parts:
        disposition = f'name="{field}"' + (f'; filename="{filename}"' if filename is not None else "")
        content_type = b"application/octet-stream" if filename is not None else None
        encoded.append(handmade.part(disposition.encode("utf-8", "surrogatepass"), content, content_type))
    return handmade.body(*encoded), handmade.CONTENT_TYPE


FILE_NAMES = st.one_of(
    st.sampled_from(
        [
            "notes.txt",
            "résumé 2024.docx",
            "../../etc/passwd",
            "a/b/c.txt",
            "C:\\x\\y.txt",
            "",
            " ",
            "a\x00b.txt",
            "a\nb.txt",
            'a"b.txt',
            "a;b.txt",
            "doc\u202efdp.exe",
            "x" * 256,
            "x" * 255,
            "😀.txt",
            "&amp;.txt",
            "%2F.txt",
            ".",
            "..",
        ]
    ),
    TEXT,
)
CHUNKING_TEXT = st.one_of(
    CHUNKING.map(json.dumps),
    near_valid(CHUNKING).map(lambda value: json.dumps(value)),
    JSON.map(json.dumps),
    TEXT,
)


@st.composite
def multipart_bodies(draw):
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.one_of(st.just("files"), st.just("files"), st.just("chunking_strategy"), TEXT))
        if field == "chunking_strategy" and draw(st.booleans()):
            parts.append((field, None, draw(CHUNKING_TEXT).encode("utf-8", "surrogatepass")))
        else:
            filename = draw(st.one_of(FILE_NAMES, st.none()))
            content = draw(st.one_of(st.just(SEED_CONTENT), st.binary(max_size=50)))
            parts.append((field, filename, content))
    data, content_type = multipart(parts)
    mangle = draw(st.sampled_from(["none", "none", "none", "truncate", "no_boundary", "other_boundary", "json"]))
    if mangle == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif mangle == "no_boundary":
        content_type = "multipart/form-data"
    elif mangle == "other_boundary":
        content_type = "multipart/form-data; boundary=other"
    elif mangle == "json":
        content_type = "application/json"
    return data, content_type


def test_any_multipart_upload(api, url, fake_openai, upload_dir):
    @props(max_examples=80)
    @example(body=(b"", "application/json"), store_id=STORE)  # no body at all
    @example(body=(b"", None), store_id=STORE)  # nor a content type
    @example(body=multipart([("files", "notes.txt", SEED_CONTENT)]), store_id=STORE)
    @given(
        body=st.one_of(multipart_bodies(), st.tuples(raw_bodies(CHUNKING), CONTENT_TYPES)),
        store_id=st.one_of(st.just(STORE), st.just(STORE), st.just(STORE), STORE_IDS),
    )
    def run(body, store_id):
        ids = seed(fake_openai)
        data, content_type = body
        path = url(store_path("/{id}", ids.get(store_id, store_id)))
        request(api, "POST", path, data=data, content_type=content_type)
        assert list(upload_dir.iterdir()) == [], "an upload left a temporary file behind"

    run()


# --- ids outside the pattern never reach OpenAI ---------------------------------------------


def invalid_id(value):
    return isinstance(value, str) and not OBJECT_ID_PATTERN.fullmatch(value)


@pytest.mark.parametrize("where", ["path", "after", "before", "create_file_ids", "remove_file_ids"])
def test_ids_outside_the_pattern_are_400_before_reaching_openai(where, api, url, fake_openai):
    """README: store and file ids must match ^[A-Za-z0-9_-]{1,128}$, otherwise 400 before anything reaches OpenAI.

    Query parameters are trimmed of surrounding whitespace first (DRF's CharField), so a cursor
    counts as invalid only if it is still invalid once trimmed.
    """
    query = where in ("after", "before")

    @props(max_examples=40)
    @example(bad_id="vs_abc\n")
    @example(bad_id="..")
    @given(
        bad_id=st.one_of(st.sampled_from(TRICKY_IDS), TEXT, VALID_IDS.map(lambda s: s + "\n")).filter(
            lambda value: invalid_id(value.strip() if query else value) and "/" not in value and value != ""
        )
    )
    def run(bad_id):
        if query and not invalid_id(bad_id.strip()):
            return  # an explicit example that is a valid cursor once trimmed
        ids = seed(fake_openai)
        if where == "path":
            method, path, data = "GET", url(f"/{quote(bad_id, safe='')}"), b""
        elif query:
            method, path, data = "GET", url(**{where: bad_id}), b""
        elif where == "create_file_ids":
            method, path, data = "POST", url(), encode({"file_ids": [bad_id]})
        else:
            method, path, data = "PATCH", url(f"/{ids[STORE]}"), encode({"file_ids": [bad_id]})
        response = request(api, method, path, data=data)
        what = f"{method} {path} {data!r}: {response.status_code} {response.content!r}"
        assert response.status_code == 400, what
        assert response.json()["code"] == "invalid", what
        assert fake_openai.requests == [], f"{bad_id!r} reached OpenAI: {fake_openai.requests}"

    run()


# --- the smallest inputs found so far that broke the property, pinned -------------------------

NESTED = b"[" * 1000 + b"]" * 1000


@pytest.mark.parametrize(
    "method, template, data, content_type",
    [
        # An upload with no body at all (and no multipart content type).
        ("POST", "/{id}", b"", "application/json"),
        ("POST", "/{id}", b"", "text/plain"),
        # JSON nested deeper than Python's recursion limit.
        ("POST", "", NESTED, "application/json"),
        ("PUT", "/{id}", NESTED, "application/json"),
        ("PATCH", "/{id}", NESTED, "application/json"),
        ("POST", "/{id}/search", NESTED, "application/json"),
        # Lone surrogates (valid JSON escapes) where no string field checks them, sent on to OpenAI.
        ("POST", "", b'{"metadata": {"\\ud800": "v"}}', "application/json"),
        ("PUT", "/{id}", b'{"metadata": {"\\ud800": "v"}}', "application/json"),
        ("POST", "/{id}/search", b'{"query": "\\ud800"}', "application/json"),
        ("POST", "/{id}/search", b'{"query": ["a", "\\udc00"]}', "application/json"),
        (
            "POST",
            "/{id}/search",
            b'{"query": "a", "filters": {"type": "eq", "key": "k", "value": "\\ud800"}}',
            "application/json",
        ),
        (
            "POST",
            "/{id}/search",
            b'{"query": "a", "filters": {"type": "in", "key": "k", "value": ["\\ud800"]}}',
            "application/json",
        ),
    ],
    ids=lambda value: value[:40].decode(errors="replace") if isinstance(value, bytes) else None,
)
def test_pinned_inputs(method, template, data, content_type, api, url, fake_openai):
    ids = seed(fake_openai)
    path = url(template.format(id=ids[STORE]))
    request(api, method, path, data=data, content_type=content_type)
