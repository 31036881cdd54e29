"""The rules of notification configurations, for the API and the web pages.

Everything a caller sends passes through `clean()`, which raises one
ValidationError naming each bad field; writes happen in one transaction.
"""

from functools import partial
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from accounts import audit
from accounts.models import User
from accounts.privileges import namespace_level
from environments.models import Environment

from .destinations import DestinationRefused, check_url
from .models import TEST_EVENT, Delivery, Event, Kind, NotificationConfiguration
from .sealing import new_secret, seal_secret, seal_url

MAX_PER_ENVIRONMENT = 20
MAX_RECIPIENTS = 20
MASK = "****"


def _strings(value, field, errors):
    """A list of distinct non-empty strings from a list or a comma-separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        errors[field] = ["must be a list of strings"]
        return []
    return list(dict.fromkeys(v.strip() for v in value if v.strip()))


def _recipient_errors(recipients, environment):
    if not recipients:
        return ["name at least one user or email address"]
    if len(recipients) > MAX_RECIPIENTS:
        return [f"may name at most {MAX_RECIPIENTS} users or addresses"]
    problems = []
    names = [r for r in recipients if "@" not in r]
    for address in (r for r in recipients if "@" in r):
        try:
            validate_email(address)
        except ValidationError:
            problems.append(f"{address} is not a valid email address")
    if names:
        query = Q()
        for name in names:
            query |= Q(username__iexact=name)
        users = {u.username.lower(): u for u in User.objects.filter(query, is_active=True)}
        for name in names:
            user = users.get(name.lower())
            if (
                user is None
                or namespace_level(user, environment.namespace, environment=environment) is None
            ):
                problems.append(f"{name} is not a user who can read {environment.namespace.name}")
            elif not user.email:
                problems.append(f"{name} has no email address")
    return problems


def clean(environment, data, configuration=None):
    """The validated fields of `data` (kind, url, recipients, events,
    enabled), merged over `configuration` when it is a change."""
    errors = {}
    kind = data.get("kind", configuration.kind if configuration else None)
    if configuration is not None and kind != configuration.kind:
        errors["kind"] = ["cannot be changed: create another configuration"]
    elif kind not in Kind.values:
        errors["kind"] = [f"must be one of {', '.join(Kind.values)}"]
    cleaned = {"kind": kind}

    if "events" in data or configuration is None:
        events = _strings(data.get("events"), "events", errors)
        unknown = [e for e in events if e not in Event.values]
        if unknown:
            errors["events"] = [
                f"{', '.join(unknown)}: not an event (use {', '.join(Event.values)})"
            ]
        elif not events and "events" not in errors:
            errors["events"] = ["choose at least one event"]
        cleaned["events"] = [e for e in Event.values if e in events]

    if kind in (Kind.WEBHOOK, Kind.SLACK):
        url = data.get("url")
        if url not in (None, "") or configuration is None:
            try:
                cleaned["url"] = check_url(url)
            except DestinationRefused as exc:
                errors["url"] = [str(exc)]
        if data.get("recipients"):
            errors["recipients"] = ["only email notifications have recipients"]
    elif kind == Kind.EMAIL:
        if data.get("url"):
            errors["url"] = ["email notifications have no URL"]
        if "recipients" in data or configuration is None:
            recipients = _strings(data.get("recipients"), "recipients", errors)
            problems = _recipient_errors(recipients, environment)
            if problems and "recipients" not in errors:
                errors["recipients"] = problems
            cleaned["recipients"] = recipients

    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            errors["enabled"] = ["must be true or false"]
        cleaned["enabled"] = data["enabled"]
    if errors:
        raise ValidationError(errors)
    return cleaned


def find_configuration(environment, pk):
    """The notification configuration `pk` of `environment`; 404 for any other."""
    configuration = (
        NotificationConfiguration.objects.select_related("environment__namespace")
        .filter(environment=environment, pk=pk)
        .first()
    )
    if configuration is None:
        raise Http404
    return configuration


def create_configuration(environment, user, data):
    """(configuration, secret): the secret signs webhooks and is returned
    only here; other kinds have none."""
    cleaned = clean(environment, data)
    with transaction.atomic():
        # The environment's row, locked: two requests cannot both add the last one.
        Environment.objects.select_for_update().filter(pk=environment.pk).first()
        existing = NotificationConfiguration.objects.filter(environment=environment).count()
        if existing >= MAX_PER_ENVIRONMENT:
            raise ValidationError(
                {"base": [f"An environment has at most {MAX_PER_ENVIRONMENT} notifications."]}
            )
        configuration = NotificationConfiguration.objects.create(
            environment=environment,
            kind=cleaned["kind"],
            events=cleaned["events"],
            recipients=cleaned.get("recipients", []),
            enabled=cleaned.get("enabled", True),
            created_by=user,
        )
        secret = new_secret() if configuration.kind == Kind.WEBHOOK else None
        seal_url(configuration, cleaned.get("url", ""))
        seal_secret(configuration, secret)
        configuration.save(
            update_fields=["url_sealed", "url_key_id", "secret_sealed", "secret_key_id"]
        )
        audit.record(
            "notification.create",
            obj=configuration,
            name=_audit_name(configuration),
            after=_audit_fields(configuration),
        )
    return configuration, secret


def _audit_name(configuration):
    return f"{configuration.get_kind_display()} on {configuration.environment.slug}"


def _audit_fields(configuration):
    """What the audit trail keeps of a configuration: never its URL or secret."""
    return {
        "events": list(configuration.events),
        "recipients": len(configuration.recipients),
        "enabled": configuration.enabled,
    }


def update_configuration(configuration, data):
    """Change what `data` names; enabling again clears a failure streak."""
    cleaned = clean(configuration.environment, data, configuration)
    with transaction.atomic():
        configuration = NotificationConfiguration.objects.select_for_update().get(
            pk=configuration.pk
        )
        before = _audit_fields(configuration)
        fields = ["updated_at"]
        for name in ("events", "recipients"):
            if name in cleaned:
                setattr(configuration, name, cleaned[name])
                fields.append(name)
        if "url" in cleaned:
            seal_url(configuration, cleaned["url"])
            fields += ["url_sealed", "url_key_id"]
        if "enabled" in cleaned and cleaned["enabled"] != configuration.enabled:
            configuration.enabled = cleaned["enabled"]
            configuration.disabled_reason = ""
            configuration.failing_since = None
            fields += ["enabled", "disabled_reason", "failing_since"]
        configuration.updated_at = timezone.now()
        configuration.save(update_fields=fields)
        after = _audit_fields(configuration)
        if "url" in cleaned:
            after["url"] = "changed"
        audit.record(
            "notification.update",
            obj=configuration,
            name=_audit_name(configuration),
            before=before,
            after=after,
        )
    return configuration


@transaction.atomic
def delete_configuration(configuration):
    """Delete it with its deliveries: nothing more is sent."""
    audit.record(
        "notification.delete",
        obj=configuration,
        name=_audit_name(configuration),
        before=_audit_fields(configuration),
    )
    configuration.delete()


def send_test(configuration):
    """Queue a test delivery (sent even while the configuration is disabled,
    so a fixed receiver can be checked before enabling it again)."""
    from .delivery import enqueue

    environment = configuration.environment
    with transaction.atomic():
        delivery = Delivery.objects.create(
            configuration=configuration,
            event=TEST_EVENT,
            message=f"A test notification for {environment.namespace.name}/{environment.name}.",
        )
        transaction.on_commit(partial(enqueue, [delivery.pk]), robust=True)
    return delivery


def masked_url(configuration):
    """The URL as people may see it again: a Slack URL without its secret
    last part, any other without the values of its query."""
    url = configuration.url
    if not url:
        return ""
    parts = urlsplit(url)
    path = parts.path
    if configuration.kind == Kind.SLACK and path.strip("/"):
        head, _sep, _last = path.rstrip("/").rpartition("/")
        path = f"{head}/{MASK}"
    query = "&".join(
        f"{quote(k)}={MASK}" for k, _v in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))
