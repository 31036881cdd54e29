"""The one-time upload URL and upload progress."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from atlas.blobs import read_blob
from environments import hooks
from environments.models import EXPIRED_UPLOAD, ConfigurationVersion
from environments.tests.factories import ConfigurationVersionFactory, EnvironmentFactory
from environments.tests.factories import good_archive as archive

pytestmark = pytest.mark.django_db

PROGRESS = "/api/v1/terraform/configurations/acme/app/versions/progress"


def upload_url(version):
    return f"/api/v1/terraform/configuration-uploads/{version.secret}"


def put(client, url, body, **extra):
    return client.put(url, body, content_type="application/octet-stream", **extra)


@pytest.fixture
def version(personas, settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    os.mkdir(settings.FILE_UPLOAD_TEMP_DIR)
    return ConfigurationVersionFactory(
        environment=EnvironmentFactory(namespace=personas.org.namespace, name="app")
    )


def test_an_upload_without_a_token_finishes_the_version_and_stores_it_encrypted(
    anonymous, version, isolated_data, settings
):
    body = archive()
    response = put(anonymous, upload_url(version), body)
    assert response.status_code == 200
    assert response.json() == {"version": {"version": 1, "status": "finished", "error": None}}
    version.refresh_from_db()
    assert version.status == ConfigurationVersion.Status.FINISHED
    assert version.finished_at is not None
    assert version.archive_size == len(body)
    assert read_blob(version.archive_name, version.archive_key_id) == body
    stored = (isolated_data.blobs / version.archive_name).read_bytes()
    assert body not in stored  # encrypted at rest
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []


def test_the_upload_url_works_once(anonymous, version):
    assert put(anonymous, upload_url(version), archive()).status_code == 200
    response = put(anonymous, upload_url(version), archive())
    assert response.status_code == 404
    assert response.json() == {"errors": {"base": ["This upload URL is unknown, used or expired."]}}
    version.refresh_from_db()
    assert version.status == ConfigurationVersion.Status.FINISHED


def test_a_failed_upload_also_uses_the_url_up(anonymous, version):
    assert put(anonymous, upload_url(version), b"not an archive").status_code == 422
    assert put(anonymous, upload_url(version), archive()).status_code == 404
    version.refresh_from_db()
    assert version.status == ConfigurationVersion.Status.ERRORED


def test_the_upload_url_expires(anonymous, version, personas):
    ConfigurationVersion.objects.filter(pk=version.pk).update(
        upload_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert put(anonymous, upload_url(version), archive()).status_code == 404
    version.refresh_from_db()
    assert version.upload_used_at is None
    assert version.archive_name == ""
    progress = personas.reader.client.get(f"{PROGRESS}/{version.secret}")
    assert progress.json() == {
        "version": {"version": 1, "status": "errored", "error": EXPIRED_UPLOAD}
    }


def test_the_url_lives_for_the_configured_time(personas, settings):
    settings.ATLAS_UPLOAD_URL_TTL_SECONDS = 120
    before = timezone.now()
    version = ConfigurationVersionFactory(
        environment=EnvironmentFactory(namespace=personas.org.namespace, name="app")
    )
    assert before + timedelta(seconds=119) < version.upload_expires_at
    assert version.upload_expires_at <= timezone.now() + timedelta(seconds=120)


def test_a_new_push_records_expired_versions_as_errored(personas):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    stale = ConfigurationVersionFactory(environment=environment)
    ConfigurationVersion.objects.filter(pk=stale.pk).update(
        upload_expires_at=timezone.now() - timedelta(seconds=1)
    )
    ConfigurationVersionFactory(environment=environment)
    stale.refresh_from_db()
    assert stale.status == ConfigurationVersion.Status.ERRORED
    assert stale.error == EXPIRED_UPLOAD


def test_an_unknown_secret_is_a_404(anonymous, version):
    response = put(anonymous, "/api/v1/terraform/configuration-uploads/guess", archive())
    assert response.status_code == 404
    version.refresh_from_db()
    assert version.status == ConfigurationVersion.Status.PENDING


def test_a_token_header_is_neither_needed_nor_checked(anonymous, version):
    response = put(anonymous, upload_url(version), archive(), HTTP_X_ATLAS_TOKEN="garbage")
    assert response.status_code == 200


def test_a_body_above_the_limit_is_a_413_and_the_version_errors(anonymous, version, settings):
    settings.ATLAS_MAX_ARCHIVE_BYTES = 100
    response = put(anonymous, upload_url(version), archive() + b"\0" * 200)
    assert response.status_code == 413
    assert response.json() == {"errors": {"archive": ["The archive is larger than 100 bytes."]}}
    version.refresh_from_db()
    assert version.status == ConfigurationVersion.Status.ERRORED
    assert version.error == "The archive is larger than 100 bytes."
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []


def test_an_empty_body_is_refused(anonymous, version):
    response = put(anonymous, upload_url(version), b"", CONTENT_LENGTH="0")
    assert response.status_code == 422
    version.refresh_from_db()
    assert "empty" in version.error


def test_a_body_without_content_length_is_a_400(anonymous, version):
    response = put(anonymous, upload_url(version), b"")
    assert response.status_code == 400
    assert response.json() == {
        "errors": {"archive": ["Send the archive with a Content-Length header."]}
    }
    version.refresh_from_db()
    assert version.status == ConfigurationVersion.Status.ERRORED


def test_a_body_shorter_than_its_content_length_is_a_400(version):
    from environments.services import BadUpload, receive_upload

    body = archive()
    chunks = iter([body[:10]])
    with pytest.raises(BadUpload):
        receive_upload(version.secret, lambda n: next(chunks, b""), len(body))
    version.refresh_from_db()
    assert version.error == f"The upload ended after 10 of {len(body)} bytes."


def test_a_finished_upload_hands_the_version_to_the_runs_app_after_commit(
    anonymous, version, monkeypatch, django_capture_on_commit_callbacks
):
    finished = []
    monkeypatch.setattr(hooks, "configuration_version_finished", finished.append)
    with django_capture_on_commit_callbacks(execute=True):
        put(anonymous, upload_url(version), archive())
    assert [v.pk for v in finished] == [version.pk]
    assert finished[0].status == ConfigurationVersion.Status.FINISHED


def test_a_refused_upload_queues_nothing(
    anonymous, version, monkeypatch, django_capture_on_commit_callbacks
):
    finished = []
    monkeypatch.setattr(hooks, "configuration_version_finished", finished.append)
    with django_capture_on_commit_callbacks(execute=True):
        put(anonymous, upload_url(version), b"junk")
    assert finished == []


def test_progress_reports_pending_finished_and_errored(personas, anonymous, version):
    client = personas.reader.client
    assert client.get(f"{PROGRESS}/{version.secret}").json() == {
        "version": {"version": 1, "status": "pending", "error": None}
    }
    put(anonymous, upload_url(version), archive())
    assert client.get(f"{PROGRESS}/{version.secret}").json()["version"]["status"] == "finished"
    second = ConfigurationVersionFactory(environment=version.environment)
    put(anonymous, upload_url(second), b"junk")
    body = client.get(f"{PROGRESS}/{second.secret}").json()["version"]
    assert body["version"] == 2
    assert body["status"] == "errored"
    assert body["error"].startswith("The archive was refused: The upload is not a valid gzip")


def test_progress_of_an_unknown_or_foreign_token_is_a_404(personas, version):
    other = ConfigurationVersionFactory(
        environment=EnvironmentFactory(namespace=personas.org.namespace, name="other")
    )
    client = personas.reader.client
    assert client.get(f"{PROGRESS}/nothing").status_code == 404
    assert client.get(f"{PROGRESS}/{other.secret}").status_code == 404
    assert personas.outsider.client.get(f"{PROGRESS}/{version.secret}").status_code == 404
