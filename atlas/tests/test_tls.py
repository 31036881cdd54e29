"""The local CA of `make serve` with ATLAS_SERVE_TLS: a client trusting only
that CA completes a handshake with the server certificate for localhost."""

import contextlib
import socket
import ssl
import threading

from atlas.tls import local_tls


def test_a_client_trusting_the_local_ca_accepts_the_server_for_localhost(tmp_path):
    paths = local_tls(tmp_path / "tls")
    assert oct(paths.key.stat().st_mode & 0o777) == "0o600"
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(paths.cert, paths.key)
    client_context = ssl.create_default_context(cafile=str(paths.ca))
    left, right = socket.socketpair()
    errors = []

    def serve():
        try:
            with server_context.wrap_socket(left, server_side=True) as tls:
                tls.sendall(b"ok")
        except OSError as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    with client_context.wrap_socket(right, server_hostname="localhost") as tls:
        assert tls.recv(2) == b"ok"
    thread.join(10)
    assert errors == []


def test_the_ca_is_made_once_and_kept(tmp_path):
    first = local_tls(tmp_path / "tls")
    ca = first.ca.read_bytes()
    assert local_tls(tmp_path / "tls").ca.read_bytes() == ca


def test_a_client_with_the_system_roots_refuses_it(tmp_path):
    paths = local_tls(tmp_path / "tls")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(paths.cert, paths.key)
    left, right = socket.socketpair()
    thread = threading.Thread(
        target=lambda: _quietly(lambda: server_context.wrap_socket(left, server_side=True))
    )
    thread.start()
    refused = False
    try:
        ssl.create_default_context().wrap_socket(right, server_hostname="localhost")
    except ssl.SSLCertVerificationError:
        refused = True
    thread.join(10)
    assert refused


def _quietly(action):
    with contextlib.suppress(OSError):
        action()
