from django.conf import settings
from django.core import checks

from .conf import DEFAULTS


@checks.register()
def check_app_settings(app_configs, **kwargs):
    """A misspelt key would otherwise be ignored silently."""
    unknown = sorted(set(getattr(settings, "OPENAI_VECTOR_STORES", {})) - set(DEFAULTS))
    return [
        checks.Error(
            f"OPENAI_VECTOR_STORES has an unknown key {key!r}.",
            hint=f"Known keys: {', '.join(DEFAULTS)}.",
            id="vectorstores.E001",
        )
        for key in unknown
    ]
