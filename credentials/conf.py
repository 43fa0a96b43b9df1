"""The credentials app's settings: one dict, OPENAI_CREDENTIALS, over these defaults.

A host site sets only the keys it wants to change; values are read on every access.
"""
from django.conf import settings

DEFAULTS = {
    # Hosts a credential's base URL may name: where its API key will be sent. "example.com" is that host
    # only, ".example.com" also its subdomains (as in ALLOWED_HOSTS), "*" any host (unsafe: anyone who
    # may edit a credential could then send its key anywhere). Loopback is for tests and local servers.
    "ALLOWED_BASE_URL_HOSTS": ["api.openai.com", "localhost", "127.0.0.1", "[::1]"],
    # The ModelAdmin registered for Credential (a dotted path), so a site can swap or extend it, e.g.
    # "vectorstores.console.admin.CredentialConsoleAdmin" for the vector store console; None registers none.
    "CREDENTIAL_ADMIN_CLASS": "credentials.admin.CredentialAdmin",
}


class CredentialSettings:
    def __getattr__(self, name):
        if name not in DEFAULTS:
            raise AttributeError(f"OPENAI_CREDENTIALS has no setting {name!r}")
        return getattr(settings, "OPENAI_CREDENTIALS", {}).get(name, DEFAULTS[name])


credential_settings = CredentialSettings()
