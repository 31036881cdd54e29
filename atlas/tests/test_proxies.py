"""The client's address: the peer's, or a trusted proxy's X-Forwarded-For."""

import ipaddress
import subprocess
import sys

import pytest

from atlas.proxies import forwarded_client, resolve_client
from atlas.testing.live import ROOT

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32")]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("192.0.2.1", "198.51.100.7", "192.0.2.1"),  # not a proxy: its claim is ignored
        ("10.0.0.2", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the client's own claim
        ("10.0.0.2", "198.51.100.7, 10.0.0.9", "198.51.100.7"),  # two proxies deep
        ("10.0.0.2", "10.0.0.8, 10.0.0.9", "10.0.0.8"),  # proxies all the way
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", "198.51.100.7:5555", "198.51.100.7"),
        ("10.0.0.2", "[2001:db9::1]:443", "2001:db9::1"),
        ("10.0.0.2", "unknown, 198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", "198.51.100.7, garbage", "10.0.0.2"),  # a proxy never writes that
        ("::ffff:10.0.0.2", "198.51.100.7", "198.51.100.7"),
        ("2001:db8::5", "2001:db9::1", "2001:db9::1"),
    ],
)
def test_the_client_is_the_right_most_address_that_is_not_a_trusted_proxy(
    peer, forwarded_for, client
):
    assert forwarded_client(peer, forwarded_for, PROXIES) == client


def test_forwarded_headers_from_an_untrusted_peer_are_dropped(settings):
    settings.ATLAS_TRUSTED_PROXIES = PROXIES
    meta = {
        "REMOTE_ADDR": "192.0.2.1",
        "HTTP_X_FORWARDED_FOR": "198.51.100.7",
        "HTTP_X_FORWARDED_HOST": "evil.example",
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_FORWARDED": "for=198.51.100.7",
    }
    resolve_client(meta)
    assert meta == {"REMOTE_ADDR": "192.0.2.1", "atlas.peer_address": "192.0.2.1"}


def test_a_trusted_proxy_s_client_becomes_the_remote_address(settings):
    settings.ATLAS_TRUSTED_PROXIES = PROXIES
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    resolve_client(meta)
    assert meta["REMOTE_ADDR"] == "198.51.100.7"
    assert meta["atlas.peer_address"] == "10.0.0.2"


def test_the_old_all_or_nothing_setting_fails_loudly():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "ATLAS_TRUST_PROXY_HEADERS": "true"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ATLAS_TRUST_PROXY_HEADERS is replaced by ATLAS_TRUSTED_PROXIES" in result.stderr


def test_a_malformed_proxy_list_fails_loudly():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "ATLAS_TRUSTED_PROXIES": "10.0.0.1,proxy.internal"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ATLAS_TRUSTED_PROXIES must list IP addresses or networks" in result.stderr
