"""Builders for the runs tests: environments, finished configuration
versions with real archives, and runs in any status."""

import gzip
import io
import tarfile

import factory
from django.utils import timezone

from accounts.models import Namespace
from atlas.blobs import write_blob
from environments import services
from environments.models import ConfigurationVersion, Environment
from environments.tests.factories import EnvironmentFactory
from runs.models import Run, Status

OUTPUT_TF = 'output "greeting" {\n  value = "hello"\n}\n'


def archive(files):
    """A gzipped tar of `{path: text}`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            data = text.encode() if isinstance(text, str) else text
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue())


def environment(name="app", namespace="acme", auto_apply=False):
    return Environment.objects.create(
        namespace=Namespace.objects.get(name=namespace), name=name, auto_apply=auto_apply
    )


def finished_version(env, files=None, user=None):
    """A finished configuration version whose archive holds `files`, stored
    the way an upload stores it, without queueing a run."""
    version, _secret = services.create_version(env, user)
    info = write_blob(f"configurations/{env.pk}", [archive(files or {"main.tf": OUTPUT_TF})])
    ConfigurationVersion.objects.filter(pk=version.pk).update(
        status=ConfigurationVersion.Status.FINISHED,
        finished_at=timezone.now(),
        archive_name=info.name,
        archive_key_id=info.key_id,
        archive_size=info.size,
        archive_sha256=info.sha256_hex,
    )
    version.refresh_from_db()
    return version


class RunFactory(factory.django.DjangoModelFactory):
    """A run in any status, written directly (no queue, no task)."""

    class Meta:
        model = Run

    environment = factory.SubFactory(EnvironmentFactory)
    configuration_version = factory.LazyAttribute(lambda run: finished_version(run.environment))
    status = Status.PENDING


def notification(env, kind="webhook", url="https://hooks.example.com/atlas", **fields):
    """A notification configuration made through the service (its rules
    apply); returns (configuration, secret)."""
    from runs.notifications.services import create_configuration

    data = {"kind": kind, "events": fields.pop("events", ["planned", "errored"]), **fields}
    if kind != "email":
        data["url"] = url
    return create_configuration(env, None, data)
