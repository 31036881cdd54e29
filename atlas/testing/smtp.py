"""A real SMTP server for tests: aiosmtpd in a process of its own, storing
what it receives in a Maildir the test reads back."""

import mailbox
import os
import signal
import socket
import subprocess
import sys
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

from .cluster import free_port


class SmtpServer:
    """`with SmtpServer(tmp_path) as smtp:` listens on 127.0.0.1:`smtp.port`;
    `messages()` is what it received so far."""

    def __init__(self, directory):
        self.maildir = Path(directory) / "maildir"

    def __enter__(self):
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"127.0.0.1:{self.port}",
                "-c",
                "aiosmtpd.handlers.Mailbox",
                str(self.maildir),
            ],
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while not self._listening():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("The SMTP server did not start")
            time.sleep(0.05)
        return self

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def __exit__(self, *exc):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def messages(self):
        if not self.maildir.exists():
            return []
        return list(mailbox.Maildir(self.maildir, create=False))

    def wait_for(self, count=1, timeout=20):
        """The messages once at least `count` arrived, parsed (email.message.EmailMessage)."""
        deadline = time.monotonic() + timeout
        while len(self.messages()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.messages())} of {count} emails arrived")
            time.sleep(0.05)
        return [
            BytesParser(policy=policy.default).parsebytes(message.as_bytes())
            for message in self.messages()
        ]

    def settings(self):
        """Django settings that send email to this server."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
        }
