"""A stateful, real-HTTP fake of OpenAI's Vector Stores + Files API for tests (stdlib only).

The supported names are re-exported by `vectorstores.testing`; import them from there.
"""

from .server import FAKE_API_KEY, FakeOpenAI, FakeOpenAIHandler, RecordedRequest

__all__ = ["FAKE_API_KEY", "FakeOpenAI", "FakeOpenAIHandler", "RecordedRequest"]
