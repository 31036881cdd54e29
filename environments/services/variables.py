"""Variable rules: names, sizes, the API's bulk update, the web UI's edits,
and the Terraform variables `terraform push` reads back and sends again."""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import audit

from ..crypto import seal_variable
from ..models import Environment, Variable
from ..process_names import refused_reason

MAX_VALUE_BYTES = 256 * 1024
MAX_KEY_LENGTH = 256
# Sent instead of a sensitive value; a version that sends it back keeps the secret.
REDACTED = "<sensitive>"

KEY_PATTERNS = {
    # Terraform identifiers: letters, digits, '_' and '-', not starting with a digit or '-'.
    Variable.Category.TERRAFORM: re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*\Z"),
    # Process environment variables: the portable POSIX shell names.
    Variable.Category.ENV: re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z"),
}
KEY_HELP = {
    Variable.Category.TERRAFORM: "letters, digits, '_' and '-', starting with a letter or '_'",
    Variable.Category.ENV: "letters, digits and '_', starting with a letter or '_'",
}


def key_errors(key, category=Variable.Category.TERRAFORM):
    """Messages about a variable name; empty when it is fine.

    Every door that names a variable (the API, the web UI, `terraform push`)
    asks this. A process variable may not take a name that changes how the
    run's programs load or find code (`environments.process_names`).
    """
    if not isinstance(key, str) or not KEY_PATTERNS[category].match(key):
        return [f"is not a valid variable name: use {KEY_HELP[category]}"]
    if len(key) > MAX_KEY_LENGTH:
        return [f"is longer than {MAX_KEY_LENGTH} characters"]
    if category == Variable.Category.ENV and (reason := refused_reason(key)):
        return [f"cannot be an environment variable of runs: it {reason}"]
    return []


def value_errors(value):
    if not isinstance(value, str):
        return ["must be a string"]
    if len(value.encode()) > MAX_VALUE_BYTES:
        return [f"is larger than {MAX_VALUE_BYTES} bytes (256 KiB)"]
    return []


def _touch(environment):
    Environment.objects.filter(pk=environment.pk).update(updated_at=timezone.now())


def _new(environment, category, key, value, user, hcl=False, sensitive=False):
    variable = Variable(
        environment=environment,
        category=category,
        key=key,
        hcl=hcl,
        sensitive=sensitive,
        updated_by=user,
    )
    seal_variable(variable, value)
    return variable


def _change(variable, value, user, hcl):
    seal_variable(variable, value)
    variable.hcl = hcl
    variable.updated_by = user
    variable.updated_at = timezone.now()


UPDATE_FIELDS = ["value_sealed", "value_key_id", "hcl", "updated_by", "updated_at"]


@transaction.atomic
def update_terraform_variables(environment, variables, user=None):
    """`PUT .../variables`: set or remove Terraform variables, all or nothing.

    Every value must be a string (errors name the key). An empty value
    removes the key; other keys are created or overwritten (as plain strings:
    HCL is not settable this way, and a sensitive variable stays sensitive);
    keys not sent are untouched. A constant number of queries.
    """
    errors = {}
    for key, value in variables.items():
        problems = value_errors(value) or (key_errors(key) if value != "" else [])
        if problems:
            errors[str(key)] = problems
    if errors:
        raise ValidationError(errors)
    category = Variable.Category.TERRAFORM
    removed = [key for key, value in variables.items() if value == ""]
    kept = {key: value for key, value in variables.items() if value != ""}
    if removed:
        environment.variables.filter(category=category, key__in=removed).delete()
    existing = {
        v.key: v
        for v in environment.variables.select_for_update().filter(category=category, key__in=kept)
    }
    changed, created = [], []
    for key, value in kept.items():
        if key in existing:
            _change(existing[key], value, user, hcl=False)
            changed.append(existing[key])
        else:
            created.append(_new(environment, category, key, value, user))
    if changed:
        Variable.objects.bulk_update(changed, UPDATE_FIELDS)
    if created:
        Variable.objects.bulk_create(created)
    _touch(environment)
    audit.record(
        "variable.update",
        obj=environment,
        after={
            "category": category,
            "set": sorted(kept),
            "created": sorted(v.key for v in created),
            "removed": sorted(removed),
        },
    )


@transaction.atomic
def save_variable(environment, user, *, key, category, value, hcl, sensitive, variable=None):
    """Add a variable, or change `variable` (from the web UI).

    For a sensitive variable an empty `value` keeps the stored secret (it is
    write-only). A sensitive variable turns non-sensitive only with a new
    value, so a secret is never revealed by unticking a box.
    """
    if category not in KEY_PATTERNS:
        raise ValidationError({"category": ["must be terraform or env"]})
    errors = {}
    if variable is None:
        problems = key_errors(key, category)
        if not problems and environment.variables.filter(category=category, key=key).exists():
            problems = ["already exists: edit that variable instead"]
        if problems:
            errors["key"] = problems
    keep_secret = variable is not None and variable.sensitive and value == ""
    if keep_secret and not sensitive:
        errors["value"] = ["enter a new value to make a sensitive variable non-sensitive"]
    elif not keep_secret and value_errors(value):
        errors["value"] = value_errors(value)
    if errors:
        raise ValidationError(errors)
    facts = {"key": key if variable is None else variable.key, "category": category}
    if variable is None:
        variable = _new(environment, category, key, value, user, hcl=hcl, sensitive=sensitive)
        variable.save()
        audit.record(
            "variable.create",
            obj=environment,
            after={**facts, "hcl": hcl, "sensitive": sensitive},
        )
    else:
        audit.record(
            "variable.update",
            obj=environment,
            before={**facts, "hcl": variable.hcl, "sensitive": variable.sensitive},
            after={
                **facts,
                "hcl": hcl,
                "sensitive": sensitive,
                "value": "kept" if keep_secret else "changed",
            },
        )
        if not keep_secret:
            seal_variable(variable, value)
        variable.hcl, variable.sensitive = hcl, sensitive
        variable.updated_by, variable.updated_at = user, timezone.now()
        variable.save(update_fields=[*UPDATE_FIELDS, "sensitive"])
    _touch(environment)
    return variable


@transaction.atomic
def delete_variable(variable):
    environment = variable.environment
    audit.record(
        "variable.delete",
        obj=environment,
        before={"key": variable.key, "category": variable.category},
    )
    variable.delete()
    _touch(environment)


def tf_vars_for_push(environment):
    """The environment's Terraform variables as `terraform push` reads them:
    `[{"key", "value", "hcl"}]` sorted by key, sensitive values redacted."""
    variables = environment.variables.filter(category=Variable.Category.TERRAFORM).order_by("key")
    return [
        {"key": v.key, "value": REDACTED if v.sensitive else v.value, "hcl": v.hcl}
        for v in variables
    ]


def apply_sent_tf_vars(environment, tf_vars, user=None):
    """Make the variables sent with a configuration version the environment's.

    `tf_vars` is a validated list of `{"key", "value", "hcl"}`; for a key sent
    twice the later wins. Each key is created or overwritten; a sensitive
    variable sent back as the redaction marker keeps its stored value, and
    stays sensitive when given a new one. Keys not sent are untouched.
    Returns the list with every value in clear (for the version's record).
    Call inside a transaction.
    """
    sent = {item["key"]: item for item in tf_vars}
    category = Variable.Category.TERRAFORM
    existing = {
        v.key: v
        for v in environment.variables.select_for_update().filter(category=category, key__in=sent)
    }
    resolved, changed, created = [], [], []
    for key, item in sent.items():
        variable = existing.get(key)
        value, hcl = item["value"], item["hcl"]
        if variable is not None and variable.sensitive and value == REDACTED:
            resolved.append({"key": key, "value": variable.value, "hcl": variable.hcl})
            continue
        if variable is not None:
            _change(variable, value, user, hcl)
            changed.append(variable)
        else:
            created.append(_new(environment, category, key, value, user, hcl=hcl))
        resolved.append({"key": key, "value": value, "hcl": hcl})
    if changed:
        Variable.objects.bulk_update(changed, UPDATE_FIELDS)
    if created:
        Variable.objects.bulk_create(created)
    return resolved
