"""Large and odd bodies: the size limit, Content-Length, chunked bodies, queries."""

import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from states.intake import read_body
from states.models import StateVersion

from .factories import md5_b64, put_state, state_bytes


class Unreadable(io.RawIOBase):
    """A request stream that fails the test if anything reads it."""

    def read(self, size=-1):
        raise AssertionError("the body was read")

    def readinto(self, buffer):
        raise AssertionError("the body was read")


def big_state(size):
    filler = "x" * (size - 200)
    return json.dumps({"serial": 1, "lineage": "l", "filler": filler}).encode()


def test_a_normal_5_mb_state_passes_django_s_form_limits(personas, network, url, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # Django's own default
    body = big_state(5 * 1024 * 1024)
    response = put_state(personas.writer.client, url, body)
    assert response.status_code == 200
    response = personas.reader.client.get(url)
    assert response.streaming  # above 4 MiB the body streams from the blob
    assert response["Content-Length"] == str(len(body))
    assert b"".join(response.streaming_content) == body


def test_a_state_at_the_limit_is_accepted(personas, network, url, settings):
    body = big_state(4096)
    settings.ATLAS_MAX_STATE_BYTES = len(body)
    assert put_state(personas.writer.client, url, body).status_code == 200


def test_a_content_length_above_the_limit_is_413_before_reading(personas, network, url, settings):
    settings.ATLAS_MAX_STATE_BYTES = 1000
    response = personas.writer.client.put(
        url,
        data=b"",
        content_type="application/json",
        CONTENT_LENGTH="200000000",
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413
    assert "limit of 1000 bytes" in response.json()["errors"]["base"][0]
    assert not StateVersion.objects.exists()


def test_an_honest_body_above_the_limit_is_413(personas, network, url, settings):
    settings.ATLAS_MAX_STATE_BYTES = 1000
    assert put_state(personas.writer.client, url, big_state(2000)).status_code == 413


def test_a_chunked_body_is_counted_and_cut_off_at_the_limit(settings):
    settings.ATLAS_MAX_STATE_BYTES = 1000
    stream = io.BytesIO(b"x" * 10_000_000)
    request = _chunked_request(stream)
    with pytest.raises(Exception) as caught:
        read_body(request)
    assert caught.value.status_code == 413
    assert stream.tell() <= 1000 + 256 * 1024  # stopped within one chunk of the limit


def test_a_chunked_body_below_the_limit_is_read_whole():
    body = state_bytes(serial=1)
    assert read_body(_chunked_request(io.BytesIO(body))) == body


def test_a_chunked_put_is_stored(personas, network, url):
    body = state_bytes(serial=1)
    response = personas.writer.client.put(
        url,
        data=b"",
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        HTTP_CONTENT_MD5=md5_b64(body),
        **{"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True},
    )
    assert response.status_code == 200
    assert personas.reader.client.get(url).content == body


def test_a_body_shorter_than_its_content_length_is_400(personas, network, url):
    body = state_bytes(serial=1)
    response = personas.writer.client.put(
        url,
        data=b"",
        content_type="application/json",
        CONTENT_LENGTH=str(len(body) + 10),
        **{"wsgi.input": io.BytesIO(body)},
    )
    assert response.status_code == 400
    assert "ended after" in response.json()["errors"]["base"][0]


def test_a_negative_content_length_is_400(personas, network, url):
    response = personas.writer.client.put(
        url, data=b"", content_type="application/json", CONTENT_LENGTH="-5"
    )
    assert response.status_code == 400


def test_an_outsider_is_refused_before_the_body_is_read(personas, network, url):
    response = personas.outsider.client.put(
        url,
        data=b"",
        content_type="application/json",
        CONTENT_LENGTH="100",
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 404


def test_get_of_the_head_takes_two_queries(personas, network, url, django_assert_num_queries):
    put_state(personas.writer.client, url, state_bytes(serial=1))
    personas.reader.client.get(url)  # the token's last use is recorded once a minute
    # The token (with its user), then namespace + privilege + environment + head.
    with django_assert_num_queries(2):
        assert personas.reader.client.get(url).status_code == 200


def test_a_missing_head_also_takes_two_queries(personas, network, url, django_assert_num_queries):
    personas.reader.client.get(url)
    with django_assert_num_queries(2):
        assert personas.reader.client.get(url).status_code == 404


def _chunked_request(stream):
    from django.test import RequestFactory

    return RequestFactory().put(
        "/",
        data=b"",
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": stream, "wsgi.input_terminated": True},
    )


@pytest.mark.parametrize("role", ["admin", "reader", "outsider"])
@pytest.mark.parametrize("path", ["acme/network", "ACME/Network", "acme/other", "outsider/mine"])
def test_the_compiled_head_lookup_finds_what_the_orm_finds(personas, network, role, path):
    from states import selectors

    put_state(personas.writer.client, "/api/v1/terraform/state/acme/network", state_bytes())
    put_state(personas.outsider.client, "/api/v1/terraform/state/outsider/mine", state_bytes())
    user = getattr(personas, role).user
    username, name = path.split("/")
    assert selectors._compiled_head_query(connection) is not None
    fast = selectors.readable_head(user, username, name)
    row = next(iter(selectors._head_queryset(user, username, name)), None)
    assert (fast.pk if fast else None) == (row[0] if row else None)
    user.is_staff = True  # staff take the ORM path, in case privileges ever treat them apart
    slow = selectors.readable_head(user, username, name)
    assert (slow.pk if slow else None) == (fast.pk if fast else None)


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def _statements(captured):
    """The SQL statements of a request, transaction control left out."""
    return [q["sql"] for q in captured if not q["sql"].startswith(TRANSACTION_CONTROL)]


@pytest.mark.parametrize("namespace", ["acme", "writer"])
def test_a_put_takes_six_queries(personas, network, namespace):
    """The token; the environment with its namespace and the caller's level
    (an organization's or one's own); both row locks with the head; the
    version, the new head, the audit event. Besides them only the write's
    transaction (BEGIN/COMMIT, or a savepoint in a test)."""
    url = f"/api/v1/terraform/state/{namespace}/network"
    assert put_state(personas.writer.client, url, state_bytes(serial=1)).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        assert put_state(personas.writer.client, url, state_bytes(serial=2)).status_code == 200
    statements = _statements(captured.captured_queries)
    assert [sql.split()[0] for sql in statements] == [
        "SELECT", "SELECT", "SELECT", "INSERT", "UPDATE", "INSERT"
    ]  # fmt: skip
    assert len(captured.captured_queries) - len(statements) == 2
    assert StateVersion.objects.filter(environment__namespace__name=namespace).count() == 2
