"""factory-boy factories and archive builders for the environments tests."""

import gzip
import io
import tarfile

import factory

from accounts.tests.factories import UserFactory
from environments import services
from environments.crypto import seal_variable
from environments.models import ConfigurationVersion, Environment, Variable


class EnvironmentFactory(factory.django.DjangoModelFactory):
    """An environment; in a namespace of its own (a new user's) unless given one,
    e.g. `EnvironmentFactory(namespace=personas.org.namespace)` for acme."""

    class Meta:
        model = Environment

    namespace = factory.LazyFunction(lambda: UserFactory().namespace)
    name = factory.Sequence(lambda n: f"env{n}")


class VariableFactory(factory.django.DjangoModelFactory):
    """A variable saved through the same rule the web UI uses (sealed value)."""

    class Meta:
        model = Variable

    environment = factory.SubFactory(EnvironmentFactory)
    category = Variable.Category.TERRAFORM
    key = factory.Sequence(lambda n: f"var{n}")
    value = "value"
    hcl = False
    sensitive = False

    @classmethod
    def _create(cls, model_class, environment, value, **kwargs):
        return services.save_variable(environment, None, value=value, **kwargs)


def stored_variable(environment, key, value, category=Variable.Category.ENV):
    """A variable row written directly, past the name rule: one stored before
    its name was refused."""
    variable = Variable(environment=environment, category=category, key=key)
    seal_variable(variable, value)
    variable.save()
    return variable


class ConfigurationVersionFactory(factory.django.DjangoModelFactory):
    """A pending version made by the push rule; `secret` is kept on the object."""

    class Meta:
        model = ConfigurationVersion

    environment = factory.SubFactory(EnvironmentFactory)

    @classmethod
    def _create(cls, model_class, environment, metadata=None, tf_vars=None, user=None):
        version, secret = services.create_version(environment, user, metadata, tf_vars)
        version.secret = secret
        return version


def _add(tar, info, data=b""):
    if info.isreg() or info.type == tarfile.AREGTYPE:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def file_entry(name, data=b"x", mode=0o644):
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info, data


def dir_entry(name):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info, b""


def symlink_entry(name, target):
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, b""


def hardlink_entry(name, target):
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE
    info.linkname = target
    return info, b""


def special_entry(name, kind):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.devmajor, info.devminor = 1, 3
    return info, b""


def tar_bytes(*entries, compress=True, format=tarfile.PAX_FORMAT):
    """A (gzipped) tar of (TarInfo, data) entries, in order, duplicates allowed."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=format) as tar:
        for info, data in entries:
            _add(tar, info, data)
    raw = buffer.getvalue()
    return gzip.compress(raw, mtime=0) if compress else raw


MAIN_TF = b'variable "greeting" {}\n\noutput "greeting" {\n  value = "${var.greeting}"\n}\n'


def good_archive():
    return tar_bytes(
        dir_entry(".terraform/"),
        file_entry("main.tf", MAIN_TF),
        file_entry(".terraform/terraform.tfstate", b"{}"),
        dir_entry(".terraform/"),
        file_entry(".terraform/terraform.tfstate", b'{"version": 3}'),
    )
