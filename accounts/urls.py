"""Web pages of accounts; atlas/urls.py mounts them at the root as "accounts"."""

from django.urls import path

from . import terraform_login, views

urlpatterns = [
    path("login", views.login, name="login"),
    path("logout", views.logout, name="logout"),
    path("", views.dashboard, name="dashboard"),
    path("settings/tokens", views.token_list, name="tokens"),
    path("terraform-login/authorize", terraform_login.authorize, name="terraform-login"),
    path("terraform-login/token", terraform_login.token, name="terraform-login-token"),
    path("settings/tokens/new", views.token_create, name="token-create"),
    path("settings/tokens/<str:public_id>/revoke", views.token_revoke, name="token-revoke"),
    path("settings/organizations", views.organization_list, name="organizations"),
    path("settings/organizations/new", views.organization_create, name="organization-create"),
    path("organizations/<str:name>", views.organization_detail, name="organization"),
    path("organizations/<str:name>/members", views.member_add, name="member-add"),
    path(
        "organizations/<str:name>/members/<str:username>/level",
        views.member_level,
        name="member-level",
    ),
    path(
        "organizations/<str:name>/members/<str:username>/remove",
        views.member_remove,
        name="member-remove",
    ),
]
