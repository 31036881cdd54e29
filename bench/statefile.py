"""Realistic Terraform 0.11 state bodies of a chosen size, for the benchmarks.

Resources look like an AWS instance in 0.11's flat attribute map; text is
mostly ASCII with a few non-ASCII characters, as real tags have.
"""

import json
import random
import string
import uuid


def _resource(rnd, index):
    attributes = {
        "id": f"i-{index:08x}",
        "ami": "ami-0c55b159cbfafe1f0",
        "instance_type": "t3.micro",
        "tags.%": "2",
        "tags.Name": f"web-{index}",
        "tags.Team": "platform — Zürich",
    }
    for k in range(12):
        attributes[f"ebs_block_device.{k}.volume_size"] = str(rnd.randint(8, 500))
        attributes[f"vpc_security_group_ids.{k}"] = "sg-" + "".join(
            rnd.choices(string.hexdigits.lower(), k=17)
        )
    return {
        "type": "aws_instance",
        "depends_on": ["aws_subnet.main", "aws_security_group.web"],
        "primary": {
            "id": attributes["id"],
            "attributes": attributes,
            "meta": {"schema_version": "1"},
            "tainted": False,
        },
        "deposed": [],
        "provider": "provider.aws",
    }


def state(target_bytes, serial=1, lineage=None, seed=1, count=None):
    """A state document whose encoding (`encode`) is about `target_bytes` long."""
    rnd = random.Random(seed)
    lineage = lineage or str(uuid.UUID(int=rnd.getrandbits(128)))
    if count is None:
        sample = len(encode(state(0, serial, lineage, seed, count=20)))
        empty = len(encode(state(0, serial, lineage, seed, count=0)))
        count = max(1, round((target_bytes - empty) * 20 / (sample - empty)))
    resources = {f"aws_instance.web.{i}": _resource(rnd, i) for i in range(count)}
    return {
        "version": 3,
        "terraform_version": "0.11.11",
        "serial": serial,
        "lineage": lineage,
        "modules": [
            {
                "path": ["root"],
                "outputs": {
                    "vpc_id": {"sensitive": False, "type": "string", "value": "vpc-0abc"},
                    "db_password": {"sensitive": True, "type": "string", "value": "hunter2"},
                },
                "resources": resources,
                "depends_on": [],
            }
        ],
    }


def encode(document):
    """As Terraform (Go) writes it: indent 4, raw UTF-8, a final newline."""
    return json.dumps(document, indent=4, ensure_ascii=False).encode() + b"\n"


def state_bytes(target_bytes, serial=1, lineage=None, seed=1):
    return encode(state(target_bytes, serial, lineage, seed))


def with_serial(body, serial):
    """The same body with another serial (the serial sits near the start)."""
    head, _, rest = body.partition(b'"serial": ')
    digits = len(rest) - len(rest.lstrip(b"0123456789"))
    return head + b'"serial": ' + str(serial).encode() + rest[digits:]
