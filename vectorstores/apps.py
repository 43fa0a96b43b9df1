from django.apps import AppConfig


class VectorStoresConfig(AppConfig):
    name = "vectorstores"
    verbose_name = "OpenAI vector stores"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
