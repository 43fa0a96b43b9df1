"""The credentials app's settings: one dict, OPENAI_CREDENTIALS, over these defaults.

A host site sets only the keys it wants to change; values are read on every access.
"""

from typing import Any

from django.conf import settings
from django.core import checks

DEFAULTS = {
    # Hosts a credential's base URL may name: where its API key will be sent. "example.com" is that host
    # only, ".example.com" also its subdomains (as in ALLOWED_HOSTS), "*" any host (unsafe: anyone who
    # may edit a credential could then send its key anywhere). Loopback is for tests and local servers.
    "ALLOWED_BASE_URL_HOSTS": ["api.openai.com", "localhost", "127.0.0.1", "[::1]"],
    # The ModelAdmin registered for Credential (a dotted path), so a site can swap or extend it, e.g.
    # "vectorstores.console.admin.CredentialConsoleAdmin" for the vector store console; None registers none.
    "CREDENTIAL_ADMIN_CLASS": "credentials.admin.CredentialAdmin",
}


class AppSettings:
    """One dict of Django settings (e.g. OPENAI_CREDENTIALS) over its defaults, read on every access, so
    `override_settings` works in tests. Each default is an attribute: `credential_settings.CREDENTIAL_ADMIN_CLASS`."""

    def __init__(self, setting: str, defaults: dict[str, Any]) -> None:
        self.setting = setting
        self.defaults = defaults

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


credential_settings = AppSettings("OPENAI_CREDENTIALS", DEFAULTS)
