from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError

from .conf import credential_settings
from .encryption import configured_keys, keys_are_configured


@checks.register(checks.Tags.security)
def check_cryptography_keys(app_configs, **kwargs):
    """The stored API keys need keys of their own: not SECRET_KEY, and a well-formed list."""
    try:
        configured_keys()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="credentials.E001")]
    if keys_are_configured():
        return []
    return [
        checks.Warning(
            "CRYPTOGRAPHY_KEYS is not set, so stored OpenAI API keys are encrypted with a key derived from SECRET_KEY.",
            hint=(
                "Set CRYPTOGRAPHY_KEYS = [<a new key>, SECRET_KEY] so that rotating SECRET_KEY never makes stored "
                "keys unreadable, run manage.py rotate_credentials_key, then drop SECRET_KEY from the list."
            ),
            id="credentials.W001",
        )
    ]


@checks.register()
def check_credential_settings(app_configs, **kwargs):
    return credential_settings.unknown_keys_check("credentials.E002") + credential_settings.invalid_values_check(
        "credentials.E004"
    )


@checks.register(checks.Tags.database)
def check_stored_base_urls(app_configs, databases=None, **kwargs):
    """Credentials whose base URL the allow-list no longer admits. A warning, not an error: their keys are
    not sent (the API answers 503), and narrowing the allow-list must not stop the next `migrate`.

    A database check: run by `migrate` and by `check --database <the alias that holds credentials>`.
    """
    from .endpoints import base_url_problem
    from .models import Credential

    if not credential_settings.is_valid("ALLOWED_BASE_URL_HOSTS"):
        return []  # credentials.E004 says so
    errors = []
    for alias in databases or ():
        try:
            rows = list(Credential.objects.using(alias).exclude(base_url="").values_list("pk", "name", "base_url"))
        except DatabaseError:  # not migrated yet: nothing stored to check
            continue
        errors += [
            checks.Warning(
                f"Credential {name!r} ({pk}) has a base URL this site does not send keys to: {problem}",
                hint="Change its base URL (typing its key again), or allow the host in "
                "OPENAI_CREDENTIALS['ALLOWED_BASE_URL_HOSTS'].",
                id="credentials.W003",
            )
            for pk, name, base_url in rows
            if (problem := base_url_problem(base_url))
        ]
    return errors
