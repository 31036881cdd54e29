"""The run's relay to the API: the real token is added here and nowhere
else, only /api/v1/ passes, and nothing a run does holds it for ever."""

import http.client
import http.server
import socket
import threading

import pytest

from runs.relay import MAX_CONNECTIONS, PLACEHOLDER_TOKEN, Relay

TOKEN = "Abcdefghijklmnop.atlasv1.the-real-run-token"


class Upstream:
    """An HTTP server standing for Atlas: records what reaches it."""

    def __init__(self):
        self.requests = []
        seen = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                seen.append((self.command, self.path, dict(self.headers), body))
                reply = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-MD5", "abc=")
                self.send_header("Set-Cookie", "session=1")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_PUT = do_POST = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_port}/base"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream():
    server = Upstream()
    yield server
    server.close()


@pytest.fixture
def relay(upstream):
    relay = Relay(upstream.url, TOKEN, max_body=1 << 20)
    relay.start()
    yield relay
    relay.close()


def _call(relay, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_requests_reach_the_server_with_the_run_token_in_place_of_any_other(relay, upstream):
    status, headers, body = _call(
        relay,
        "PUT",
        "/api/v1/terraform/state/acme/app?atlas_run_id=7",
        body=b'{"serial": 1}',
        headers={
            "X-Atlas-Token": PLACEHOLDER_TOKEN,
            "Authorization": "Bearer stolen",
            "Cookie": "sessionid=someone-elses",
            "Content-Type": "application/json",
            "Content-MD5": "md5=",
            "X-Forwarded-For": "1.2.3.4",
        },
    )
    assert (status, body) == (200, b'{"ok": true}')
    assert headers["Content-MD5"] == "abc="
    assert "Set-Cookie" not in headers
    ((method, path, sent, received),) = upstream.requests
    assert (method, path, received) == (
        "PUT",
        "/base/api/v1/terraform/state/acme/app?atlas_run_id=7",
        b'{"serial": 1}',
    )
    assert sent["X-Atlas-Token"] == TOKEN
    assert sent["Content-MD5"] == "md5="
    assert sent["Content-Type"] == "application/json"
    for dropped in ("Authorization", "Cookie", "X-Forwarded-For"):
        assert dropped not in sent


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/settings/tokens",
        "/api/v2/ping",
        "/api/v1/../../admin/",
        "/api/v1/./tokens",
        "http://elsewhere.example/api/v1/user",
    ],
)
def test_nothing_but_the_v1_api_is_relayed(relay, upstream, path):
    status, _headers, body = _call(relay, "GET", path)
    assert status == 404
    assert body == b'{"errors": {"base": ["Not found."]}}'
    assert upstream.requests == []


def test_a_body_without_a_length_or_too_large_is_refused(relay, upstream):
    connection = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=10)
    connection.putrequest("PUT", "/api/v1/terraform/state/acme/app")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    connection.send(b"0\r\n\r\n")
    assert connection.getresponse().status == 411
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=10)
    connection.putrequest("PUT", "/api/v1/terraform/state/acme/app")
    connection.putheader("Content-Length", str((1 << 20) + 1))
    connection.endheaders()  # refused on the header alone, before any byte of the body
    assert connection.getresponse().status == 413
    connection.close()
    assert upstream.requests == []


def test_an_unreachable_server_is_a_502(upstream):
    port = upstream.server.server_port
    upstream.close()
    relay = Relay(f"http://127.0.0.1:{port}", TOKEN, max_body=1024)
    relay.start()
    try:
        assert _call(relay, "GET", "/api/v1/user")[0] == 502
    finally:
        relay.close()


def test_idle_connections_past_the_limit_are_dropped_and_closing_ends_the_others(relay, upstream):
    idle = [socket.create_connection(("127.0.0.1", relay.port)) for _ in range(MAX_CONNECTIONS)]
    extra = socket.create_connection(("127.0.0.1", relay.port))
    extra.settimeout(30)
    assert extra.recv(1) == b""  # closed at once: every slot is taken
    relay.close()
    for sock in idle:
        sock.settimeout(30)  # a guard against hanging; the relay closes them
        assert sock.recv(1) == b""
        sock.close()
    extra.close()
    assert upstream.requests == []


def test_a_relay_refuses_an_address_that_is_not_http():
    with pytest.raises(Exception, match="not an http"):
        Relay("file:///etc/passwd", TOKEN, max_body=1)
