"""OpenAI's Node SDK (the `openai` package from npm, at the version pinned in node/package-lock.json),
unchanged, against the OpenAI-compatible routes: with only its baseURL and apiKey pointed at this site it
creates a vector store, uploads a file into it with uploadAndPoll, searches it and deletes it, and a
missing store comes back as its own NotFoundError. What reached the fake OpenAI is checked too, so this
proves that the routes speak OpenAI's wire format to a second official client, not only to the Python one.

Node and npm must be installed: the test fails, never skips, without them. The packages are installed
with `npm ci` into tests/openai_sdk/node/node_modules when that folder is missing or older than the lockfile.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import token_of
from tests.openai_sdk.conftest import wire_base_url

pytestmark = pytest.mark.subprocess

NODE_DIR = Path(__file__).resolve().parent / "node"
NODE_MODULES = NODE_DIR / "node_modules"
LOCKFILE = NODE_DIR / "package-lock.json"


def installed_packages_are_current():
    return NODE_MODULES.is_dir() and NODE_MODULES.stat().st_mtime >= LOCKFILE.stat().st_mtime


@pytest.fixture(scope="module")
def node_packages():
    """The packages of node/package-lock.json in node/node_modules, installed by `npm ci` unless there already."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    assert not missing, f"{' and '.join(missing)} not found on PATH: this test needs Node.js 20+ and npm"
    if not installed_packages_are_current():
        installed = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            env={**os.environ, "CI": "true"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert installed.returncode == 0, f"npm ci failed:\n{installed.stdout}\n{installed.stderr}"
    return NODE_MODULES


def run_round(base_url, api_key):
    """Run node/sdk_round.mjs against `base_url` as `api_key`; the JSON object it printed."""
    ran = subprocess.run(
        ["node", "sdk_round.mjs"],
        cwd=NODE_DIR,
        env={**os.environ, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": api_key},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, f"sdk_round.mjs exited with {ran.returncode}:\n{ran.stderr}\n{ran.stdout}"
    return json.loads(ran.stdout)


def test_node_sdk_round(node_packages, live_server, credential, user, fake_openai):
    seen = run_round(wire_base_url(live_server.url, credential.pk), token_of(user))

    locked = json.loads(LOCKFILE.read_text())["packages"]["node_modules/openai"]["version"]
    assert seen["sdk_version"] == locked

    store_id = seen["store"]["id"]
    assert store_id.startswith("vs_") and seen["store"]["name"] == "Node docs"
    [created] = [sent for sent in fake_openai.requests_to("POST", "/vector_stores") if sent.path == "/vector_stores"]
    assert created.json == {"name": "Node docs"}

    file = seen["file"]
    assert (file["status"], file["vector_store_id"], file["object"]) == ("completed", store_id, "vector_store.file")
    [upload] = fake_openai.requests_to("POST", "/files")
    assert upload.form == {"purpose": "assistants"} and upload.decoded_filenames == ["guide.txt"]
    assert fake_openai.get_file(file["id"])["filename"] == "guide.txt"
    assert fake_openai.get_file(file["id"])["purpose"] == "assistants"
    assert fake_openai.file_contents[file["id"]] == b"Vector stores keep chunks of text for file search."

    assert seen["search"] == {"file_ids": [file["id"]], "filenames": ["guide.txt"]}
    [search] = fake_openai.requests_to("POST", f"/vector_stores/{store_id}/search")
    assert search.json["query"] == "file search"

    assert seen["deleted"] == {"id": store_id, "deleted": True, "object": "vector_store.deleted"}
    assert store_id not in fake_openai.vector_stores
    assert file["id"] in fake_openai.files  # deleting the store keeps the File

    assert seen["not_found"] == {
        "class": "NotFoundError",
        "is_not_found_error": True,
        "is_api_error": True,
        "status": 404,
        "code": "openai_not_found",  # shared mode: OpenAI's own 404, passed on
        "type": "not_found_error",
    }
    assert len(fake_openai.requests_to("GET", "/vector_stores/vs_does_not_exist")) == 1
