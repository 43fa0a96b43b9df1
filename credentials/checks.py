from django.conf import settings
from django.core import checks

from .fields import derive_key


@checks.register(checks.Tags.security)
def check_cryptography_key(app_configs, **kwargs):
    """Without CRYPTOGRAPHY_KEY the stored API keys are encrypted and signed with keys derived from SECRET_KEY."""
    # django_cryptography replaces CRYPTOGRAPHY_KEY with the key it derives, from SECRET_KEY when the
    # setting is missing, None or "": compare with that, whatever the settings module wrote.
    if settings.CRYPTOGRAPHY_KEY != derive_key(settings.SECRET_KEY):
        return []
    return [
        checks.Warning(
            "CRYPTOGRAPHY_KEY is not set, so stored OpenAI API keys are encrypted with a key derived from SECRET_KEY.",
            hint=(
                "Set CRYPTOGRAPHY_KEY so that rotating SECRET_KEY never makes stored keys unreadable, then run "
                "manage.py rotate_credentials_key with OLD_CRYPTOGRAPHY_KEY set to the current SECRET_KEY to "
                "re-encrypt the keys already stored."
            ),
            id="credentials.W001",
        )
    ]
