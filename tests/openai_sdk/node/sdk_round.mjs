// OpenAI's Node SDK, unchanged, against the site's OpenAI-compatible routes: one round of vector store
// calls. Run by tests/openai_sdk/test_node_sdk.py with OPENAI_BASE_URL (<site>/api/openai/<credential>/v1)
// and OPENAI_API_KEY (the caller's DRF token) set. Writes one JSON object of what it saw to stdout; on
// anything unexpected it writes a message to stderr and exits non-zero.
import OpenAI, { toFile } from "openai";
import { VERSION } from "openai/version";

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

function describeError(err) {
  if (err instanceof OpenAI.APIError) {
    return `${err.constructor.name} (status ${err.status}): ${err.message} ${JSON.stringify(err.error ?? null)}`;
  }
  return err?.stack ?? String(err);
}

async function main() {
  const client = new OpenAI({
    baseURL: required("OPENAI_BASE_URL"),
    apiKey: required("OPENAI_API_KEY"),
    maxRetries: 0,
    timeout: 30_000,
  });

  const store = await client.vectorStores.create({ name: "Node docs" });

  const file = await client.vectorStores.files.uploadAndPoll(
    store.id,
    await toFile(Buffer.from("Vector stores keep chunks of text for file search."), "guide.txt"),
    { pollIntervalMs: 200 },
  );

  const results = [];
  for await (const result of client.vectorStores.search(store.id, { query: "file search" })) {
    results.push(result);
  }

  const deleted = await client.vectorStores.delete(store.id);

  let notFound = null;
  try {
    await client.vectorStores.retrieve("vs_does_not_exist");
  } catch (err) {
    if (!(err instanceof OpenAI.NotFoundError)) {
      throw err;
    }
    notFound = {
      class: err.constructor.name,
      is_not_found_error: err instanceof OpenAI.NotFoundError,
      is_api_error: err instanceof OpenAI.APIError,
      status: err.status,
      code: err.code,
      type: err.type,
    };
  }
  if (notFound === null) {
    throw new Error("retrieving vs_does_not_exist did not throw");
  }

  return {
    sdk_version: VERSION,
    node_version: process.version,
    store: { id: store.id, name: store.name, object: store.object },
    file: { id: file.id, status: file.status, vector_store_id: file.vector_store_id, object: file.object },
    search: {
      file_ids: results.map((result) => result.file_id),
      filenames: results.map((result) => result.filename),
    },
    deleted: { id: deleted.id, deleted: deleted.deleted, object: deleted.object },
    not_found: notFound,
  };
}

try {
  process.stdout.write(`${JSON.stringify(await main())}\n`);
} catch (err) {
  process.stderr.write(`sdk_round.mjs failed: ${describeError(err)}\n`);
  process.exitCode = 1;
}
