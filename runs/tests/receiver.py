"""A notification receiver, run as its own process by the tests.

It records every request it gets (JSON lines: path, headers, body, whether
the signature verified, the status it answered) and behaves as told:

    --secret-file F   verify `X-Atlas-Signature` with the secret in F (read
                      on every request) and answer 401 when it is wrong
    --slack           accept only Slack's incoming-webhook JSON, answer "ok"
    --fail-first N    answer 500 to the first N requests
    --hang-first N    hold the first N requests for a minute without answering
    --drip            send the answer one byte every three seconds (about a minute)
    --huge            answer 200 with a 1 GiB body (and write how much of it
                      went out before the client hung up to `huge-sent`)
    --answer CODE     answer CODE instead of 200
"""

import argparse
import hashlib
import hmac
import http.server
import json
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path


def verify(secret, body, header):
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header or "")


def slack_shaped(body):
    try:
        message = json.loads(body)
    except ValueError:
        return False
    if not isinstance(message, dict) or not isinstance(message.get("text"), str):
        return False
    for block in message.get("blocks", []):
        if block.get("type") not in ("section", "context"):
            return False
        texts = [block["text"]] if block["type"] == "section" else block.get("elements", [])
        if not all(t.get("type") == "mrkdwn" and len(t.get("text", "")) <= 3000 for t in texts):
            return False
    return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--secret-file")
    parser.add_argument("--slack", action="store_true")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--hang-first", type=int, default=0)
    parser.add_argument("--drip", action="store_true")
    parser.add_argument("--huge", action="store_true")
    parser.add_argument("--answer", type=int, default=200)
    options = parser.parse_args()
    lock = threading.Lock()
    seen = [0]
    log = open(options.log, "a")  # noqa: SIM115

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                seen[0] += 1
                number = seen[0]
            verified = None
            if options.secret_file:
                secret = Path(options.secret_file).read_text().strip()
                verified = verify(secret, body, self.headers.get("X-Atlas-Signature"))
            if options.hang_first >= number:
                status = "hung"
            elif verified is False:
                status = 401
            elif options.slack and not slack_shaped(body):
                status = 400
            elif options.fail_first >= number:
                status = 500
            else:
                status = options.answer
            entry = {
                "number": number,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": body.decode(errors="replace"),
                "verified": verified,
                "answered": status,
            }
            with lock:
                log.write(json.dumps(entry) + "\n")
                log.flush()
            if status == "hung":
                time.sleep(60)
                return
            if options.drip:
                for byte in b"HTTP/1.1 200 OK\r\n\r\n":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(3)
                return
            if options.huge:
                self.send_response(200)
                self.send_header("Content-Length", str(1 << 30))
                self.end_headers()
                chunk, sent = b"x" * 65536, 0
                with suppress(OSError):  # the client hangs up
                    for _ in range(1 << 14):
                        self.wfile.write(chunk)
                        sent += len(chunk)
                Path(options.log).with_name("huge-sent").write_text(str(sent))
                return
            text = {200: "ok", 400: "invalid_payload", 401: "bad signature"}.get(status, "no")
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    Path(options.port_file).write_text(str(server.server_port))
    with suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
