"""The run's network: chosen per phase, said in the log, and in the sandbox
itself: the outside and the relay's port reachable, the worker's loopback
not."""

import itertools
import json
import socket
import subprocess
import threading
import time

import pytest

from runs import network, sandbox
from runs.workspace import Workspace

from .e2e import outside_address

PROBE = """
import json, socket, sys
results = {}
for name, host, port in json.loads(sys.argv[1]):
    try:
        socket.create_connection((host, port), timeout=2).close()
        results[name] = "connected"
    except OSError as exc:
        results[name] = type(exc).__name__
print(json.dumps(results))
"""


class Listener:
    """A TCP server that counts the connections it accepts."""

    def __init__(self, host):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.sock.getsockname()[1]

    def _serve(self):
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def close(self):
        self.sock.close()


def _in_sandbox(tmp_path, net, relay_port, targets):
    """Run PROBE with python3 in a sandbox on network `net`: {name: outcome}."""
    workspace = Workspace(root=tmp_path, env={"PATH": "/usr/bin:/bin"})
    workspace.sandbox.mkdir()
    arguments = ["-I", "-c", PROBE, json.dumps(targets)]
    launch = sandbox.Launch(arguments, workspace, workspace.sandbox, net, relay_port)
    try:
        process = subprocess.Popen(
            launch.argv,
            env=launch.env,
            cwd=launch.cwd,
            pass_fds=launch.pass_fds,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        launch.started(process, time.monotonic() + 30)
        output = process.communicate(timeout=60)[0].decode()
    finally:
        launch.close()
    return json.loads(output.strip().splitlines()[-1])


@pytest.fixture
def python_as_terraform(settings):
    settings.ATLAS_TERRAFORM_BIN = "/usr/bin/python3"


def test_an_isolated_run_reaches_the_outside_and_the_relay_but_not_the_loopback(
    tmp_path, python_as_terraform
):
    loopback, outside = Listener("127.0.0.1"), Listener(outside_address())
    relay = Listener("127.0.0.1")
    try:
        results = _in_sandbox(
            tmp_path,
            network.ISOLATED,
            relay.port,
            [
                ["loopback", "127.0.0.1", loopback.port],
                ["gateway", network.GATEWAY, loopback.port],
                ["outside", outside_address(), outside.port],
                ["relay", "127.0.0.1", relay.port],
            ],
        )
        assert results["loopback"] == "ConnectionRefusedError"
        assert results["outside"] == "connected"
        assert results["relay"] == "connected"
        assert loopback.accepted == 0  # neither directly nor through the gateway
        assert outside.accepted == 1
        assert relay.accepted == 1
    finally:
        for listener in (loopback, outside, relay):
            listener.close()


def test_a_run_on_the_workers_network_reaches_its_loopback(tmp_path, python_as_terraform):
    loopback = Listener("127.0.0.1")
    try:
        results = _in_sandbox(tmp_path, network.HOST, 1, [["loopback", "127.0.0.1", loopback.port]])
    finally:
        loopback.close()
    assert results == {"loopback": "connected"}  # why isolation is the default


def test_without_pasta_runs_share_the_network_and_the_log_warns(settings, monkeypatch):
    monkeypatch.setattr(network, "pasta_binary", lambda: None)
    settings.ATLAS_RUN_NETWORK = "auto"
    mode, line = network.choose()
    assert mode == network.HOST
    assert line.startswith("Warning: pasta (Debian package passt) is not installed")
    assert network.problem() is None
    settings.ATLAS_RUN_NETWORK = "isolated"
    with pytest.raises(network.NetworkUnavailable, match="apt-get install passt"):
        network.choose()
    assert "apt-get install passt" in sandbox.problem()


def test_the_network_is_isolated_by_default_where_pasta_is_installed(settings):
    settings.ATLAS_RUN_NETWORK = "auto"
    assert network.pasta_binary(), "make sandbox installs passt"
    assert network.choose()[0] == network.ISOLATED
    settings.ATLAS_RUN_NETWORK = "host"
    assert network.choose()[0] == network.HOST
    settings.ATLAS_RUN_NETWORK = "bridge"
    with pytest.raises(network.NetworkUnavailable, match="auto, isolated, host"):
        network.choose()


def test_pasta_forwards_only_the_relay_port_and_maps_nothing_to_the_loopback(tmp_path):
    command = network.pasta_command(4242, 31337, tmp_path / "pid")
    pairs = dict(itertools.pairwise(command))
    assert pairs["--tcp-ns"] == "31337"
    assert pairs["--tcp-ports"] == pairs["--udp-ports"] == pairs["--udp-ns"] == "none"
    assert "--no-map-gw" in command


def test_the_sandbox_resolves_names_through_the_forwarded_resolver(tmp_path, monkeypatch):
    host = tmp_path / "host-resolv.conf"
    host.write_text("nameserver 127.0.0.53\nsearch example.internal\noptions edns0\n")
    monkeypatch.setattr(network, "HOST_RESOLV_CONF", str(host))
    written = network.resolv_conf(tmp_path / "resolv.conf")
    assert written.read_text() == (
        f"nameserver {network.DNS}\nsearch example.internal\noptions edns0\n"
    )
