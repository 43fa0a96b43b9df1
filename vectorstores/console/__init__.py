"""The vector store console in Django admin: a credential's vector stores, their files, uploads and search.

Routed by the credential's ModelAdmin (`Console(model_admin).urls()`), so it lives under the admin
site wherever the host mounts it, behind admin's login and the model's view/change permissions,
and with the same credential access rules as the API (`Credential.objects.get_usable`). Every call
to OpenAI goes through `vectorstores.gateway`, as the API's do; input is checked with the API's
serializers, so the console accepts exactly what the API accepts.
"""
