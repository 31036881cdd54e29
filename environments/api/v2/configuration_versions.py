"""TFE v2 configuration versions: what `terraform plan`/`apply` upload.

A version is created on a workspace (write level) with a single-use,
expiring, absolute upload URL; the archive PUT there (no authorization:
the secret in the path is the credential) is checked by the same archive
inspector as a `terraform push` and stored the same way, numbered in the
same sequence (`environments.services`). The TFE client then creates its
run itself: versions made here never queue one.
"""

from django.http import Http404, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from accounts.access import ANYONE, Target, declares, require_level, rule
from accounts.models import Level
from atlas.api.jsonapi import (
    V2View,
    body_data,
    id_number,
    json_error,
    relation,
    resource,
    timestamp,
)
from atlas.api.links import absolute_url
from atlas.bodies import declared_length, streams_body

from ... import services
from ...lookup import WORKSPACE
from ...models import ConfigurationVersion
from .shapes import workspace_id

PREFIX = "cv-"
STATUSES = {
    ConfigurationVersion.Status.PENDING: "pending",
    ConfigurationVersion.Status.FINISHED: "uploaded",
    ConfigurationVersion.Status.ERRORED: "errored",
}


def version_id(version):
    return f"{PREFIX}{version.pk}"


def find_version(request, identifier, needed=Level.READ):
    """(version, level) of `cv-<id>` if the caller may see it (404 otherwise)."""
    number = id_number(identifier, PREFIX)
    if number is None:
        raise Http404
    version = (
        ConfigurationVersion.objects.select_related("environment__namespace")
        .filter(pk=number)
        .first()
    )
    if version is None:
        raise Http404
    environment = version.environment
    return version, require_level(request, environment.namespace, needed, environment)


# The configuration version `version_id` (`cv-<id>`) of the URL.
VERSION = Target(
    "version",
    lambda request, url_kwargs, need: find_version(request, url_kwargs["version_id"], need.level),
    ("version_id",),
)


def version_resource(version, upload_url=None):
    status = STATUSES[version.current_status]
    attributes = {
        "auto-queue-runs": version.auto_queue_runs,
        "speculative": version.speculative,
        "provisional": False,
        "source": "tfe-api",
        "status": status,
        "status-timestamps": {},
        "error": None if status != "errored" else "refused",
        "error-message": version.current_error or None,
        "created-at": timestamp(version.created_at),
    }
    if upload_url:
        attributes["upload-url"] = upload_url
    return resource(
        "configuration-versions",
        version_id(version),
        attributes,
        relationships={"workspace": relation("workspaces", workspace_id(version.environment))},
    )


def _flag(attributes, name, default):
    value = attributes.get(name, default)
    if not isinstance(value, bool):
        raise ParseError({name: ["must be true or false"]})
    return value


class WorkspaceVersionsView(V2View):
    """`POST /workspaces/:id/configuration-versions` (write)."""

    access_rule = rule(WORKSPACE, POST=Level.WRITE)

    def post(self, request, workspace_id):
        environment = self.environment
        if request.data in (None, "", b"") or request.data == {}:
            attributes = {}
        else:
            _data, attributes = body_data(request, "configuration-versions")
        auto_queue = _flag(attributes, "auto-queue-runs", True)
        speculative = _flag(attributes, "speculative", False)
        version, secret = services.create_version(environment, request.user)
        ConfigurationVersion.objects.filter(pk=version.pk).update(
            auto_queue_runs=auto_queue, speculative=speculative
        )
        version.auto_queue_runs, version.speculative = auto_queue, speculative
        version.environment = environment
        path = reverse("environments-api-v2:configuration-upload", kwargs={"secret": secret})
        return Response(
            {"data": version_resource(version, absolute_url(request, path))}, status=201
        )


class VersionView(V2View):
    access_rule = rule(VERSION, GET=Level.READ)

    def get(self, request, version_id):
        return Response({"data": version_resource(self.version)})


@csrf_exempt
@declares(rule(PUT=ANYONE))  # the single-use secret in the path is the credential
@streams_body  # bounded by ATLAS_MAX_ARCHIVE_BYTES in services.receive_upload
def upload(request, secret):
    """`PUT` of the tar.gz at its single-use URL; whatever credential comes
    along is ignored (the secret is the credential)."""
    if request.method != "PUT":
        return json_error(405, "Upload with PUT.")
    try:
        services.receive_upload(secret, request.read, declared_length(request.META))
    except services.UploadError as exc:
        return json_error(exc.status, exc.message)
    return HttpResponse(status=200)
