"""The host site's own user model, so the apps are proven against settings.AUTH_USER_MODEL."""
