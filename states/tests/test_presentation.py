"""Outputs, resources and what changed, for people (states.presentation)."""

import json

from states.presentation import MASK, masked, outputs, resources, summarize, unified

from .factories import state_doc, state_doc_v4


def test_outputs_of_a_011_state_with_sensitive_ones_masked():
    doc = state_doc(outputs={"ip": "10.0.0.1", "password": ("hunter2", True), "ids": ["a", "b"]})
    found = outputs(doc)
    assert list(found) == ["ids", "ip", "password"]
    assert found["ip"].shown == "10.0.0.1"
    assert found["ids"].shown == '["a", "b"]'
    assert found["password"].shown == MASK
    assert found["password"].type == "string"


def test_outputs_of_a_012_state():
    doc = state_doc_v4(outputs={"url": "https://x", "token": ("t0k3n", True)})
    assert {n: o.shown for n, o in outputs(doc).items()} == {"token": MASK, "url": "https://x"}


def test_only_root_module_outputs_are_the_state_s_outputs():
    doc = state_doc(outputs={"root": "yes"})
    doc["modules"].append({"path": ["root", "child"], "outputs": {"inner": {"value": "no"}}})
    assert list(outputs(doc)) == ["root"]


def test_resource_addresses_of_a_011_state_include_modules():
    doc = state_doc(resources={"aws_instance.web.0": {"id": "i-1"}})
    doc["modules"].append(
        {"path": ["root", "net", "sub"], "resources": {"aws_vpc.main": {"primary": {}}}}
    )
    assert sorted(resources(doc)) == ["aws_instance.web.0", "module.net.module.sub.aws_vpc.main"]


def test_resource_addresses_of_a_012_state():
    doc = state_doc_v4(
        resources=[
            {"mode": "managed", "type": "aws_instance", "name": "web",
             "instances": [{"index_key": 0, "attributes": {}}, {"index_key": 1}]},
            {"mode": "data", "type": "aws_ami", "name": "ubuntu", "instances": [{}]},
            {"module": "module.net", "mode": "managed", "type": "aws_subnet", "name": "s",
             "instances": [{"index_key": "a"}]},
        ]
    )  # fmt: skip
    assert sorted(resources(doc)) == [
        "aws_instance.web[0]",
        "aws_instance.web[1]",
        "data.aws_ami.ubuntu",
        'module.net.aws_subnet.s["a"]',
    ]


def test_the_summary_says_what_changed_between_two_applies():
    old = state_doc(
        outputs={"ip": "10.0.0.1", "gone": "x", "secret": ("s1", True)},
        resources={
            "null_resource.a": {"id": "1", "triggers.v": "1"},
            "null_resource.b": {"id": "2"},
        },
    )
    new = state_doc(
        serial=2,
        outputs={"ip": "10.0.0.2", "added": "y", "secret": ("s2", True)},
        resources={
            "null_resource.a": {"id": "1", "triggers.v": "2"},
            "null_resource.c": {"id": "3"},
        },
    )
    summary = summarize(old, new)
    assert [(c.name, c.kind, c.old, c.new) for c in summary.outputs] == [
        ("added", "added", "", "y"),
        ("gone", "removed", "x", ""),
        ("ip", "changed", "10.0.0.1", "10.0.0.2"),
        ("secret", "changed", MASK, MASK),
    ]
    assert [(c.name, c.kind, c.attributes) for c in summary.resources] == [
        ("null_resource.a", "changed", ["triggers.v"]),
        ("null_resource.b", "removed", []),
        ("null_resource.c", "added", []),
    ]
    assert summary.counts["resources"] == {"added": 1, "changed": 1, "removed": 1}
    assert summary.unchanged_resources == 0


def test_a_state_compared_with_itself_reordered_has_no_changes():
    doc = state_doc(outputs={"a": "1", "b": "2"}, resources={"null_resource.x": {"id": "1"}})
    reordered = json.loads(json.dumps(doc, sort_keys=True))
    assert summarize(doc, reordered).empty
    assert unified(doc, reordered, "a", "b") == []


def test_the_text_diff_masks_sensitive_values():
    old = state_doc(outputs={"pw": ("old-secret", True), "ip": "1"})
    new = state_doc(serial=2, outputs={"pw": ("new-secret", True), "ip": "2"})
    lines = unified(old, new, "serial 1", "serial 2")
    text = "\n".join(line.text for line in lines)
    assert "secret" not in text.replace(MASK, "")
    assert {line.kind for line in lines} >= {"file", "hunk", "add", "del"}
    assert any(line.kind == "add" and '"value": "2"' in line.text for line in lines)
    assert any(line.kind == "del" and '"serial": 1' in line.text for line in lines)


def test_masking_copies_and_covers_both_formats():
    old_format = state_doc(outputs={"pw": ("x", True)})
    assert masked(old_format)["modules"][0]["outputs"]["pw"]["value"] == MASK
    assert old_format["modules"][0]["outputs"]["pw"]["value"] == "x"
    new_format = state_doc_v4(outputs={"pw": ("x", True)})
    assert masked(new_format)["outputs"]["pw"]["value"] == MASK
