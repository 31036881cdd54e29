"""ATLAS_MAX_BODY_BYTES: one limit for every body but the streamed uploads."""

import io
import json

import pytest
from django.test import Client

from accounts.models import Token
from accounts.tests.factories import PASSWORD, UserFactory
from environments.models import Environment, Variable
from environments.tests.factories import ConfigurationVersionFactory, EnvironmentFactory
from environments.tests.factories import good_archive as archive
from states.models import StateVersion
from states.tests.factories import md5_b64

pytestmark = pytest.mark.django_db

LIMIT = 4096


class Unreadable(io.RawIOBase):
    """A request stream that fails the test if anything reads it."""

    def read(self, size=-1):
        raise AssertionError("the body was read")

    def readinto(self, buffer):
        raise AssertionError("the body was read")


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.ATLAS_MAX_BODY_BYTES = LIMIT


def login_body(username="ada", password=PASSWORD, padding=0):
    body = {"user": {"login": username, "password": password}, "padding": "x" * padding}
    return json.dumps(body).encode()


def chunked(client, method, path, body, **extra):
    """A request as gunicorn hands on a chunked one: no Content-Length, decoded input."""
    return client.generic(
        method,
        path,
        b"",
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True},
        **extra,
    )


def test_a_declared_length_over_the_limit_is_413_before_a_byte_is_read(anonymous):
    response = anonymous.post(
        "/api/v1/authenticate",
        b"",
        content_type="application/json",
        CONTENT_LENGTH=str(300 * 1024 * 1024),
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413
    assert response.json() == {
        "errors": {"base": [f"The body is larger than this server's limit of {LIMIT} bytes."]}
    }


def test_every_api_write_has_the_same_limit(personas):
    EnvironmentFactory(namespace=personas.org.namespace, name="network")
    url = "/api/v1/environments/acme/network/variables"
    body = json.dumps({"variables": {"big": "v" * LIMIT}})
    response = personas.writer.client.put(url, body, content_type="application/json")
    assert response.status_code == 413
    assert set(response.json()["errors"]) == {"base"}
    assert not Variable.objects.exists()


def test_a_body_at_the_limit_is_parsed(anonymous):
    UserFactory(username="ada")
    body = login_body()
    body = login_body(padding=LIMIT - len(body))
    assert len(body) == LIMIT
    response = anonymous.post("/api/v1/authenticate", body, content_type="application/json")
    assert response.status_code == 201
    assert Token.objects.filter(user__username="ada").count() == 1


def test_a_chunked_body_under_the_limit_is_parsed_like_any_other(anonymous):
    UserFactory(username="ada")
    response = chunked(anonymous, "POST", "/api/v1/authenticate", login_body())
    assert response.status_code == 201
    assert Token.objects.filter(user__username="ada").count() == 1


def test_a_chunked_body_over_the_limit_is_cut_off_with_413(anonymous):
    UserFactory(username="ada")
    stream = io.BytesIO(login_body(padding=10_000_000))
    response = anonymous.generic(
        "POST",
        "/api/v1/authenticate",
        b"",
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": stream, "wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert stream.tell() <= LIMIT + 64 * 1024  # read no further than one chunk past it
    assert not Token.objects.exists()


def test_a_content_length_that_is_not_a_number_is_400(anonymous):
    response = anonymous.post(
        "/api/v1/authenticate", b"{}", content_type="application/json", CONTENT_LENGTH="12abc"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["base"] == ["Content-Length must be a non-negative integer."]


def test_a_web_form_over_the_limit_is_a_413_page_before_csrf_reads_it():
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/login",
        b"",
        content_type="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(LIMIT + 1),
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert f"limit of {LIMIT} bytes" in response.content.decode()


def test_a_multipart_body_over_the_limit_never_reaches_a_temporary_file():
    client = Client()
    response = client.post(
        "/login",
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(100 * 1024 * 1024),
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413


def test_a_state_larger_than_the_body_limit_streams_under_its_own_limit(personas):
    state = json.dumps({"version": 3, "serial": 1, "lineage": "l", "pad": "x" * LIMIT}).encode()
    response = personas.writer.client.put(
        "/api/v1/terraform/state/acme/network",
        state,
        content_type="application/json",
        HTTP_CONTENT_MD5=md5_b64(state),
    )
    assert response.status_code == 200
    assert StateVersion.objects.get().size == len(state)


def test_a_state_above_its_own_limit_is_still_refused(personas, settings):
    settings.ATLAS_MAX_STATE_BYTES = LIMIT * 2
    response = personas.writer.client.put(
        "/api/v1/terraform/state/acme/network",
        b"",
        content_type="application/json",
        CONTENT_LENGTH=str(LIMIT * 2 + 1),
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413
    assert "ATLAS_MAX_STATE_BYTES" in response.json()["errors"]["base"][0]
    assert not Environment.objects.exists()


def test_an_archive_larger_than_the_body_limit_uploads_under_its_own_limit(
    anonymous, personas, settings, tmp_path
):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    version = ConfigurationVersionFactory(
        environment=EnvironmentFactory(namespace=personas.org.namespace, name="app")
    )
    body = archive() + b"\0" * LIMIT  # tar ignores what follows its end-of-archive blocks
    assert len(body) > LIMIT
    response = anonymous.put(
        f"/api/v1/terraform/configuration-uploads/{version.secret}",
        body,
        content_type="application/octet-stream",
    )
    assert response.status_code == 200, response.content
    version.refresh_from_db()
    assert version.archive_size == len(body)
