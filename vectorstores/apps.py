from django.apps import AppConfig


class VectorStoresConfig(AppConfig):
    name = "vectorstores"
    verbose_name = "OpenAI vector stores"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_delete

        from credentials.models import Credential

        from . import checks  # noqa: F401  (registers the system checks)
        from .gateway.client import forget_deleted_credential

        post_delete.connect(forget_deleted_credential, sender=Credential, dispatch_uid="vectorstores.forget_client")
