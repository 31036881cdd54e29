"""People, organizations, their shared namespace, memberships, teams,
environment grants, invitations and API tokens."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models, transaction
from django.db.models import Q
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
    """A namespace shared by its members, who hold privilege levels."""

    namespace = models.OneToOneField(
        Namespace, on_delete=models.PROTECT, related_name="organization"
    )
    email = models.EmailField(blank=True)
    # Members without two-factor sign-in find the organization closed in the
    # web UI (their API tokens keep working).
    require_two_factor = models.BooleanField(default=False)
    # The execution mode of its new environments (environments.ExecutionMode).
    default_execution_mode = models.CharField(
        max_length=8,
        default="remote",
        choices=[("remote", "Remote: runs on this server's workers"), ("local", "Local")],
        help_text="Where terraform plan and apply of the TFE door run, for new environments.",
    )
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


class MemberLevel(models.TextChoices):
    """A member's default level on every environment of their organization.

    `none` leaves them only what their teams and their own grants give;
    `admin` is the owners team.
    """

    NONE = "none", "None"
    READ = "read", "Read"
    WRITE = "write", "Write"
    ADMIN = "admin", "Admin"


class Membership(models.Model):
    """A user's default privilege level in one organization."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    level = models.CharField(max_length=8, choices=MemberLevel.choices, default=MemberLevel.READ)
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


class Team(models.Model):
    """A named group of an organization's members, granted access to environments.

    Every organization has one owners team. Its members are the members whose
    level is admin (it has no rows of its own), so it can never be emptied:
    the last admin can be neither demoted nor removed.
    """

    OWNERS = "owners"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=64, validators=[validate_name])
    owners = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    members = models.ManyToManyField(User, through="TeamMembership", related_name="teams")

    class Meta:
        constraints = [
            models.UniqueConstraint("organization", Lower("name"), name="team_name_ci_unique"),
            models.UniqueConstraint(
                fields=["organization"], condition=Q(owners=True), name="team_one_owners"
            ),
        ]
        ordering = ["-owners", "name"]

    def __str__(self):
        return self.name


class TeamMembership(models.Model):
    """A member of an organization in one of its teams (not the owners team)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="team_memberships")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="team_membership_unique"),
        ]
        ordering = ["user__username"]

    def __str__(self):
        return f"{self.user} in {self.team}"


class Grant(models.Model):
    """Access to one environment, at a level, for one team or one user.

    A user's level on an environment is the highest of their own grant,
    their teams' grants and their organization-wide default
    (accounts.privileges).
    """

    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="grants"
    )
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="grants"
    )
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="grants"
    )
    level = models.CharField(max_length=8, choices=Level.choices)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(team__isnull=True, user__isnull=False)
                | Q(team__isnull=False, user__isnull=True),
                name="grant_team_or_user",
            ),
            models.UniqueConstraint(
                fields=["environment", "team"],
                condition=Q(team__isnull=False),
                name="grant_team_unique",
            ),
            models.UniqueConstraint(
                fields=["environment", "user"],
                condition=Q(user__isnull=False),
                name="grant_user_unique",
            ),
        ]

    def __str__(self):
        return f"{self.team or self.user}: {self.level}"


class Invitation(models.Model):
    """An invitation to join an organization at a level.

    By name, it waits for that user to accept or decline. By email, it is a
    single-use link (only a keyed digest of its secret is stored) that leads
    to sign-up. Either expires.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        REVOKED = "revoked", "Revoked"

    public_id = models.CharField(max_length=32, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="invitations"
    )
    email = models.EmailField(blank=True)
    level = models.CharField(max_length=8, choices=MemberLevel.choices, default=MemberLevel.READ)
    digest = models.CharField(max_length=64, blank=True, editable=False)
    key_id = models.CharField(max_length=32, blank=True, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(email=""), name="invitation_user_or_email"
            ),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.invitee} to {self.organization}"

    @property
    def invitee(self):
        return self.user.username if self.user_id else self.email

    def is_expired(self, now=None):
        return self.expires_at <= (now or timezone.now())

    @property
    def state(self):
        """The status a person reads: pending invitations past their time are expired."""
        if self.status == self.Status.PENDING and self.is_expired():
            return "expired"
        return self.status


# Models kept in modules of their own concern; imported here so Django finds them.
from .audit.models import AuditEvent  # noqa: E402, F401
from .sessions import WebSession  # noqa: E402, F401
from .twofactor.models import RecoveryCode, RecoveryCodeDevice, TotpDevice  # noqa: E402, F401
