from django.urls import path

from . import views

authenticate = views.AuthenticateViewSet.as_view({"get": "verify", "post": "create"})
me = views.UserViewSet.as_view({"get": "me"})
user = views.UserViewSet.as_view({"get": "retrieve"})
organizations = views.OrganizationViewSet.as_view({"get": "list", "post": "create"})
organization = views.OrganizationViewSet.as_view({"get": "retrieve"})
members = views.MemberViewSet.as_view({"get": "list", "post": "create"})
member = views.MemberViewSet.as_view({"patch": "partial_update", "delete": "destroy"})
tokens = views.TokenViewSet.as_view({"get": "list", "post": "create"})
token = views.TokenViewSet.as_view({"delete": "destroy"})

urlpatterns = [
    path("authenticate", authenticate, name="authenticate"),
    path("user", me, name="me"),
    path("user/<str:username>", user, name="user"),
    path("organizations", organizations, name="organizations"),
    path("organizations/<str:name>", organization, name="organization"),
    path("organizations/<str:name>/members", members, name="members"),
    path("organizations/<str:name>/members/<str:username>", member, name="member"),
    path("tokens", tokens, name="tokens"),
    path("tokens/<str:public_id>", token, name="token"),
]
