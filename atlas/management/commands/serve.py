"""`manage.py serve`: migrate, create the first admin, start web and worker.

This is what `make serve` runs. The web server is gunicorn; the worker runs
queued tasks (runs). Both are children of this process: when one stops, the
other is stopped too, and Ctrl-C stops both.
"""

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.bootstrap import create_first_admin
from atlas.staticfiles import collect_if_changed
from atlas.tls import local_tls

# The access log names the path without its query string, so nothing a client
# puts in a URL by mistake (a token) ends up in the logs.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


class Command(BaseCommand):
    help = "Migrate, create the first administrator if needed, and start web and worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--web-workers", type=int, default=settings.WEB_CONCURRENCY)
        parser.add_argument("--no-worker", action="store_true", help="Start the web server only.")

    def handle(self, *args, host, port, web_workers, no_worker, **options):
        call_command("migrate", interactive=False, verbosity=0)
        collect_if_changed()
        first = create_first_admin()
        if first:
            self.stdout.write(self.style.WARNING(first))
            self.stdout.write(f"(Also kept in {settings.DATA_DIR / 'initial-admin.txt'}.)\n")
        web = [
            sys.executable,
            "-m",
            "gunicorn",
            "atlas.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(web_workers),
            "--timeout",
            "300",
            "--access-logfile",
            "-",
            "--access-logformat",
            ACCESS_LOG_FORMAT,
        ]
        scheme = "http"
        if settings.ATLAS_SERVE_TLS:
            tls = local_tls(settings.DATA_DIR / "tls")
            web += ["--certfile", str(tls.cert), "--keyfile", str(tls.key)]
            scheme = "https"
            self.stdout.write(
                'HTTPS with a local CA. For Terraform (cloud {}, backend "remote", '
                "terraform login):\n"
                f"  export SSL_CERT_FILE={tls.ca}\n"
                f"  terraform login localhost:{port}\n"
            )
        children = [subprocess.Popen(web)]
        if not no_worker:
            children.append(subprocess.Popen([sys.executable, "manage.py", "run_worker"]))
        self.stdout.write(f"Serving on {scheme}://{host}:{port}/ (Ctrl-C stops)\n")
        self._supervise(children)

    def _supervise(self, children):
        def stop(*_):
            for child in children:
                if child.poll() is None:
                    child.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            stop()
            deadline = time.monotonic() + 20
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
