"""State bodies as Terraform writes them, and factories that store them."""

import base64
import hashlib
import json

import factory

from accounts.models import Namespace
from environments.lookup import create_environment
from environments.tests.factories import EnvironmentFactory
from states import services, uploads
from states.models import EnvironmentState, StateUpload, StateVersion

LINEAGE = "5b2c1d3e-7a8f-4c6d-9e0f-1a2b3c4d5e6f"
OTHER_LINEAGE = "00000000-1111-2222-3333-444444444444"


def _outputs_011(outputs):
    found = {}
    for name, value in (outputs or {}).items():
        sensitive = False
        if isinstance(value, tuple):
            value, sensitive = value
        kind = "string" if isinstance(value, str) else "list" if isinstance(value, list) else "map"
        found[name] = {"sensitive": sensitive, "type": kind, "value": value}
    return found


def state_doc(serial=1, lineage=LINEAGE, outputs=None, resources=None):
    """A Terraform 0.11 state: `outputs` name -> value or (value, sensitive);
    `resources` address -> attributes (a flat dict of strings)."""
    return {
        "version": 3,
        "terraform_version": "0.11.11",
        "serial": serial,
        "lineage": lineage,
        "modules": [
            {
                "path": ["root"],
                "outputs": _outputs_011(outputs),
                "resources": {
                    address: {
                        "type": address.split(".")[-2],
                        "depends_on": [],
                        "primary": {
                            "id": attributes.get("id", address),
                            "attributes": attributes,
                            "meta": {},
                            "tainted": False,
                        },
                        "deposed": [],
                        "provider": "provider.null",
                    }
                    for address, attributes in (resources or {}).items()
                },
                "depends_on": [],
            }
        ],
    }


def state_doc_v4(serial=1, lineage=LINEAGE, outputs=None, resources=None):
    """A Terraform 0.12+ state: `resources` is a list of dicts as Terraform writes them."""
    found = {}
    for name, value in (outputs or {}).items():
        sensitive = False
        if isinstance(value, tuple):
            value, sensitive = value
        found[name] = {"value": value, "type": "string", "sensitive": sensitive}
    return {
        "version": 4,
        "terraform_version": "1.5.7",
        "serial": serial,
        "lineage": lineage,
        "outputs": found,
        "resources": resources or [],
    }


def encode(doc, indent=4):
    return json.dumps(doc, indent=indent).encode() + b"\n"


def state_bytes(serial=1, lineage=LINEAGE, outputs=None, resources=None, indent=4):
    return encode(state_doc(serial, lineage, outputs, resources), indent)


def md5_b64(body):
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def put_state(client, url, body, md5=True, **extra):
    """PUT a state the way Terraform's atlas backend does."""
    if md5 is True:
        extra["HTTP_CONTENT_MD5"] = md5_b64(body)
    elif md5:
        extra["HTTP_CONTENT_MD5"] = md5
    return client.put(url, data=body, content_type="application/json", **extra)


def environment(namespace="acme", name="network"):
    return create_environment(Namespace.objects.get(name=namespace), name)


class StateVersionFactory(factory.django.DjangoModelFactory):
    """A version stored through the write rule (with its encrypted blob)."""

    class Meta:
        model = StateVersion

    environment = factory.SubFactory(EnvironmentFactory)
    serial = factory.Sequence(lambda n: n + 1)
    body = None

    @classmethod
    def _create(cls, model_class, environment, serial, body=None, user=None, **kwargs):
        body = body or state_bytes(serial, **kwargs)
        result = services.write_state(environment, body, user=user)
        assert result.decision.stores, result.decision.reason
        return result.version


class EnvironmentStateFactory(factory.django.DjangoModelFactory):
    """An environment's state row, with a head stored through the write rule."""

    class Meta:
        model = EnvironmentState

    environment = factory.SubFactory(EnvironmentFactory)

    @classmethod
    def _create(cls, model_class, environment):
        StateVersionFactory(environment=environment, serial=1)
        return model_class.objects.get(environment=environment)


class StateUploadFactory(factory.django.DjangoModelFactory):
    """A pending state upload (TFE v2) announced by a new user; its secrets
    are `.secret` and `.json_secret`."""

    class Meta:
        model = StateUpload

    environment = factory.SubFactory(EnvironmentFactory)
    serial = 1
    lineage = LINEAGE
    body = factory.LazyAttribute(lambda row: state_bytes(row.serial, row.lineage))

    @classmethod
    def _create(cls, model_class, environment, serial, lineage, body):
        md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
        upload, raw, rendered = uploads.announce(environment, serial, lineage, md5, None, None)
        upload.secret, upload.json_secret = raw, rendered
        return upload
