"""OpenAI-style errors and the request validation the fake performs.

Only the constraints listed in the spec README are enforced; messages follow the wording
OpenAI uses so that client code parsing them sees realistic text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_CHUNKING = {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}


class ApiError(Exception):
    """Raised by handlers; turned into an OpenAI error response by the server."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def invalid(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def check_known_fields(body: Mapping[str, Any], allowed: set[str], required: tuple[str, ...] = ()) -> None:
    for name in body:
        if name not in allowed:
            raise invalid(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    for name in required:
        if body.get(name) is None:
            raise invalid(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")


def check_type(value: Any, param: str, expected: type | tuple[type, ...], label: str, nullable: bool = False) -> None:
    # bool is an int subclass, but OpenAI rejects true/false where a number is expected.
    wrong_bool = isinstance(value, bool) and bool not in (expected if isinstance(expected, tuple) else (expected,))
    if (value is None and not nullable) or (value is not None and (wrong_bool or not isinstance(value, expected))):
        raise invalid(f"Invalid type for '{param}': expected {label}.", param, "invalid_type")


def check_int_range(value: Any, param: str, low: int, high: int) -> int:
    check_type(value, param, int, "an integer")
    if not low <= value <= high:
        raise invalid(
            f"Invalid '{param}': expected a value between {low} and {high}, got {value}.", param, "integer_out_of_range"
        )
    return value


def _check_map(value: Any, param: str, value_types: tuple[type, ...], label: str) -> None:
    check_type(value, param, dict, "an object", nullable=True)
    if value is None:
        return
    if len(value) > 16:
        raise invalid(
            f"Invalid '{param}': too many properties. Expected an object with at most 16 properties, "
            f"but got an object with {len(value)} properties instead.",
            param,
            "object_above_max_properties",
        )
    for key, item in value.items():
        if len(key) > 64:
            raise invalid(
                f"Invalid '{param}': key '{key[:20]}...' is longer than 64 characters.",
                param,
                "string_above_max_length",
            )
        check_type(item, f"{param}.{key}", value_types, label)
        if isinstance(item, str) and len(item) > 512:
            raise invalid(
                f"Invalid '{param}.{key}': string too long. Expected a string with maximum length 512, "
                f"but got a string with length {len(item)} instead.",
                f"{param}.{key}",
                "string_above_max_length",
            )


def check_metadata(value: Any, param: str = "metadata") -> None:
    _check_map(value, param, (str,), "a string")


def check_attributes(value: Any, param: str = "attributes") -> None:
    _check_map(value, param, (str, int, float, bool), "a string, number or boolean")


def check_array(value: Any, param: str, low: int, high: int) -> list:
    check_type(value, param, list, "an array")
    if not low <= len(value) <= high:
        raise invalid(
            f"Invalid '{param}': expected between {low} and {high} items, got {len(value)}.",
            param,
            "array_out_of_range",
        )
    return value


def check_file_ids(value: Any, param: str, low: int, high: int) -> list[str]:
    check_array(value, param, low, high)
    for index, file_id in enumerate(value):
        check_type(file_id, f"{param}[{index}]", str, "a string")
    return value


def normalize_chunking_strategy(value: Any, param: str = "chunking_strategy") -> dict:
    """Validate a request chunking strategy and return the response form (auto means 800/400)."""
    if value is None:
        return DEFAULT_CHUNKING
    check_type(value, param, dict, "an object")
    if value.get("type") == "auto" and set(value) == {"type"}:
        return DEFAULT_CHUNKING
    static = value.get("static")
    if value.get("type") != "static" or set(value) != {"type", "static"} or not isinstance(static, dict):
        raise invalid(
            f"Invalid '{param}': expected {{'type': 'auto'}} or {{'type': 'static', 'static': {{...}}}}.",
            param,
            "invalid_value",
        )
    check_known_fields(
        static,
        {"max_chunk_size_tokens", "chunk_overlap_tokens"},
        required=("max_chunk_size_tokens", "chunk_overlap_tokens"),
    )
    size = check_int_range(static["max_chunk_size_tokens"], f"{param}.static.max_chunk_size_tokens", 100, 4096)
    overlap = check_int_range(static["chunk_overlap_tokens"], f"{param}.static.chunk_overlap_tokens", 0, size // 2)
    return {"type": "static", "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap}}


def check_expires_after(value: Any, param: str = "expires_after", nullable: bool = False) -> None:
    check_type(value, param, dict, "an object", nullable=nullable)
    if value is None:
        return
    check_known_fields(value, {"anchor", "days"}, required=("anchor", "days"))
    if value["anchor"] != "last_active_at":
        raise invalid(f"Invalid '{param}.anchor': expected 'last_active_at'.", f"{param}.anchor", "invalid_value")
    check_int_range(value["days"], f"{param}.days", 1, 365)


def query_int(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    if name not in query:
        return default
    try:
        value = int(query[name])
    except ValueError:
        raise invalid(f"Invalid '{name}': expected an integer, got '{query[name]}'.", name, "invalid_type") from None
    return check_int_range(value, name, low, high)


def query_choice(query: Mapping[str, str], name: str, choices: tuple[str, ...], default: str | None) -> str | None:
    value = query.get(name, default)
    if value is not None and value not in choices:
        raise invalid(
            f"Invalid value for '{name}': expected one of {', '.join(choices)}, got '{value}'.", name, "invalid_value"
        )
    return value
