from django.urls import path

from . import audit, invitations, teams, views

authenticate = views.AuthenticateViewSet.as_view({"get": "verify", "post": "create"})
me = views.UserViewSet.as_view({"get": "me"})
user = views.UserViewSet.as_view({"get": "retrieve"})
organizations = views.OrganizationListViewSet.as_view({"get": "list", "post": "create"})
organization = views.OrganizationViewSet.as_view({"get": "retrieve", "patch": "partial_update"})
members = views.MemberViewSet.as_view({"get": "list", "post": "create"})
member = views.MemberViewSet.as_view({"patch": "partial_update", "delete": "destroy"})
tokens = views.TokenViewSet.as_view({"get": "list", "post": "create"})
token = views.TokenViewSet.as_view({"delete": "destroy"})
team_list = teams.TeamViewSet.as_view({"get": "list", "post": "create"})
team = teams.TeamViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
)
team_members = teams.TeamMemberViewSet.as_view({"post": "create"})
team_member = teams.TeamMemberViewSet.as_view({"delete": "destroy"})
organization_invitations = invitations.OrganizationInvitationViewSet.as_view(
    {"get": "list", "post": "create"}
)
organization_invitation = invitations.OrganizationInvitationViewSet.as_view({"delete": "destroy"})
my_invitations = invitations.MyInvitationViewSet.as_view({"get": "list"})
accept = invitations.MyInvitationViewSet.as_view({"post": "accept"})
decline = invitations.MyInvitationViewSet.as_view({"post": "decline"})
events = audit.AuditViewSet.as_view({"get": "list"})

ORG = "organizations/<str:name>"

urlpatterns = [
    path("authenticate", authenticate, name="authenticate"),
    path("user", me, name="me"),
    path("user/<str:username>", user, name="user"),
    path("organizations", organizations, name="organizations"),
    path("organizations/<str:name>", organization, name="organization"),
    path("organizations/<str:name>/members", members, name="members"),
    path("organizations/<str:name>/members/<str:username>", member, name="member"),
    path(f"{ORG}/teams", team_list, name="teams"),
    path(f"{ORG}/teams/<str:team>", team, name="team"),
    path(f"{ORG}/teams/<str:team>/members", team_members, name="team-members"),
    path(f"{ORG}/teams/<str:team>/members/<str:username>", team_member, name="team-member"),
    path(f"{ORG}/invitations", organization_invitations, name="organization-invitations"),
    path(
        f"{ORG}/invitations/<str:public_id>",
        organization_invitation,
        name="organization-invitation",
    ),
    path(f"{ORG}/audit", events, name="audit"),
    path("invitations", my_invitations, name="invitations"),
    path("invitations/<str:public_id>/accept", accept, name="invitation-accept"),
    path("invitations/<str:public_id>/decline", decline, name="invitation-decline"),
    path("tokens", tokens, name="tokens"),
    path("tokens/<str:public_id>", token, name="token"),
]
