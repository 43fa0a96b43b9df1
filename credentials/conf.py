"""The credentials app's settings: one dict, OPENAI_CREDENTIALS, over these defaults.

A host site sets only the keys it wants to change; values are read on every access.
"""

import math
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

DEFAULTS = {
    # Hosts a credential's base URL may name: where its API key will be sent. "example.com" is that host
    # only, ".example.com" also its subdomains (as in ALLOWED_HOSTS), "*" any host (unsafe: anyone who
    # may edit a credential could then send its key anywhere). Loopback is for tests and local servers.
    "ALLOWED_BASE_URL_HOSTS": ["api.openai.com", "localhost", "127.0.0.1", "[::1]"],
    # The ModelAdmin registered for Credential (a dotted path), so a site can swap or extend it, e.g.
    # "vectorstores.console.admin.CredentialConsoleAdmin" for the vector store console; None registers none.
    "CREDENTIAL_ADMIN_CLASS": "credentials.admin.CredentialAdmin",
}


# What a setting's value must be: each takes a value and returns None when it is one, else what it must be.
Kind = Callable[[Any], str | None]


def whole_number(minimum: int) -> Kind:
    def check(value: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
            return None
        return f"a whole number of at least {minimum}"

    return check


def positive_number(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf:
        return None
    return "a number of seconds above 0"


def list_of_text(value: Any) -> str | None:
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return None
    return "a list of strings"


def dotted_paths(value: Any) -> str | None:
    if list_of_text(value) is None and all(dotted_path(item) is None for item in value):
        return None
    return "a list of dotted paths to classes this site can import"


def dotted_path(value: Any) -> str | None:
    if isinstance(value, str):
        with suppress(ImportError):  # import_string's error for any path it cannot import
            import_string(value)
            return None
    return "a dotted path to a class this site can import"


def or_none(kind: Kind) -> Kind:
    def check(value: Any) -> str | None:
        problem = None if value is None else kind(value)
        return problem and f"{problem}, or None"

    return check


class AppSettings:
    """One dict of Django settings (e.g. OPENAI_CREDENTIALS) over its defaults, read on every access, so
    `override_settings` works in tests. Each default is an attribute: `credential_settings.CREDENTIAL_ADMIN_CLASS`.
    `kinds`: what each key's value must be (see Kind), checked by `invalid_values_check`."""

    def __init__(self, setting: str, defaults: dict[str, Any], kinds: dict[str, Kind] | None = None) -> None:
        self.setting = setting
        self.defaults = defaults
        self.kinds = kinds or {}

    def is_valid(self, name: str) -> bool:
        """Whether the key's value is of its kind (a check that reads it can skip it if not: it is reported)."""
        kind = self.kinds.get(name)
        return kind is None or kind(getattr(self, name)) is None

    def __getattr__(self, name: str) -> Any:
        if name not in self.defaults:
            raise AttributeError(f"{self.setting} has no setting {name!r}")
        return self.configured().get(name, self.defaults[name])

    def configured(self) -> dict[str, Any]:
        return getattr(settings, self.setting, {})

    def unknown_keys_check(self, check_id: str) -> list[checks.CheckMessage]:
        """A system check error for each key the site sets that has no default: a misspelt key would be ignored."""
        return [
            checks.Error(
                f"{self.setting} has an unknown key {key!r}.",
                hint=f"Known keys: {', '.join(self.defaults)}.",
                id=check_id,
            )
            for key in sorted(set(self.configured()) - set(self.defaults))
        ]

    def invalid_values_check(self, check_id: str) -> list[checks.CheckMessage]:
        """A system check error for each key the site sets to a value not of its kind: it would fail requests."""
        configured = self.configured()
        return [
            checks.Error(f"{self.setting}[{key!r}] must be {problem}, not {configured[key]!r}.", id=check_id)
            for key, kind in self.kinds.items()
            if key in configured and (problem := kind(configured[key]))
        ]


KINDS = {"ALLOWED_BASE_URL_HOSTS": list_of_text, "CREDENTIAL_ADMIN_CLASS": or_none(dotted_path)}

credential_settings = AppSettings("OPENAI_CREDENTIALS", DEFAULTS, KINDS)
