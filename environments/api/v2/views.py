"""TFE v2: organizations (entitlements), workspaces, and the workspace lock.

Every check goes through `accounts.access` (404 for what the caller may not
see, 403 for a level too low) and every change through
`environments.services`, as in /api/v1: the workspace lock is the
environment's one lock.
"""

import re

from django.db.models.functions import Lower
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from accounts.access import (
    VISIBLE,
    Target,
    demand,
    namespace_target,
    request_token,
    rule,
)
from accounts.models import Level
from accounts.privileges import environment_levels, readable_environments_q
from atlas.api.exceptions import Conflict, Unprocessable
from atlas.api.jsonapi import V2View, body_data, paginate
from environments import locking, services
from environments.models import Environment, ExecutionMode, LockKind

from ...lookup import WORKSPACE, environment_and_level
from .shapes import (
    entitlements_resource,
    organization_resource,
    with_current_run,
    workspace_resource,
)

MAX_TERRAFORM_VERSION = 32
USER_AGENT = re.compile(r"\b(Terraform|OpenTofu)/(\S+)")


def named_workspace(request, organization, name, needed=Level.READ):
    """(environment, level) of `organization/name`: what the caller holds on
    the workspace itself, grants included; 404 when that is nothing."""
    return environment_and_level(
        request, needed, namespace__name__iexact=organization, name__iexact=name
    )


# The workspace `:organization/workspaces/:name` of the URL.
NAMED_WORKSPACE = Target(
    "environment",
    lambda request, url_kwargs, need: named_workspace(
        request, url_kwargs["organization"], url_kwargs["name"], need.level
    ),
    ("organization", "name"),
)
ORGANIZATION = namespace_target("organization")


def client_name(request):
    """`Terraform 1.6.6`: from the `Terraform-Version` header Terraform sends to
    the TFE API, else from its User-Agent, else the agent itself."""
    version = request.META.get("HTTP_TERRAFORM_VERSION", "")
    if version and len(version) <= 32 and version.isprintable():
        return f"Terraform {version}"
    agent = request.META.get("HTTP_USER_AGENT", "")
    found = USER_AGENT.search(agent)
    return f"{found.group(1)} {found.group(2)}" if found else agent[:100]


def _one(environment, level, status=200):
    environment.refresh_from_db()
    return Response({"data": workspace_resource(environment, level)}, status=status)


class OrganizationView(V2View):
    """Seen by whoever may see the organization, grants included."""

    access_rule = rule(ORGANIZATION, GET=VISIBLE)

    def get(self, request, organization):
        return Response({"data": organization_resource(self.namespace, self.level)})


class EntitlementsView(V2View):
    access_rule = rule(ORGANIZATION, GET=VISIBLE)

    def get(self, request, organization):
        return Response({"data": entitlements_resource(self.namespace)})


class WorkspaceListView(V2View):
    """`GET` lists the workspaces the caller may read, with `search[name]`
    and pagination; `POST` creates (write on the organization)."""

    access_rule = rule(ORGANIZATION, GET=VISIBLE, POST=Level.WRITE)

    def get(self, request, organization):
        namespace = self.namespace
        rows = with_current_run(
            Environment.objects.filter(namespace=namespace)
            .filter(readable_environments_q(request.user))
            .select_related("namespace", "locked_by")
            .order_by(Lower("name"), "pk")
        )
        search = request.query_params.get("search[name]", "")
        if search:
            rows = rows.filter(name__icontains=search)
        if request.query_params.get("search[tags]"):
            rows = rows.none()  # workspaces have no tags here
        page, meta = paginate(request, rows)
        page = list(page)
        levels = environment_levels(request.user, namespace, page, request_token(request))
        data = [workspace_resource(e, levels[e.pk]) for e in page]
        return Response({"data": data, "meta": meta})

    def post(self, request, organization):
        namespace, level = self.namespace, self.level
        _data, attributes = body_data(request, "workspaces")
        name = attributes.get("name")
        if not isinstance(name, str) or not name:
            raise Unprocessable({"name": ["can't be blank"]})
        environment = services.new_environment(namespace, name, request.user)
        _set_terraform_version(environment, attributes)
        _set_execution_mode(environment, attributes, request.user)
        environment.namespace = namespace
        return _one(environment, level, status=201)


def _set_execution_mode(environment, attributes, user):
    """`execution-mode` (`remote`, `local`; TFE's `agent` is refused) or the
    older `operations` boolean."""
    mode = attributes.get("execution-mode")
    if mode is None and isinstance(attributes.get("operations"), bool):
        mode = ExecutionMode.REMOTE if attributes["operations"] else ExecutionMode.LOCAL
    if mode is None:
        return
    if mode not in ExecutionMode.values:
        raise Unprocessable({"execution-mode": ["must be remote or local"]})
    services.set_execution_mode(environment, mode, user)


def _set_terraform_version(environment, attributes):
    version = attributes.get("terraform-version")
    if version is None:
        return
    if not isinstance(version, str) or len(version) > MAX_TERRAFORM_VERSION:
        raise Unprocessable({"terraform-version": ["must be a version string"]})
    Environment.objects.filter(pk=environment.pk).update(terraform_version=version)


class NamedWorkspaceView(V2View):
    access_rule = rule(NAMED_WORKSPACE, GET=Level.READ, DELETE=Level.ADMIN)

    def get(self, request, organization, name):
        return Response({"data": workspace_resource(self.environment, self.level)})

    def delete(self, request, organization, name):
        services.delete_environment(self.environment, request.user)
        return Response(status=204)


class WorkspaceView(V2View):
    # PATCH needs admin for any setting but `terraform-version`: see `patch`.
    access_rule = rule(WORKSPACE, GET=Level.READ, PATCH=Level.WRITE, DELETE=Level.ADMIN)

    def get(self, request, workspace_id):
        return Response({"data": workspace_resource(self.environment, self.level)})

    def patch(self, request, workspace_id):
        """`terraform-version` needs write (`cloud` sets it after creating a
        workspace); any other setting admin."""
        environment, level = self.environment, self.level
        _data, attributes = body_data(request, "workspaces")
        others = set(attributes) - {"terraform-version", "name"}
        if others:
            demand(request, level, Level.ADMIN)
        if "name" in attributes and attributes["name"] != environment.name:
            raise Unprocessable({"name": ["cannot be changed"]})
        if "auto-apply" in attributes:
            services.set_auto_apply(environment, attributes["auto-apply"] is True)
        _set_terraform_version(environment, attributes)
        _set_execution_mode(environment, attributes, request.user)
        return _one(environment, level)

    def delete(self, request, workspace_id):
        services.delete_environment(self.environment, request.user)
        return Response(status=204)


class SafeDeleteView(V2View):
    access_rule = rule(WORKSPACE, POST=Level.ADMIN)

    def post(self, request, workspace_id):
        environment = self.environment
        if environment.locked:
            raise Conflict(f"The workspace is locked by {locking.describe(environment)}.")
        services.delete_environment(environment, request.user)
        return Response(status=204)


def _reason(request):
    """The lock reason: `{"reason": ...}`, its JSON:API wrapping, or nothing."""
    data = request.data
    if not isinstance(data, dict):
        return ""
    if isinstance(data.get("data"), dict):
        data = data["data"].get("attributes") or data["data"]
    reason = data.get("reason", "") if isinstance(data, dict) else ""
    if not isinstance(reason, str):
        raise ParseError({"reason": ["must be a string"]})
    return reason


class LockView(V2View):
    access_rule = rule(WORKSPACE, POST=Level.WRITE)

    def post(self, request, workspace_id):
        environment, level = self.environment, self.level
        try:
            services.lock_environment(
                environment,
                request.user,
                _reason(request) or "Locked through the TFE API",
                kind=LockKind.TFE,
                lock_id=f"{environment.namespace.name}/{environment.name}",
                operation="workspace lock",
                client=client_name(request),
            )
        except services.LockError as exc:
            raise Conflict(str(exc)) from None
        return _one(environment, level)


def _unlock_refusal(environment):
    """go-tfe tells these apart by their words: "is locked by Run/User"."""
    kind = environment.lock_kind or ("run" if environment.locked_by_id is None else "")
    who = "Run" if kind == LockKind.RUN else f"User {environment.lock_holder}"
    return (
        f"Unable to unlock workspace. The workspace is locked by {who} "
        f"({locking.describe(environment)}); only its holder may unlock it, or an admin "
        "may force-unlock it."
    )


class UnlockView(V2View):
    access_rule = rule(WORKSPACE, POST=Level.WRITE)

    def post(self, request, workspace_id):
        environment, level = self.environment, self.level
        if not environment.locked:
            raise Conflict("Unable to unlock workspace. The workspace is not locked.")
        if not locking.holds(environment, request.user):
            raise Conflict(_unlock_refusal(environment))
        try:
            services.unlock_environment(environment, request.user)
        except services.LockError as exc:
            raise Conflict(str(exc)) from None
        return _one(environment, level)


class ForceUnlockView(V2View):
    access_rule = rule(WORKSPACE, POST=Level.ADMIN)

    def post(self, request, workspace_id):
        environment, level = self.environment, self.level
        if not environment.locked:
            raise Conflict("The workspace is not locked.")
        try:
            services.unlock_environment(
                environment, request.user, force=True, reason="force-unlock through the TFE API"
            )
        except services.LockError as exc:
            raise Conflict(str(exc)) from None
        return _one(environment, level)


class VariablesView(V2View):
    """Variables of local-execution workspaces stay on the client: none here."""

    access_rule = rule(WORKSPACE, GET=Level.WRITE)

    def get(self, request, workspace_id):
        return Response({"data": []})
