"""TFE v2 state versions and their outputs: the `remote` backend and `cloud {}`.

A state version of the TFE API is one of our stored versions (`sv-<id>`),
or, before its body arrives, a pending upload (`svu-<id>`). Writes go
through `states.services.write_state` like every door's: the environment's
lock (the workspace lock of the same user lets the write through) and the
conflict rule decide, and a refusal is a 409 with nothing stored.

- inline (Terraform up to 1.5): `state` in the creation body, base64;
- upload (1.6+): no `state`; the answer carries two single-use URLs with
  their own secrets, and the client PUTs the raw state and its JSON
  rendering there without any Authorization header. The JSON rendering is
  accepted and dropped: the server reads outputs from the state itself.
"""

import base64
import binascii
import re
from typing import NamedTuple

from django.conf import settings
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import APIException, ParseError
from rest_framework.response import Response

from accounts.access import ANYONE, Target, declares, request_token, require_level, rule
from accounts.models import Level
from atlas.api.exceptions import Conflict, Unprocessable
from atlas.api.jsonapi import V2View, id_number, json_error, relation, resource, timestamp
from atlas.api.links import absolute_url
from atlas.api.parsers import decode_json
from atlas.bodies import streams_body
from environments.lookup import WORKSPACE
from states import selectors, services, uploads
from states.intake import read_body
from states.models import Door, StateUpload, StateVersion
from states.outputs import state_outputs
from states.parsing import MAX_SERIAL, InvalidState, parse_state
from states.responses import state_response
from states.rules import Outcome

VERSION_PREFIX = "sv-"
UPLOAD_PREFIX = "svu-"
OUTPUT_ID = re.compile(r"^wsout-(\d+)-([A-Za-z0-9_-]{1,200})$")
MD5_HEX = re.compile(r"^[0-9a-f]{32}$")
MAX_JSON_STATE_BYTES_FACTOR = 4  # the JSON rendering is larger than the state


def version_resource(request, version, environment):
    path = reverse("states-api-v2:download", kwargs={"version_id": f"{VERSION_PREFIX}{version.pk}"})
    return resource(
        "state-versions",
        f"{VERSION_PREFIX}{version.pk}",
        {
            "serial": version.serial,
            "lineage": version.lineage,
            "md5": version.md5,
            "size": version.size,
            "status": "finished",
            "created-at": timestamp(version.created_at),
            "hosted-state-download-url": absolute_url(request, path),
            "hosted-json-state-download-url": None,
            "resources-processed": True,
            "terraform-version": version.terraform_version,
            "vcs-commit-sha": None,
            "vcs-commit-url": None,
        },
        relationships={"workspace": relation("workspaces", f"ws-{environment.pk}")},
    )


def pending_resource(request, upload, raw_secret=None, json_secret=None):
    attributes = {
        "serial": upload.serial,
        "lineage": upload.lineage,
        "md5": upload.md5,
        "size": 0,
        "status": "pending",
        "created-at": timestamp(upload.created_at),
        "resources-processed": False,
        "hosted-state-download-url": None,
    }
    if raw_secret:
        attributes["hosted-state-upload-url"] = absolute_url(
            request, reverse("states-api-v2:upload", kwargs={"secret": raw_secret})
        )
        attributes["hosted-json-state-upload-url"] = absolute_url(
            request, reverse("states-api-v2:upload-json", kwargs={"secret": json_secret})
        )
    return resource(
        "state-versions",
        f"{UPLOAD_PREFIX}{upload.pk}",
        attributes,
        relationships={"workspace": relation("workspaces", f"ws-{upload.environment_id}")},
    )


def _refused(decision):
    if decision.outcome is Outcome.SERIAL_USED:
        raise Unprocessable({"serial": [decision.reason]})
    raise Conflict(decision.reason)


def _creation_attributes(request):
    """serial, md5, lineage and the optional inline state of a creation body."""
    limit = settings.ATLAS_MAX_STATE_BYTES * 4 // 3 + 64 * 1024
    document = decode_json(read_body(request, limit=limit))
    data = document.get("data") if isinstance(document, dict) else None
    attributes = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(attributes, dict):
        raise ParseError("The body must be a JSON:API document with data.attributes.")
    serial = attributes.get("serial")
    if not isinstance(serial, int) or isinstance(serial, bool) or not 0 <= serial <= MAX_SERIAL:
        raise Unprocessable({"serial": ["must be a non-negative integer"]})
    md5 = attributes.get("md5")
    if not isinstance(md5, str) or not MD5_HEX.match(md5):
        raise Unprocessable({"md5": ["must be the hex MD5 of the state"]})
    lineage = attributes.get("lineage") or ""
    if not isinstance(lineage, str) or len(lineage) > 128:
        raise Unprocessable({"lineage": ["must be a string of at most 128 characters"]})
    state = attributes.get("state")
    if state is not None:
        if not isinstance(state, str):
            raise Unprocessable({"state": ["must be the base64 of the state"]})
        try:
            state = base64.b64decode(state, validate=True)
        except (binascii.Error, ValueError):
            raise Unprocessable({"state": ["must be the base64 of the state"]}) from None
    return serial, md5, lineage, state


class StateVersionsView(V2View):
    """`POST /workspaces/:id/state-versions`: inline, or announced for upload."""

    access_rule = rule(WORKSPACE, POST=Level.WRITE)
    parser_classes = []

    @streams_body  # an inline state: bounded by ATLAS_MAX_STATE_BYTES (in base64)
    def post(self, request, workspace_id):
        environment = self.environment
        serial, md5, lineage, state = _creation_attributes(request)
        user, token = request.user, request_token(request)
        if state is None:
            decision = uploads.precheck(environment, serial, lineage, md5, user, token)
            if decision.refused:
                _refused(decision)
            upload, raw, rendered = uploads.announce(environment, serial, lineage, md5, user, token)
            return Response({"data": pending_resource(request, upload, raw, rendered)}, 201)
        version = _write(environment, state, md5, user, token)
        return Response({"data": version_resource(request, version, environment)}, 201)


def _write(environment, body, md5, user, token):
    try:
        header = parse_state(body)
        result = services.write_state(
            environment, body, header=header, md5=md5, user=user, token=token, door=Door.TFE
        )
    except InvalidState as exc:
        raise Unprocessable({"state": [str(exc)]}) from None
    except services.ChecksumMismatch as exc:
        raise Unprocessable({"md5": [str(exc)]}) from None
    if result.decision.refused:
        _refused(result.decision)
    return result.version


class CurrentStateVersionView(V2View):
    access_rule = rule(WORKSPACE, GET=Level.READ)

    def get(self, request, workspace_id):
        environment = self.environment
        head = selectors.head(environment)
        if head is None:
            raise Http404
        return Response({"data": version_resource(request, head, environment)})


class NamedVersion(NamedTuple):
    """A state version id of the URL: the version (None while announced and not
    uploaded), the upload it was announced as (for `sv-upload-` ids), and
    their environment."""

    version: object
    upload: object
    environment: object


def _version_for(request, version_id, needed=Level.READ):
    """(NamedVersion, level) of an id the caller may read."""
    number = id_number(version_id, VERSION_PREFIX)
    if number is not None:
        version = StateVersion.objects.select_related("environment__namespace").filter(pk=number)
        version = version.first()
        if version is None:
            raise Http404
        level = require_level(request, version.environment.namespace, needed, version.environment)
        return NamedVersion(version, None, version.environment), level
    number = id_number(version_id, UPLOAD_PREFIX)
    upload = (
        StateUpload.objects.select_related("environment__namespace", "version")
        .filter(pk=number)
        .first()
        if number is not None
        else None
    )
    if upload is None:
        raise Http404
    level = require_level(request, upload.environment.namespace, needed, upload.environment)
    return NamedVersion(upload.version, upload, upload.environment), level


def _output_version(request, output_id, needed):
    found = OUTPUT_ID.match(output_id)
    if not found:
        raise Http404
    return _version_for(request, f"{VERSION_PREFIX}{found[1]}", needed)


# The state version (or announced upload) `version_id` of the URL.
VERSION = Target(
    "named",
    lambda request, url_kwargs, need: _version_for(request, url_kwargs["version_id"], need.level),
    ("version_id",),
)
# The state version of the output `output_id` of the URL.
OUTPUT_VERSION = Target(
    "named",
    lambda request, url_kwargs, need: _output_version(request, url_kwargs["output_id"], need.level),
    ("output_id",),
)


class StateVersionView(V2View):
    access_rule = rule(VERSION, GET=Level.READ)

    def get(self, request, version_id):
        version, upload, environment = self.named
        if version is not None:
            return Response({"data": version_resource(request, version, environment)})
        if upload.error:
            raise Conflict(upload.error)
        return Response({"data": pending_resource(request, upload)})


class DownloadView(V2View):
    access_rule = rule(VERSION, GET=Level.READ)

    def get(self, request, version_id):
        version = self.named.version
        if version is None:
            raise Http404
        return state_response(version)


def output_resource(version, output, reveal):
    value = output.value if reveal or not output.sensitive else None
    return resource(
        "state-version-outputs",
        f"wsout-{version.pk}-{output.name}",
        {
            "name": output.name,
            "sensitive": output.sensitive,
            "type": output.type,
            "value": value,
            "detailed-type": output.detailed_type,
        },
    )


class CurrentOutputsView(V2View):
    """Outputs of the head; sensitive values are null here (read them one by one)."""

    access_rule = rule(WORKSPACE, GET=Level.READ)

    def get(self, request, workspace_id):
        head = selectors.head(self.environment)
        if head is None:
            raise Http404
        items = [output_resource(head, o, reveal=False) for o in state_outputs(head)]
        return Response({"data": items})


class VersionOutputsView(V2View):
    access_rule = rule(VERSION, GET=Level.READ)

    def get(self, request, version_id):
        version = self.named.version
        if version is None:
            raise Http404
        items = [output_resource(version, o, reveal=False) for o in state_outputs(version)]
        return Response({"data": items})


class OutputView(V2View):
    """One output with its value, sensitive or not: whoever reads the state reads it."""

    access_rule = rule(OUTPUT_VERSION, GET=Level.READ)

    def get(self, request, output_id):
        found = OUTPUT_ID.match(output_id)
        version = self.named.version
        for output in state_outputs(version):
            if output.name == found[2]:
                return Response({"data": output_resource(version, output, reveal=True)})
        raise Http404


class UploadRefused(Exception):
    """An upload that is not stored: (status, message) for a JSON:API error."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _upload_body(request, limit=None):
    """The body of an upload, or UploadRefused with read_body's 400/413."""
    try:
        return read_body(request, limit=limit)
    except APIException as exc:
        raise UploadRefused(exc.status_code, str(exc.detail)) from None


def _store_upload(claimed, request):
    """Write an upload's body as its creator, through the one write path."""
    body = _upload_body(request)
    try:
        result = services.write_state(
            claimed.environment,
            body,
            header=parse_state(body),
            md5=claimed.md5,
            user=claimed.created_by,
            token=claimed.token,
            door=Door.TFE,
        )
    except (InvalidState, services.ChecksumMismatch) as exc:
        raise UploadRefused(422, str(exc)) from None
    if result.decision.refused:
        status = 422 if result.decision.outcome is Outcome.SERIAL_USED else 409
        raise UploadRefused(status, result.decision.reason)
    return result.version


@csrf_exempt
@declares(rule(PUT=ANYONE))  # the single-use secret in the path is the credential
@streams_body  # bounded by ATLAS_MAX_STATE_BYTES in states.intake
def upload(request, secret):
    """`PUT` of the raw state at its single-use URL (no Authorization)."""
    if request.method != "PUT":
        return json_error(405, "Upload with PUT.")
    claimed = uploads.claim(secret)
    if claimed is None:
        return json_error(404, "Not found.")
    try:
        version = _store_upload(claimed, request)
    except UploadRefused as exc:
        uploads.landed(claimed, error=str(exc))
        return json_error(exc.status, str(exc))
    uploads.landed(claimed, version=version)
    return HttpResponse(status=200)


@csrf_exempt
@declares(rule(PUT=ANYONE))  # the single-use secret in the path is the credential
@streams_body  # bounded by a multiple of ATLAS_MAX_STATE_BYTES
def upload_json(request, secret):
    """`PUT` of the state's JSON rendering: accepted once, and dropped."""
    if request.method != "PUT":
        return json_error(405, "Upload with PUT.")
    if uploads.claim(secret, json=True) is None:
        return json_error(404, "Not found.")
    try:
        _upload_body(request, limit=settings.ATLAS_MAX_STATE_BYTES * MAX_JSON_STATE_BYTES_FACTOR)
    except UploadRefused as exc:
        return json_error(exc.status, str(exc))
    return HttpResponse(status=200)
