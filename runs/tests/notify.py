"""Receivers of notifications for the tests, each a process of its own: an
HTTP receiver (`receiver.py`) and an SMTP server (atlas.testing.smtp)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from atlas.testing.smtp import SmtpServer

__all__ = ["Receiver", "SmtpServer", "free_port"]

RECEIVER = Path(__file__).resolve().parent / "receiver.py"


def _wait(predicate, process, what, timeout=20):
    deadline = time.monotonic() + timeout
    while not predicate():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)


def _stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Receiver:
    """`receiver.py` with `flags`; `requests()` is what it got so far."""

    def __init__(self, directory, *flags):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.flags = flags
        self.log = self.directory / "requests.jsonl"
        self.secret_file = self.directory / "secret"

    def __enter__(self):
        port_file = self.directory / "port"
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(RECEIVER),
                "--port-file",
                str(port_file),
                "--log",
                str(self.log),
                *self.flags,
            ],
            start_new_session=True,
        )
        _wait(lambda: port_file.exists() and port_file.read_text(), self.process, "The receiver")
        self.port = int(port_file.read_text())
        return self

    def __exit__(self, *exc):
        _stop(self.process)

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def set_secret(self, secret):
        self.secret_file.write_text(secret)

    def requests(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
