"""Web pages of accounts; atlas/urls.py mounts them at the root as "accounts"."""

from django.urls import path
from django.views.generic import RedirectView

from . import terraform_login, views
from .access import ANYONE, declare, rule
from .pages import account, audit, invitations, signin, teams, twofactor

ORG = "organizations/<str:name>"

urlpatterns = [
    path("login", signin.login, name="login"),
    path("login/code", signin.login_code, name="login-code"),
    path("logout", views.logout, name="logout"),
    path("signup", signin.signup, name="signup"),
    path("password-reset", signin.password_reset, name="password-reset"),
    path("password-reset/sent", signin.password_reset_sent, name="password-reset-sent"),
    path(
        "password-reset/<uidb64>/<token>",
        signin.password_reset_confirm,
        name="password-reset-confirm",
    ),
    path(
        "password-reset/complete",
        signin.password_reset_complete,
        name="password-reset-complete",
    ),
    path("", views.dashboard, name="dashboard"),
    path(
        "settings",
        declare(rule(GET=ANYONE), RedirectView.as_view(pattern_name="accounts:account")),
        name="settings",
    ),
    path("settings/account", account.account, name="account"),
    path("settings/password", account.change_password, name="password-change"),
    path("settings/email", account.change_email, name="email-change"),
    path("settings/email/confirm/<str:token>", account.confirm_email, name="email-confirm"),
    path("settings/sessions/<str:session_id>/end", account.end_session, name="session-end"),
    path("settings/sessions/end-others", account.end_other_sessions, name="sessions-end-others"),
    path("settings/two-factor", twofactor.overview, name="two-factor"),
    path("settings/two-factor/start", twofactor.start, name="two-factor-start"),
    path("settings/two-factor/qr.svg", twofactor.qr_code, name="two-factor-qr"),
    path("settings/two-factor/confirm", twofactor.confirm, name="two-factor-confirm"),
    path("settings/two-factor/recovery-codes", twofactor.new_codes, name="two-factor-codes"),
    path("settings/two-factor/disable", twofactor.disable, name="two-factor-disable"),
    path("settings/tokens", views.token_list, name="tokens"),
    path("terraform-login/authorize", terraform_login.authorize, name="terraform-login"),
    path("terraform-login/token", terraform_login.token, name="terraform-login-token"),
    path("settings/tokens/new", views.token_create, name="token-create"),
    path("settings/tokens/<str:public_id>/revoke", views.token_revoke, name="token-revoke"),
    path("settings/organizations", views.organization_list, name="organizations"),
    path("settings/organizations/new", views.organization_create, name="organization-create"),
    path("invitations", invitations.invitation_list, name="invitations"),
    path("invitations/<str:public_id>/accept", invitations.accept, name="invitation-accept"),
    path("invitations/<str:public_id>/decline", invitations.decline, name="invitation-decline"),
    path("invitations/<str:public_id>/<str:secret>", invitations.link, name="invitation-link"),
    path(ORG, views.organization_detail, name="organization"),
    path(f"{ORG}/members", views.member_invite, name="member-invite"),
    path(
        f"{ORG}/invitations/<str:public_id>/revoke",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path(f"{ORG}/settings", views.organization_settings, name="organization-settings"),
    path(f"{ORG}/members/<str:username>/level", views.member_level, name="member-level"),
    path(f"{ORG}/members/<str:username>/remove", views.member_remove, name="member-remove"),
    path(f"{ORG}/teams", teams.team_list, name="teams"),
    path(f"{ORG}/teams/new", teams.team_create, name="team-create"),
    path(f"{ORG}/teams/<str:team>", teams.team_detail, name="team"),
    path(f"{ORG}/teams/<str:team>/members", teams.team_member_add, name="team-member-add"),
    path(
        f"{ORG}/teams/<str:team>/members/<str:username>/remove",
        teams.team_member_remove,
        name="team-member-remove",
    ),
    path(f"{ORG}/teams/<str:team>/rename", teams.team_rename, name="team-rename"),
    path(f"{ORG}/teams/<str:team>/delete", teams.team_delete, name="team-delete"),
    path(f"{ORG}/audit", audit.audit_page, name="audit"),
]
