from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def check_cryptography_key(app_configs, **kwargs):
    """Without CRYPTOGRAPHY_KEY the stored API keys are encrypted and signed with keys derived from SECRET_KEY."""
    # is_overridden: django_cryptography's AppConf fills in a key derived from SECRET_KEY otherwise.
    if settings.is_overridden("CRYPTOGRAPHY_KEY"):
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
