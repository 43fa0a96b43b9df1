"""A stateful, real-HTTP fake of OpenAI's Vector Stores + Files API for tests (stdlib only)."""

from .server import FakeOpenAI, RecordedRequest

__all__ = ["FakeOpenAI", "RecordedRequest"]
