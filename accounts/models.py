"""People, organizations, their shared namespace, memberships and API tokens."""

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from .names import validate_name


class Namespace(models.Model):
    """A name owned by either one user or one organization.

    Users and organizations share this table so that one case-insensitive
    unique constraint keeps their names apart; environments belong to a
    namespace.
    """

    class Kind(models.TextChoices):
        USER = "user", "User"
        ORGANIZATION = "organization", "Organization"

    name = models.CharField(max_length=64, validators=[validate_name])
    kind = models.CharField(max_length=16, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("name"), name="namespace_name_ci_unique"),
        ]
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def is_organization(self):
        return self.kind == self.Kind.ORGANIZATION


class AtlasUserManager(UserManager):
    def get_by_natural_key(self, username):
        return self.get(username__iexact=username)


class User(AbstractUser):
    """A person. Their username is also their namespace's name."""

    username = models.CharField(
        max_length=64,
        unique=True,
        validators=[validate_name],
        help_text="1 to 64 letters, digits, '-', '_' or '.', not starting with '.'",
    )
    namespace = models.OneToOneField(
        Namespace, on_delete=models.PROTECT, related_name="user", null=True, editable=False
    )

    objects = AtlasUserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
        ]

    def save(self, *args, **kwargs):
        # The namespace is created with the user and renamed with it, in the
        # same transaction, so a user never exists without their namespace.
        with transaction.atomic():
            if self.namespace_id is None:
                self.namespace = Namespace.objects.create(
                    name=self.username, kind=Namespace.Kind.USER
                )
            elif self.namespace.name != self.username:
                self.namespace.name = self.username
                self.namespace.save(update_fields=["name"])
            super().save(*args, **kwargs)


class Organization(models.Model):
    """A team namespace whose members hold privilege levels."""

    namespace = models.OneToOneField(
        Namespace, on_delete=models.PROTECT, related_name="organization"
    )
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    members = models.ManyToManyField(User, through="Membership", related_name="organizations")

    class Meta:
        ordering = ["namespace__name"]

    def __str__(self):
        return self.name

    @property
    def name(self):
        return self.namespace.name


class Level(models.TextChoices):
    """Privilege levels in a namespace, in increasing order."""

    READ = "read", "Read"
    WRITE = "write", "Write"
    ADMIN = "admin", "Admin"


class Membership(models.Model):
    """A user's privilege level in one organization."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.READ)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique"),
        ]
        ordering = ["user__username"]

    def __str__(self):
        return f"{self.user} in {self.organization} ({self.level})"


class Token(models.Model):
    """An API token. Only a keyed digest of its secret is stored.

    The text a client sends is `<public_id>.atlasv1.<secret>`; see
    accounts.tokens for how it is made, checked and hashed.
    """

    class Kind(models.TextChoices):
        USER = "user", "User"
        RUN = "run", "Run"

    public_id = models.CharField(max_length=32, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tokens")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.USER)
    digest = models.CharField(max_length=64, editable=False)
    key_id = models.CharField(max_length=32, editable=False)
    description = models.CharField(max_length=200, blank=True)
    read_only = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # A run token may write the state of this one environment (an id, not a
    # foreign key: accounts does not depend on environments).
    scope_environment_id = models.BigIntegerField(null=True, blank=True, editable=False)
    # ... and read this one run (an id: accounts does not depend on runs).
    scope_run_id = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.public_id} ({self.user})"

    @property
    def is_revoked(self):
        return self.revoked_at is not None

    def is_expired(self, now=None):
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    @property
    def status(self):
        if self.is_revoked:
            return "revoked"
        if self.is_expired():
            return "expired"
        return "active"


class AuthFailureCount(models.Model):
    """Failed passwords or tokens of one (client address, account or token id)
    in its current window: the embedded store of accounts.throttle.

    The address and identity are kept only as a SHA-256 digest of both; the
    window's end is Unix time in seconds, so the throttle's one upsert can
    compare and reset it in SQL on SQLite and PostgreSQL alike.
    """

    digest = models.CharField(max_length=64, primary_key=True)
    failures = models.PositiveIntegerField()
    expires_at = models.FloatField(db_index=True)

    def __str__(self):
        return f"{self.failures} failures until {self.expires_at:.0f}"


class LoginCode(models.Model):
    """A `terraform login` authorization code (OAuth 2 with PKCE), single use.

    Only a SHA-256 of the code is kept, with what the token request must
    match: the client, its redirect URI and the PKCE challenge.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    client_id = models.CharField(max_length=64)
    redirect_uri = models.CharField(max_length=200)
    code_challenge = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"login code of {self.user} ({self.client_id})"
