"""Sending to receivers in processes of their own, and what is refused:
private destinations, other schemes, receivers that hang, drip or answer
too much. Each delivery here is one attempt made in the test's process."""

import json

import pytest

from runs.models import Delivery, DeliveryAttempt, NotificationConfiguration
from runs.notifications import delivery as deliveries
from runs.notifications.channels import signature
from runs.notifications.destinations import DestinationRefused, address_problem, parse
from runs.notifications.sealing import seal_url

from .conftest import wait_for
from .factories import notification
from .notify import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receivers(tmp_path):
    """`receivers(*flags)` starts a receiver process, stopped after the test."""
    started = []

    def start(*flags):
        receiver = Receiver(tmp_path / f"receiver-{len(started)}", *flags).__enter__()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.__exit__(None, None, None)


def _hook(env, settings, url, **fields):
    settings.ATLAS_NOTIFY_ALLOW_PRIVATE = True
    configuration, secret = notification(env, url=url, **fields)
    return configuration, secret


def _attempt(configuration):
    delivery = Delivery.objects.create(configuration=configuration, event="test", message="hi")
    status = deliveries.deliver(delivery.pk)
    delivery.refresh_from_db()
    return status, delivery, DeliveryAttempt.objects.get(delivery=delivery)


def test_a_webhook_is_signed_over_its_exact_body(personas, env, settings, receivers, tmp_path):
    receiver = receivers("--secret-file", str(tmp_path / "receiver-0" / "secret"))
    configuration, secret = _hook(env, settings, receiver.url("/atlas?x=1"))
    receiver.set_secret(secret)
    status, delivery, attempt = _attempt(configuration)
    assert status == "delivered"
    assert (attempt.outcome, attempt.status_code, attempt.response) == ("succeeded", 200, "ok")
    (request,) = receiver.requests()
    assert request["verified"] is True and request["path"] == "/atlas?x=1"
    headers = request["headers"]
    body = request["body"].encode()
    assert headers["X-Atlas-Signature"] == signature(secret, body)
    assert headers["X-Atlas-Delivery"] == str(delivery.pk)
    assert headers["Content-Type"] == "application/json"
    alert = json.loads(body)["terraform_alert"]
    assert alert["delivery_id"] == str(delivery.pk)
    assert alert["sent_at"].endswith("Z") and int(headers["X-Atlas-Timestamp"]) > 1_700_000_000


def test_a_wrong_secret_is_what_the_receiver_refuses(personas, env, settings, receivers, tmp_path):
    receiver = receivers("--secret-file", str(tmp_path / "receiver-0" / "secret"))
    configuration, _secret = _hook(env, settings, receiver.url())
    receiver.set_secret("whsec_not-the-one")
    status, _delivery, attempt = _attempt(configuration)
    assert status == "failed"  # a 401 does not get better by retrying
    assert attempt.status_code == 401 and receiver.requests()[0]["verified"] is False


def test_a_private_destination_is_refused_at_delivery_by_default(
    personas, env, settings, receivers
):
    receiver = receivers()
    configuration, _secret = _hook(env, settings, receiver.url())  # saved while allowed
    settings.ATLAS_NOTIFY_ALLOW_PRIVATE = False
    status, _delivery, attempt = _attempt(configuration)
    assert status == "failed"
    assert attempt.error == (
        "Refused: the URL points to 127.0.0.1, a loopback address "
        "(ATLAS_NOTIFY_ALLOW_PRIVATE=true allows private receivers)."
    )
    assert attempt.status_code is None
    assert receiver.requests() == []  # nothing was sent


def test_a_name_that_now_resolves_to_loopback_is_refused(personas, env, settings, receivers):
    receiver = receivers()
    configuration, _secret = _hook(env, settings, f"http://localhost:{receiver.port}/hook")
    settings.ATLAS_NOTIFY_ALLOW_PRIVATE = False
    _status, _delivery, attempt = _attempt(configuration)
    assert "a loopback address" in attempt.error and receiver.requests() == []


def test_a_scheme_other_than_http_is_refused_at_delivery_too(personas, env, settings):
    configuration, _secret = _hook(env, settings, "https://hooks.example.com/x")
    seal_url(configuration, "file:///etc/passwd")  # written around the rules
    configuration.save(update_fields=["url_sealed", "url_key_id"])
    status, _delivery, attempt = _attempt(configuration)
    assert status == "failed"
    assert attempt.error == "Refused: the URL must be an http:// or https:// URL."


@pytest.mark.parametrize("flag", ["--hang-first=1", "--drip"])
def test_a_receiver_that_hangs_or_drips_is_given_up_at_the_deadline(
    personas, env, settings, receivers, flag
):
    receiver = receivers(flag)
    configuration, _secret = _hook(env, settings, receiver.url())
    settings.ATLAS_NOTIFY_TIMEOUT_SECONDS = 1
    status, _delivery, attempt = _attempt(configuration)
    assert status == "pending"  # retried later
    assert attempt.error == "No complete answer within 1 s."
    # Either receiver takes about a minute to answer in full: an attempt
    # that ended well before that was cut off, however loaded the machine.
    assert 1000 <= attempt.latency_ms < 45_000
    assert len(receiver.requests()) == 1


def test_a_huge_answer_is_read_only_up_to_the_limit(personas, env, settings, receivers):
    receiver = receivers("--huge")
    configuration, _secret = _hook(env, settings, receiver.url())
    settings.ATLAS_NOTIFY_MAX_RESPONSE_BYTES = 1024
    settings.ATLAS_NOTIFY_TIMEOUT_SECONDS = 5
    status, _delivery, attempt = _attempt(configuration)
    assert status == "delivered" and attempt.status_code == 200
    assert attempt.response == "x" * 300  # an excerpt of what was read
    sent = receiver.directory / "huge-sent"
    wait_for(sent.exists, timeout=10, message="the receiver to notice the hang-up")
    assert int(sent.read_text()) < 64 << 20  # socket buffers, not the gigabyte


@pytest.mark.parametrize(
    ("answer", "status", "error"),
    [
        (500, "pending", "The receiver answered HTTP 500."),
        (429, "pending", "The receiver answered HTTP 429."),
        (404, "failed", "The receiver answered HTTP 404."),
        (302, "pending", "Redirects are not followed: use the final URL."),
    ],
)
def test_what_an_answer_means_for_the_delivery(
    personas, env, settings, receivers, answer, status, error
):
    receiver = receivers(f"--answer={answer}")
    configuration, _secret = _hook(env, settings, receiver.url())
    got, _delivery, attempt = _attempt(configuration)
    assert (got, attempt.status_code, attempt.error) == (status, answer, error)
    assert len(receiver.requests()) == 1  # a redirect is not followed


def test_a_receiver_that_is_not_there_is_a_connection_error(personas, env, settings):
    configuration, _secret = _hook(env, settings, "http://127.0.0.1:9/hook")
    status, _delivery, attempt = _attempt(configuration)
    assert status == "pending" and attempt.error == "Connection refused."


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("10.0.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("fd00::1", "a private address"),
        ("100.64.0.1", "a reserved address"),
        ("0.0.0.0", "not a unicast address"),
        ("224.0.0.1", "not a unicast address"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_which_addresses_are_refused(address, problem):
    found = address_problem(address, allow_private=False)
    assert (found.split(" (")[0] if found else None) == problem
    if problem in ("a private address", "a loopback address", "a link-local address"):
        assert address_problem(address, allow_private=True) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("gopher://example.com/", "must be an http:// or https:// URL"),
        ("https:///path", "has no host"),
        ("https://example.com:99999/", "is not a valid URL"),
        ("https://exa mple.com/", "must not contain spaces or control characters"),
        ("https://example.com/" + "a" * 2000, "is longer than 2000 characters"),
        ("", "is required"),
    ],
)
def test_malformed_urls_are_refused(url, message):
    with pytest.raises(DestinationRefused, match=message):
        parse(url)


def test_urls_and_secrets_are_sealed_and_bound_to_their_row(personas, env):
    first, secret = notification(env, url="https://hooks.example.com/one?token=abc")
    second, _other = notification(env, url="https://hooks.example.com/two")
    row = NotificationConfiguration.objects.get(pk=first.pk)
    assert "token=abc" not in row.url_sealed and secret not in row.secret_sealed
    NotificationConfiguration.objects.filter(pk=second.pk).update(
        url_sealed=row.url_sealed, url_key_id=row.url_key_id
    )
    from environments.crypto import SealedValueError

    with pytest.raises(SealedValueError):
        NotificationConfiguration.objects.get(pk=second.pk).url  # noqa: B018


def test_key_rotation_reseals_urls_and_secrets(personas, env, settings):
    from atlas.keys import key_ring, reset_key_ring, write_key_file
    from runs.notifications import sealing

    configuration, secret = notification(env)
    old = key_ring().current
    write_key_file(settings.ATLAS_KEYS_FILE, key_ring().with_new_key())
    reset_key_ring()
    assert sealing.count_using_key(old) == 2
    assert sealing.reseal_all() == 1
    assert sealing.count_using_key(old) == 0
    configuration.refresh_from_db()
    assert configuration.secret == secret and configuration.url == "https://hooks.example.com/atlas"
