"""What the console's pages show of OpenAI's objects: rows for vector stores and files, and their sorting."""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..gateway import GatewayError, OpenAINotFound

# A vector store file's statuses, in the order the stacked bar shows them.
FILE_STATUSES = [
    ("completed", "completed"),
    ("in_progress", "in progress"),
    ("failed", "failed"),
    ("cancelled", "cancelled"),
]


def timestamp(value):
    """OpenAI's Unix seconds as an aware datetime (None when absent or not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _number(value, default, kinds=int):
    """`value` if OpenAI sent a number of these kinds (a JSON true is no number), else `default`."""
    return value if isinstance(value, kinds) and not isinstance(value, bool) else default


# The most bytes (or files) a count of OpenAI's can mean: beyond it, the number is no count (and Django's
# filesizeformat, which takes a float, would overflow).
MAX_COUNT = 2**63 - 1


def _byte_count(value, default=0):
    """`value` if OpenAI sent a count (a whole number from 0 to MAX_COUNT), else `default`."""
    value = _number(value, None)
    return value if value is not None and 0 <= value <= MAX_COUNT else default


def _text(value):
    """`value` if OpenAI sent text, else "" (a name or id of another type is shown as none)."""
    return value if isinstance(value, str) else ""


def _list(value):
    return value if isinstance(value, list) else []


def _count(counts, name):
    return _byte_count(counts.get(name) if isinstance(counts, dict) else None)


@dataclass
class FileCounts:
    segments: list  # (status, label, count, percent) of the statuses with files
    total: int

    @classmethod
    def of(cls, counts):
        numbers = [(status, label, _count(counts, status)) for status, label in FILE_STATUSES]
        total = sum(number for _, _, number in numbers)
        segments = [
            (status, label, number, round(100 * number / total, 2)) for status, label, number in numbers if number
        ]
        return cls(segments, total)

    def count(self, status):
        """The number of files with `status` (one of FILE_STATUSES)."""
        return sum(number for name, _, number, _ in self.segments if name == status)

    @property
    def summary(self):
        if not self.total:
            return "No files"
        return ", ".join(f"{count} {label}" for _, label, count, _ in self.segments)


@dataclass
class StoreRow:
    id: str
    name: str
    status: str
    files: FileCounts
    usage_bytes: int
    created_at: datetime | None
    last_active_at: datetime | None
    expires_at: datetime | None
    expiry_days: int | None
    metadata: dict = field(default_factory=dict)
    record: object = None  # the site's StoreRecord of the store (its owner and group), if it has one

    @classmethod
    def of(cls, store):
        expires_after = store.get("expires_after") if isinstance(store.get("expires_after"), dict) else {}
        metadata = store.get("metadata")
        return cls(
            id=store["id"],
            name=_text(store.get("name")),
            status=str(store.get("status") or ""),
            files=FileCounts.of(store.get("file_counts")),
            usage_bytes=_byte_count(store.get("usage_bytes")),
            created_at=timestamp(store.get("created_at")),
            last_active_at=timestamp(store.get("last_active_at")),
            expires_at=timestamp(store.get("expires_at")),
            expiry_days=_number(expires_after.get("days"), None),
            metadata=metadata if isinstance(metadata, dict) else {},
        )

    @property
    def label(self):
        return f"{self.id} '{self.name}'" if self.name else self.id


@dataclass(frozen=True)
class Column:
    label: str  # the header
    key: object  # a row's sort key (rows whose key is None sort last either way)
    phrase: str  # "Sorted by <phrase>" in the note of a full fetch


# The list's sortable columns, by query value.
STORE_COLUMNS = {
    "name": Column("Name", lambda row: (row.name.casefold(), row.id), "name"),
    "id": Column("ID", lambda row: row.id, "ID"),
    "status": Column("Status", lambda row: row.status, "status"),
    "files": Column("Files", lambda row: row.files.total, "files"),
    "size": Column("Size", lambda row: row.usage_bytes, "size"),
    "created": Column("Created", lambda row: row.created_at, "creation"),
    "last_active": Column("Last active", lambda row: row.last_active_at, "last activity"),
    "expires": Column("Expires", lambda row: row.expires_at, "expiry"),
}
DEFAULT_STORE_ORDER = "-created"
# The columns OpenAI itself orders a list by (`order=asc|desc`, by created_at), so the console pages
# through OpenAI with cursors; any other order needs every store, fetched then sorted here.
UPSTREAM_ORDERS = {"created"}


def store_order(order):
    """`order` (e.g. "name" or "-created") if it names a column, else the default."""
    name = order.lstrip("-")
    if name not in STORE_COLUMNS or order.count("-") > 1:
        return DEFAULT_STORE_ORDER
    return order


def upstream_order(order):
    """OpenAI's `order` ("asc" or "desc") for a console order it can list by itself, else None."""
    if order.lstrip("-") not in UPSTREAM_ORDERS:
        return None
    return "desc" if order.startswith("-") else "asc"


def sort_rows(rows, order):
    """(`rows` sorted by `order`, e.g. "name" or "-created", and the order applied: unknown ones fall back
    to the default)."""
    order = store_order(order)
    key = STORE_COLUMNS[order.lstrip("-")].key
    present = [row for row in rows if key(row) is not None]
    missing = [row for row in rows if key(row) is None]
    return sorted(present, key=key, reverse=order.startswith("-")) + missing, order


@dataclass
class FileRow:
    id: str
    status: str
    usage_bytes: int
    created_at: datetime | None
    last_error: str
    file: dict | None  # the OpenAI File object, when it could be read
    file_error: str  # why it could not be read
    url: str = ""  # the file's page in the console

    @classmethod
    def of(cls, vs_file, found):
        error = vs_file.get("last_error") if isinstance(vs_file.get("last_error"), dict) else None
        last_error = ""
        if error:
            last_error = str(error.get("message") or error.get("code") or "")
        file = found if isinstance(found, dict) else None
        if isinstance(found, GatewayError):
            file_error = "Not found among the OpenAI files." if isinstance(found, OpenAINotFound) else str(found)
        else:
            file_error = ""
        return cls(
            id=vs_file["id"],
            status=str(vs_file.get("status") or ""),
            usage_bytes=_byte_count(vs_file.get("usage_bytes")),
            created_at=timestamp(vs_file.get("created_at")),
            last_error=last_error,
            file=file,
            file_error=file_error,
        )

    @property
    def filename(self):
        return str(self.file.get("filename") or "") if self.file else ""

    @property
    def size(self):
        return _byte_count(self.file.get("bytes"), None) if self.file else None


# A file batch's statuses once OpenAI is done with it (in_progress is the only other).
FINAL_BATCH_STATUSES = {"completed", "cancelled", "failed"}


def _label(status):
    return str(status or "unknown").replace("_", " ")


@dataclass
class BatchRow:
    """A file batch: its status and its files by status."""

    id: str
    status: str
    files: FileCounts
    created_at: datetime | None

    @classmethod
    def of(cls, batch):
        return cls(
            id=batch["id"],
            status=str(batch.get("status") or ""),
            files=FileCounts.of(batch.get("file_counts")),
            created_at=timestamp(batch.get("created_at")),
        )

    @property
    def final(self):
        return self.status in FINAL_BATCH_STATUSES

    @property
    def processed(self):
        return self.files.total - self.files.count("in_progress")

    @property
    def status_text(self):
        """What the page (and its live region) says of the batch, e.g. "In progress: 1 of 3 files processed
        (1 completed, 2 in progress)."."""
        label = _label(self.status)
        return (
            f"{label[:1].upper()}{label[1:]}: {self.processed} of {self.files.total} "
            f"file{'' if self.files.total == 1 else 's'} processed ({self.files.summary.lower()})."
        )


def describe_chunking(strategy):
    """A vector store file's chunking strategy in words."""
    if not isinstance(strategy, dict):
        return ""
    static = strategy.get("static") if isinstance(strategy.get("static"), dict) else None
    if strategy.get("type") == "static" and static:
        return (
            f"Static: chunks of up to {static.get('max_chunk_size_tokens')} tokens, "
            f"{static.get('chunk_overlap_tokens')} tokens of overlap"
        )
    if strategy.get("type") == "auto":
        return "Auto"
    return str(strategy.get("type") or "")


@dataclass
class Attribute:
    key: str
    value: object

    @property
    def kind(self):
        if isinstance(self.value, bool):
            return "true/false"
        return "number" if isinstance(self.value, (int, float)) else "text"

    @property
    def text(self):
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        return str(self.value)


@dataclass
class FileDetail:
    """A vector store file's page: its row, and what only the page shows."""

    row: FileRow
    error_code: str
    error_message: str
    chunking: str
    attributes: list  # of Attribute

    @classmethod
    def of(cls, vs_file, row):
        """The page of `vs_file`, whose row (`FileRow`, with its File) is `row`."""
        error = vs_file.get("last_error") if isinstance(vs_file.get("last_error"), dict) else {}
        attributes = vs_file.get("attributes") if isinstance(vs_file.get("attributes"), dict) else {}
        return cls(
            row=row,
            error_code=str(error.get("code") or ""),
            error_message=str(error.get("message") or ""),
            chunking=describe_chunking(vs_file.get("chunking_strategy")),
            attributes=[Attribute(key, value) for key, value in attributes.items()],
        )


@dataclass
class FileContent:
    """The text OpenAI indexed of a file: its pieces, and whether there was more than was read."""

    blocks: list
    truncated: bool

    @classmethod
    def of(cls, content):
        data = content.page.get("data") if isinstance(content.page.get("data"), list) else []
        blocks = [part["text"] for part in data if isinstance(part, dict) and isinstance(part.get("text"), str)]
        return cls(blocks, content.next_page is not None)


def search_results(page, names):
    """OpenAI's search results page as rows: rank, file, score and the text snippets."""
    rows = []
    for rank, result in enumerate(_list(page.get("data")), start=1):
        if not isinstance(result, dict):
            continue
        texts = [
            part.get("text")
            for part in _list(result.get("content"))
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        score = result.get("score")
        attributes = result.get("attributes") if isinstance(result.get("attributes"), dict) else {}
        rows.append(
            {
                "rank": rank,
                "file_id": _text(result.get("file_id")),
                "filename": _text(result.get("filename")) or names.get(_text(result.get("file_id")), ""),
                "score": _number(score, None, (int, float)),
                "snippets": texts,
                "attributes": [Attribute(key, value) for key, value in attributes.items()],
            }
        )
    return rows
