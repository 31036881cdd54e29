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
from runs.logs import append_text
from runs.models import Run, RunLogChunk, Status
from runs.notifications.models import Delivery, DeliveryAttempt, NotificationConfiguration

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


class RunLogChunkFactory(factory.django.DjangoModelFactory):
    """A line of a run's plan log, appended by the log rule."""

    class Meta:
        model = RunLogChunk

    run = factory.SubFactory(RunFactory)
    phase = "plan"
    text = "Refreshing Terraform state in-memory prior to plan...\n"

    @classmethod
    def _create(cls, model_class, run, phase, text):
        append_text(run, phase, text)
        return model_class.objects.filter(run=run, phase=phase).latest("offset")


class NotificationConfigurationFactory(factory.django.DjangoModelFactory):
    """A webhook configuration made through the service (its secret: `.secret`)."""

    class Meta:
        model = NotificationConfiguration

    environment = factory.SubFactory(EnvironmentFactory)
    kind = "webhook"
    url = "https://hooks.example.com/atlas"

    @classmethod
    def _create(cls, model_class, environment, kind, url, **fields):
        return notification(environment, kind=kind, url=url, **fields)[0]


class DeliveryFactory(factory.django.DjangoModelFactory):
    """A pending delivery of a run's `planned` event."""

    class Meta:
        model = Delivery

    configuration = factory.SubFactory(NotificationConfigurationFactory)
    run = factory.LazyAttribute(
        lambda row: RunFactory(environment=row.configuration.environment, status=Status.PLANNED)
    )
    event = "planned"


class DeliveryAttemptFactory(factory.django.DjangoModelFactory):
    """A first attempt at a delivery that failed with a 500."""

    class Meta:
        model = DeliveryAttempt

    delivery = factory.SubFactory(DeliveryFactory)
    number = 1
    outcome = DeliveryAttempt.Outcome.FAILED
    status_code = 500
    finished_at = factory.LazyFunction(timezone.now)
