"""Django admin for accounts: the operators' view of people, organizations and tokens.

Tokens are issued by the app only (their text is shown once, to their owner),
so the admin lists and revokes them but never adds one, and never shows a
digest or its key id.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from . import invitations, services, tokens
from .models import (
    Grant,
    Invitation,
    Level,
    Membership,
    Namespace,
    Organization,
    Team,
    TeamMembership,
    Token,
    User,
)
from .names import NAME_HELP, validate_name
from .services import TAKEN, name_taken


def _check_name_free(name, namespace_id=None):
    """Users and organizations share names: refuse one that another holds."""
    if name_taken(name, namespace_id):
        raise ValidationError(f"This name {TAKEN}.")


class AtlasUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_username(self):
        username = super().clean_username()
        _check_name_free(username)
        return username


class AtlasUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User

    def clean_username(self):
        username = self.cleaned_data["username"]
        _check_name_free(username, self.instance.namespace_id)
        return username


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = AtlasUserChangeForm
    add_form = AtlasUserCreationForm
    list_display = ("username", "email", "is_staff", "is_active", "last_login", "date_joined")
    list_filter = ("is_staff", "is_active")
    search_fields = ("username", "email")
    ordering = ("username",)
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "usable_password", "password1", "password2"),
            },
        ),
    )


class MembershipInlineFormSet(forms.BaseInlineFormSet):
    """An organization keeps at least one admin: `services.an_admin_remains`,
    asked inside the admin's transaction (it locks the admin rows until the
    change is saved)."""

    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms) or self.instance.pk is None:
            return
        leaving, joining = [], False
        for form in self.forms:
            if not form.cleaned_data:
                continue
            admin_after = (
                not form.cleaned_data.get("DELETE")
                and form.cleaned_data.get("level") == Level.ADMIN
            )
            if not admin_after and form.instance.pk is not None:
                leaving.append(form.instance.pk)
            elif admin_after and (form.instance.pk is None or "level" in form.changed_data):
                joining = True  # saved as admin; an unchanged row counts as the database has it
        if not services.an_admin_remains(self.instance, leaving=leaving, joining=joining):
            raise ValidationError("An organization needs at least one admin.")


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipInlineFormSet
    fields = ("user", "level", "created_at")
    readonly_fields = ("created_at",)
    raw_id_fields = ("user",)
    extra = 0


class OrganizationForm(forms.ModelForm):
    """Names an organization on creation; the name lives in its namespace."""

    name = forms.CharField(max_length=64, help_text=NAME_HELP, validators=[validate_name])

    class Meta:
        model = Organization
        fields = ("email",)

    def clean_name(self):
        name = self.cleaned_data["name"]
        _check_name_free(name)
        return name


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    form = OrganizationForm
    list_display = ("name", "email", "member_count", "created_at")
    search_fields = ("namespace__name", "email")
    inlines = (MembershipInline,)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("namespace")
            .annotate(member_count=Count("memberships"))
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "email")
        return ("name", "email", "default_execution_mode", "created_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("name", "created_at")

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None:
            # On change the name is read-only: use the plain model form.
            kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, **kwargs)

    @admin.display(description="Name", ordering="namespace__name")
    def name(self, organization):
        return organization.name

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, organization):
        return organization.member_count

    def save_model(self, request, obj, form, change):
        if not change:
            with transaction.atomic():
                obj.namespace = Namespace.objects.create(
                    name=form.cleaned_data["name"], kind=Namespace.Kind.ORGANIZATION
                )
                super().save_model(request, obj, form, change)
            return
        super().save_model(request, obj, form, change)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """A list to search and filter. Changes go through an organization's page,
    where the at-least-one-admin rule is checked."""

    list_display = ("user", "organization", "level", "created_at")
    list_filter = ("level",)
    search_fields = ("user__username", "organization__namespace__name")
    list_select_related = ("user", "organization__namespace")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RevokedFilter(admin.SimpleListFilter):
    title = "revoked"
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=True)
        return queryset


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "user",
        "kind",
        "description",
        "created_at",
        "last_used_at",
        "expires_at",
        "status",
    )
    list_filter = ("kind", "read_only", RevokedFilter)
    search_fields = ("public_id", "user__username", "description")
    list_select_related = ("user",)
    # digest and key_id are left out on purpose: never show them.
    fields = (
        "public_id",
        "user",
        "kind",
        "description",
        "read_only",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "status",
    )
    readonly_fields = fields
    actions = ("revoke_tokens",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    @admin.display(description="Status")
    def status(self, token):
        return token.status

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_tokens(self, request, queryset):
        now = timezone.now()
        revoked = sum(tokens.revoke(token, now=now) for token in queryset)
        self.message_user(
            request, f"Revoked {revoked} token{'s' if revoked != 1 else ''}.", messages.SUCCESS
        )


@admin.register(Namespace)
class NamespaceAdmin(admin.ModelAdmin):
    """Read-only: namespaces are made and renamed with their user or organization."""

    list_display = ("name", "kind", "created_at")
    list_filter = ("kind",)
    search_fields = ("name",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TeamMembershipInline(admin.TabularInline):
    """A team's members; only members of its organization join, on its Teams page."""

    model = TeamMembership
    fields = ("user", "created_at")
    readonly_fields = ("user", "created_at")
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Teams and their members, to see and take apart. The owners team's
    members are the organization's admins (their level on the organization)."""

    list_display = ("name", "organization", "owners", "created_at")
    list_filter = ("owners",)
    search_fields = ("name", "organization__namespace__name")
    list_select_related = ("organization__namespace",)
    readonly_fields = ("name", "organization", "owners", "created_at")

    def get_inlines(self, request, obj):
        return () if obj is not None and obj.owners else (TeamMembershipInline,)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.owners


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    """Grants, to see and to end; they are given on an environment's Access tab,
    where the rules (a team of the environment's organization) are checked."""

    list_display = ("environment", "team", "user", "level", "updated_at")
    list_filter = ("level",)
    search_fields = ("environment__name", "team__name", "user__username")
    list_select_related = ("environment__namespace", "team", "user")
    fields = ("environment", "team", "user", "level", "created_at", "updated_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Invitations are made by organization owners; operators see and revoke them."""

    list_display = ("invitee", "organization", "level", "status", "invited_by", "expires_at")
    list_filter = ("status", "level")
    search_fields = ("user__username", "email", "organization__namespace__name")
    list_select_related = ("user", "organization__namespace", "invited_by")
    fields = (
        "public_id",
        "organization",
        "user",
        "email",
        "level",
        "status",
        "invited_by",
        "answered_by",
        "created_at",
        "expires_at",
        "answered_at",
    )
    readonly_fields = fields
    actions = ("revoke_invitations",)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected invitations", permissions=["change"])
    def revoke_invitations(self, request, queryset):
        revoked = 0
        for invitation in queryset.filter(status=Invitation.Status.PENDING):
            invitations.revoke(invitation)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} invitation(s).", messages.SUCCESS)


# Admin pages kept with their own concern.
from .audit import admin as _audit_admin  # noqa: E402, F401
from .twofactor import admin as _twofactor_admin  # noqa: E402, F401
