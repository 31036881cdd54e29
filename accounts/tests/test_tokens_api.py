"""Token authentication and the /api/v1/tokens endpoints."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import tokens
from accounts.models import Token
from conftest import api_client

pytestmark = pytest.mark.django_db

BAD = {
    "errors": {
        "base": ["Invalid or missing API token. Send a valid token in the X-Atlas-Token header."]
    }
}


def test_it_accepts_a_valid_token(personas):
    response = personas.writer.client.get("/api/v1/authenticate")
    assert response.status_code == 200
    assert response.json() == {"username": "writer"}


@pytest.mark.parametrize(
    "header",
    [None, "", "garbage", "abc.atlasv1.def", "x" * 16 + ".atlasv1." + "y" * 49],
)
def test_it_answers_every_bad_token_with_the_same_401(anonymous, header):
    if header is not None:
        anonymous.credentials(HTTP_X_ATLAS_TOKEN=header)
    response = anonymous.get("/api/v1/user")
    assert response.status_code == 401
    assert response.json() == BAD
    assert response["WWW-Authenticate"].startswith("X-Atlas-Token")


def test_it_refuses_a_wrong_secret_with_a_valid_checksum(personas):
    token = Token.objects.get(user=personas.writer.user)
    body = f"{token.public_id}.atlasv1.{'A' * tokens.RANDOM_LENGTH}"
    forged = body + tokens.checksum(body)
    response = api_client(forged).get("/api/v1/user")
    assert response.status_code == 401
    assert response.json() == BAD


def test_revocation_takes_effect_on_the_next_request(personas):
    client = personas.writer.client
    public_id = personas.writer.token.split(".")[0]
    assert client.get("/api/v1/user").status_code == 200
    response = client.delete(f"/api/v1/tokens/{public_id}")
    assert response.status_code == 204
    assert Token.objects.get(public_id=public_id).revoked_at is not None
    assert client.get("/api/v1/user").json() == BAD


def test_an_expired_token_is_refused(personas):
    Token.objects.filter(user=personas.reader.user).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert personas.reader.client.get("/api/v1/user").status_code == 401


def test_an_inactive_user_is_refused(personas):
    personas.reader.user.is_active = False
    personas.reader.user.save()
    assert personas.reader.client.get("/api/v1/user").status_code == 401


def test_token_authentication_costs_one_query(personas, django_assert_num_queries):
    client = personas.writer.client
    client.get("/api/v1/authenticate")  # records last use
    with django_assert_num_queries(1):
        assert client.get("/api/v1/authenticate").status_code == 200


def test_last_use_is_written_at_most_once_a_minute(personas):
    client = personas.writer.client
    client.get("/api/v1/authenticate")
    first = Token.objects.get(user=personas.writer.user).last_used_at
    client.get("/api/v1/authenticate")
    assert Token.objects.get(user=personas.writer.user).last_used_at == first
    Token.objects.filter(user=personas.writer.user).update(
        last_used_at=first - timedelta(minutes=2)
    )
    client.get("/api/v1/authenticate")
    assert Token.objects.get(user=personas.writer.user).last_used_at > first


def test_a_token_in_the_query_string_is_refused(personas):
    response = api_client().get(f"/api/v1/user?access_token={personas.writer.token}")
    assert response.status_code == 400
    assert "X-Atlas-Token header" in response.json()["errors"]["base"][0]


def test_creating_a_token_shows_the_text_once(personas):
    client = personas.writer.client
    response = client.post(
        "/api/v1/tokens", {"token": {"description": "ci", "read_only": True}}, format="json"
    )
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    body = response.json()["token"]
    assert body["description"] == "ci" and body["read_only"] is True
    text = body["token"]
    assert text.startswith(body["id"] + ".atlasv1.")
    assert tokens.looks_like_token(text)
    listing = client.get("/api/v1/tokens").json()
    assert listing["meta"] == {"total": 2, "page": 1, "per_page": 20}
    assert all("token" not in t and "digest" not in t for t in listing["tokens"])
    assert text not in str(listing)
    assert api_client(text).get("/api/v1/user").status_code == 200


def test_a_read_only_token_may_not_write(personas):
    _, text = tokens.issue(personas.writer.user, read_only=True)
    client = api_client(text)
    assert client.get("/api/v1/tokens").status_code == 200
    response = client.post("/api/v1/organizations", {"organization": {"name": "x"}}, format="json")
    assert response.status_code == 403
    assert response.json() == {"errors": {"base": ["This token is read-only."]}}


def test_an_expiry_in_the_past_is_refused(personas):
    response = personas.writer.client.post(
        "/api/v1/tokens",
        {"token": {"expires_at": (timezone.now() - timedelta(days=1)).isoformat()}},
        format="json",
    )
    assert response.status_code == 422
    assert response.json() == {"errors": {"expires_at": ["must be in the future"]}}
    assert Token.objects.filter(user=personas.writer.user).count() == 1


def test_a_token_of_someone_else_cannot_be_revoked(personas):
    public_id = personas.reader.token.split(".")[0]
    response = personas.writer.client.delete(f"/api/v1/tokens/{public_id}")
    assert response.status_code == 404
    assert Token.objects.get(public_id=public_id).revoked_at is None


def test_repeated_failures_are_throttled(settings, anonymous):
    settings.ATLAS_AUTH_FAILURE_LIMIT = 3
    anonymous.credentials(HTTP_X_ATLAS_TOKEN="nope")
    statuses = [anonymous.get("/api/v1/user").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    response = anonymous.get("/api/v1/user")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "errors" in response.json()


def test_the_database_holds_no_token_text(personas, django_db_blocker):
    from django.core import serializers

    dump = serializers.serialize("json", Token.objects.all())
    for persona in (personas.admin, personas.writer, personas.reader):
        secret = persona.token.split(".atlasv1.")[1]
        assert secret not in dump


def test_a_browser_session_cannot_create_tokens_through_the_api(personas):
    from django.test import Client

    client = Client()
    client.force_login(personas.writer.user)
    response = client.post("/api/v1/tokens", {"token": {}}, content_type="application/json")
    assert response.status_code == 403
    assert "/settings/tokens" in response.json()["errors"]["base"][0]
    assert Token.objects.filter(user=personas.writer.user).count() == 1


def test_a_run_token_cannot_create_tokens(personas):
    _, text = tokens.issue(personas.writer.user, kind=Token.Kind.RUN)
    response = api_client(text).post("/api/v1/tokens", {"token": {}}, format="json")
    assert response.status_code == 404
    assert Token.objects.filter(user=personas.writer.user).count() == 2
