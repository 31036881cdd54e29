"""Sealing the URL and the signing secret of notification configurations.

Slack webhook URLs are credentials and webhook URLs often carry tokens, so
both are sealed like sensitive variables (`environments.crypto`), under a key
derived for this purpose alone and bound to the configuration's row: a copy
of the database reveals neither, and a sealed value moved to another row
does not open.
"""

import secrets

from django.db import transaction

from atlas.keys import key_ring
from environments.crypto import seal, unseal

PURPOSE = "notification-secrets"
SECRET_PREFIX = "whsec_"


def new_secret():
    """A webhook signing secret: 256 bits, with a prefix that secret scanners
    can recognise."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _ad(configuration, field):
    return f"notification:{configuration.pk}:{configuration.environment_id}:{field}"


def seal_url(configuration, url):
    """Seal `url` on the (saved) configuration, in memory."""
    if not url:
        configuration.url_sealed, configuration.url_key_id = "", ""
        return
    configuration.url_sealed, configuration.url_key_id = seal(
        url, _ad(configuration, "url"), PURPOSE
    )


def open_url(configuration):
    if not configuration.url_sealed:
        return ""
    return unseal(
        configuration.url_sealed, configuration.url_key_id, _ad(configuration, "url"), PURPOSE
    )


def seal_secret(configuration, secret):
    if not secret:
        configuration.secret_sealed, configuration.secret_key_id = "", ""
        return
    configuration.secret_sealed, configuration.secret_key_id = seal(
        secret, _ad(configuration, "secret"), PURPOSE
    )


def open_secret(configuration):
    if not configuration.secret_sealed:
        return ""
    return unseal(
        configuration.secret_sealed,
        configuration.secret_key_id,
        _ad(configuration, "secret"),
        PURPOSE,
    )


def count_using_key(key_id):
    """How many sealed URLs and secrets still use `key_id`."""
    from .models import NotificationConfiguration as Configuration

    return (
        Configuration.objects.filter(url_key_id=key_id).count()
        + Configuration.objects.filter(secret_key_id=key_id).count()
    )


def reseal_all():
    """Re-seal every URL and secret not under the current key; the count done."""
    from django.db.models import Q

    from .models import NotificationConfiguration as Configuration

    current = key_ring().current
    stale = Configuration.objects.filter(
        (Q(url_sealed__gt="") & ~Q(url_key_id=current))
        | (Q(secret_sealed__gt="") & ~Q(secret_key_id=current))
    )
    done = 0
    for pk in stale.values_list("pk", flat=True):
        with transaction.atomic():
            configuration = Configuration.objects.select_for_update().filter(pk=pk).first()
            if configuration is None:
                continue
            seal_url(configuration, open_url(configuration))
            seal_secret(configuration, open_secret(configuration))
            configuration.save(
                update_fields=["url_sealed", "url_key_id", "secret_sealed", "secret_key_id"]
            )
            done += 1
    return done
