"""Configuration versions in /api/v1: what `terraform push` talks to.

Push reads `versions/latest` (404: nothing stored yet), creates a version
with `POST versions`, then PUTs the archive to the absolute `upload_path` it
got back, with no token: the one-time secret is in the path, because the Go
client rebuilds the query string of that URL from scratch.
"""

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import ANYONE, Need, rule
from accounts.models import Level
from atlas.api.envelopes import unwrap
from atlas.api.links import absolute_url
from atlas.api.pagination import envelope_pagination
from atlas.bodies import declared_length, streams_body

from .. import services
from ..lookup import ENVIRONMENT, saved
from ..selectors import latest_version
from . import serializers as s


class TfVarSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.CharField()
    hcl = serializers.BooleanField()


def upload_url(request, secret):
    """The absolute upload URL: from ATLAS_EXTERNAL_URL when set, otherwise
    from the request (whose host and scheme honour a proxy's forwarded
    headers only from ATLAS_TRUSTED_PROXIES)."""
    path = reverse("environments-api:configuration-upload", kwargs={"secret": secret})
    return absolute_url(request, path)


def progress_body(version):
    return {
        "version": {
            "version": version.number,
            "status": version.current_status,
            "error": version.current_error or None,
        }
    }


class ProgressSerializer(serializers.Serializer):
    version = inline_serializer(
        "VersionProgress",
        {
            "version": serializers.IntegerField(),
            "status": serializers.CharField(),
            "error": serializers.CharField(allow_null=True),
        },
    )


class VersionViewSet(viewsets.GenericViewSet):
    """The configuration versions of one environment; a push (POST) creates
    the environment when the caller may write its namespace."""

    access_rule = rule(ENVIRONMENT, GET=Level.READ, POST=Need(Level.WRITE, creates=True))

    serializer_class = s.VersionSerializer
    pagination_class = envelope_pagination("versions")

    @extend_schema(
        responses=inline_serializer(
            "LatestVersion",
            {
                "version": inline_serializer(
                    "LatestVersionBody",
                    {
                        "version": serializers.IntegerField(),
                        "metadata": serializers.DictField(child=serializers.CharField()),
                        "tf_vars": TfVarSerializer(many=True),
                        "variables": serializers.DictField(child=serializers.CharField()),
                    },
                )
            },
        )
    )
    def latest(self, request, username, name):
        """The latest version, with the environment's *current* Terraform
        variables: push sends every one of them back with the next version."""
        environment = self.environment
        version = latest_version(environment)
        if version is None:
            raise Http404
        tf_vars = services.tf_vars_for_push(environment)
        return Response(
            {
                "version": {
                    "version": version.number,
                    "status": version.current_status,
                    "metadata": version.metadata or {},
                    "tf_vars": tf_vars,
                    "variables": {v["key"]: v["value"] for v in tf_vars if not v["hcl"]},
                }
            }
        )

    def list(self, request, username, name):
        environment = self.environment
        versions = environment.configuration_versions.select_related("created_by")
        page = self.paginate_queryset(versions.order_by("-number"))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=inline_serializer(
            "VersionCreate",
            {
                "version": inline_serializer(
                    "VersionCreateBody",
                    {
                        "metadata": serializers.DictField(child=serializers.CharField()),
                        "tf_vars": TfVarSerializer(many=True),
                        "variables": serializers.DictField(child=serializers.CharField()),
                    },
                )
            },
        ),
        responses={
            201: inline_serializer(
                "VersionCreated",
                {
                    "version": serializers.IntegerField(),
                    "upload_path": serializers.URLField(),
                    "token": serializers.CharField(),
                },
            )
        },
    )
    def create(self, request, username, name):
        environment = saved(self.environment, request.user)
        body = unwrap(request.data, "version", required=False)
        metadata, tf_vars = services.parse_version_request(body)
        version, secret = services.create_version(environment, request.user, metadata, tf_vars)
        return Response(
            {
                "version": version.number,
                "upload_path": upload_url(request, secret),
                "token": secret,
            },
            status=status.HTTP_201_CREATED,
            headers={"Cache-Control": "no-store"},
        )

    @extend_schema(responses=ProgressSerializer)
    def progress(self, request, username, name, token):
        environment = self.environment
        version = services.version_by_secret(environment, token)
        if version is None:
            raise Http404
        return Response(progress_body(version))


class UploadError(APIException):
    def __init__(self, error):
        super().__init__({error.field: [error.message]})
        self.status_code = error.status


class UploadView(APIView):
    """`PUT <upload_path>`: the archive itself, authorised by the secret in the path.

    The body is read here in chunks from the raw request stream; DRF's
    parsers never see it.
    """

    authentication_classes = []
    access_rule = rule(PUT=ANYONE)  # the secret in the path is the credential

    @extend_schema(
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={200: ProgressSerializer},
        auth=[],
    )
    @streams_body  # bounded by ATLAS_MAX_ARCHIVE_BYTES in services.receive_upload
    def put(self, request, secret):
        raw = request._request
        try:
            version = services.receive_upload(secret, raw.read, declared_length(request.META))
        except services.UploadError as exc:
            raise UploadError(exc) from None
        return Response(progress_body(version))
