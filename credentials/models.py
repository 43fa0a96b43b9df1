import functools
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections, models
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from .encryption import SIGNATURE
from .endpoints import base_url_problem, endpoint_url, validate_base_url, validate_header_value
from .fields import TolerantEncryptedCharField, UnreadableSecret
from .rows import fetch_instance

logger = logging.getLogger(__name__)

# last_used_at is bookkeeping, not an audit log: one write a minute per credential is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Where and as whom the key is sent: changing any of them needs the key typed again.
ENDPOINT_FIELDS = ("base_url", "organization", "project")


class EndpointChangeNeedsKey(ValidationError):
    MESSAGE = (
        "Type the API key again to change the base URL, organization or project: "
        "the stored key is never sent to a new endpoint."
    )

    def __init__(self):
        super().__init__({"api_key": [self.MESSAGE]}, code="endpoint_change_needs_key")


class CredentialQuerySet(models.QuerySet):
    def usable_by(self, user):
        """The credentials `user` may use through the API: all for a superuser, else by membership."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(Q(users=user) | Q(groups__user=user)).distinct()


class CredentialManager(models.Manager.from_queryset(CredentialQuerySet)):
    def get_usable(self, user, pk, also=()):
        """The credential `pk` if `user` may use it (the rule of usable_by), else None.

        Every API call asks this. The ORM would spend more CPU building the query than the database
        spends running it, so the SQL is written once per database and kept (see _usable_sql).
        `also`: (attribute, SQL expression, params) to compute in the same query and set on the
        credential, e.g. a check of the app that uses it; `{credential}` in the SQL names the
        credential's primary key column.
        """
        if not (user.is_authenticated and user.is_active):
            return None
        if user.is_superuser:  # all: no membership to look up
            extra = {name: RawSQL(_with_credential(sql, self.db), params) for name, sql, params in also}
            return self.filter(pk=pk).annotate(**extra).first()
        connection = connections[self.db]
        user_pk = user._meta.pk.get_db_prep_value(user.pk, connection)
        select, where = _usable_sql(self.db)
        extra_columns = "".join(f", ({_with_credential(sql, self.db)}) AS {name}" for name, sql, _ in also)
        params = [param for _, _, extra_params in also for param in extra_params]
        params += [self.model._meta.pk.get_db_prep_value(pk, connection), user_pk, user_pk]
        extra_names = [name for name, _, _ in also]
        return fetch_instance(self.model, self.db, select + extra_columns + where, params, extra_names)


@functools.lru_cache(maxsize=64)  # the same few SQL snippets on every API call
def _with_credential(sql, alias):
    quote = connections[alias].ops.quote_name
    return sql.format(credential=f"{quote(Credential._meta.db_table)}.{quote(Credential._meta.pk.column)}")


@functools.cache
def _usable_sql(alias):
    """SELECT the credential %s if the user %s is among its users or the user %s in one of its groups
    (the columns and the rest, so that more columns can go between)."""
    quote = connections[alias].ops.quote_name
    credential_fields = Credential._meta
    users, groups = credential_fields.get_field("users"), credential_fields.get_field("groups")
    user_groups = users.related_model._meta.get_field("groups")
    table, pk = quote(credential_fields.db_table), quote(credential_fields.pk.column)
    columns = ", ".join(f"{table}.{quote(field.column)}" for field in credential_fields.concrete_fields)
    return f"SELECT {columns}", (
        f" FROM {table} WHERE {table}.{pk} = %s AND ("
        f"EXISTS (SELECT 1 FROM {quote(users.m2m_db_table())} cu"
        f" WHERE cu.{quote(users.m2m_column_name())} = {table}.{pk} AND cu.{quote(users.m2m_reverse_name())} = %s)"
        f" OR EXISTS (SELECT 1 FROM {quote(groups.m2m_db_table())} cg"
        f" INNER JOIN {quote(user_groups.m2m_db_table())} ug"
        f" ON ug.{quote(user_groups.m2m_reverse_name())} = cg.{quote(groups.m2m_reverse_name())}"
        f" WHERE cg.{quote(groups.m2m_column_name())} = {table}.{pk}"
        f" AND ug.{quote(user_groups.m2m_column_name())} = %s))"
    )


class AccessMode(models.TextChoices):
    SHARED = "shared", "Shared: everyone who may use the credential reaches every vector store of its key"
    OWNED = "owned", "Owned: each user reaches the stores they own or that are shared with a group of theirs"


class Credential(models.Model):
    """An OpenAI API key, encrypted at rest, who may use it, and how they share what they make with it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    # Encrypted at rest under CRYPTOGRAPHY_KEYS (credentials/encryption.py); a value the site's keys cannot
    # decrypt loads as an UnreadableSecret instead of failing the whole query: see api_key_readable.
    api_key = TolerantEncryptedCharField(max_length=500, help_text="Write-only: the stored key is never shown.")
    base_url = models.URLField(
        "base URL",
        blank=True,
        validators=[validate_base_url],
        help_text="Leave blank for OpenAI's API (https://api.openai.com/v1). Set it for Azure OpenAI or any "
        "OpenAI-compatible server whose host the site allows (OPENAI_CREDENTIALS['ALLOWED_BASE_URL_HOSTS']).",
    )
    organization = models.CharField(
        max_length=200, blank=True, validators=[validate_header_value], help_text="Optional OpenAI-Organization header."
    )
    project = models.CharField(
        max_length=200, blank=True, validators=[validate_header_value], help_text="Optional OpenAI-Project header."
    )
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="openai_credentials",
        help_text="Users who may use this credential through the API.",
    )
    groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="openai_credentials",
        help_text="Members of these groups may use this credential through the API.",
    )
    # Read by the apps that use the key (vectorstores: who reaches which store); `owned` for new credentials.
    access_mode = models.CharField(
        max_length=8,
        choices=AccessMode.choices,
        default=AccessMode.OWNED,
        help_text="Superusers and users with the “manage all vector stores” permission reach every store in "
        "either mode.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = CredentialManager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def __repr__(self):
        return f"<Credential {self.pk} {self.name!r}>"

    def __setattr__(self, name, value):
        # A key assigned after loading is a key given again: it allows a change of endpoint in the same
        # save (see save()). The admin form leaves the attribute alone when its key field is blank.
        if name == "api_key" and "_loaded_endpoint" in self.__dict__:
            self.__dict__["_key_typed"] = True
        super().__setattr__(name, value)

    def save(self, *args, **kwargs):
        # Every path that changes where (or as whom) the key is sent must carry the key itself, so
        # that nobody can redirect a key they never knew.
        if not self._state.adding and self.endpoint_changed() and not self.__dict__.get("_key_typed"):
            raise EndpointChangeNeedsKey()
        super().save(*args, **kwargs)
        self._remember_endpoint()

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self._remember_endpoint()

    def _remember_endpoint(self):
        self.__dict__["_loaded_endpoint"] = {
            name: self.__dict__[name] for name in ENDPOINT_FIELDS if name in self.__dict__
        }
        self.__dict__["_key_typed"] = False

    def endpoint_changed(self):
        """Whether base_url, organization or project differ from what was loaded."""
        loaded = self.__dict__.get("_loaded_endpoint", {})
        return any(self.__dict__.get(name, value) != value for name, value in loaded.items())

    @property
    def endpoint(self):
        """The URL the key is sent to."""
        return endpoint_url(self.base_url)

    @classmethod
    def from_db(cls, db, field_names, values, **kwargs):
        # **kwargs: Django 6.1 passes fetch_mode=, and deprecates overrides that do not accept it.
        credential = super().from_db(db, field_names, values, **kwargs)
        credential._remember_endpoint()
        stored = credential.__dict__.get("api_key")  # without loading a deferred api_key
        if isinstance(stored, UnreadableSecret):
            cause = (
                "no key of this site verifies its signature (is the key it was stored under missing from "
                "CRYPTOGRAPHY_KEYS? or, for a key stored in the older SECRET_KEY-signed format, did SECRET_KEY "
                "change?)"
                if stored.reason == SIGNATURE
                else "no key of CRYPTOGRAPHY_KEYS decrypts it (is the key it was stored under missing?)"
            )
            logger.warning(
                "Credential %s: the stored API key cannot be decrypted: %s. Add the old key to "
                "CRYPTOGRAPHY_KEYS and run manage.py rotate_credentials_key, or enter the key again in admin.",
                credential.pk,
                cause,
            )
        return credential

    @property
    def endpoint_allowed(self):
        """False when the site's allow-list no longer admits the base URL: the key is then sent nowhere."""
        return base_url_problem(self.base_url) is None

    @property
    def api_key_readable(self):
        """False when the stored key cannot be decrypted with the server's keys (they changed)."""
        return not isinstance(self.api_key, UnreadableSecret)

    @property
    def masked_api_key(self):
        """Enough of the key to recognise it (`sk-…a1b2`), never enough to use it."""
        if not self.api_key_readable:
            return "⚠ unreadable"
        key = self.api_key or ""
        if len(key) < 12:
            return "…"
        prefix = "sk-" if key.startswith("sk-") else ""
        return f"{prefix}…{key[-4:]}"

    def clean_fields(self, exclude=None):
        # An unreadable stored key is kept as it is (it reads as ""): there is nothing to validate.
        if isinstance(self.__dict__.get("api_key"), UnreadableSecret):
            exclude = {*(exclude or ()), "api_key"}
        super().clean_fields(exclude=exclude)

    def may_be_used_by(self, user):
        """Whether `user` may use this credential (the rule of usable_by)."""
        return Credential.objects.usable_by(user).filter(pk=self.pk).exists()

    def allowed_users(self):
        """The active users who may use this credential: usable_by's rule seen from the users (its users, the
        members of its groups, and superusers)."""
        user_model = self.users.model
        may_use = Q(is_superuser=True) | Q(openai_credentials=self) | Q(groups__openai_credentials=self)
        return user_model.objects.filter(may_use, is_active=True).distinct()

    def mark_used(self):
        """Record a use, writing at most once per LAST_USED_RESOLUTION."""
        now = timezone.now()
        if self.last_used_at and now - self.last_used_at < LAST_USED_RESOLUTION:
            return
        # The filter makes concurrent requests of other workers skip the write too.
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        try:
            Credential.objects.filter(stale, pk=self.pk).update(last_used_at=now)
        except DatabaseError:  # bookkeeping: never the reason a call fails
            logger.warning("Could not record the use of credential %s", self.pk, exc_info=True)
            return
        self.last_used_at = now
