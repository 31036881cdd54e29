"""`terraform login` (1.6.6) against a live gunicorn over HTTPS, approved by a
signed-in person over HTTP, then `cloud {}` with the token it stored.

Terraform's own listener receives the redirect; no browser runs (PATH has
none), the approval is made by an HTTP client holding a session. On this
machine TF_CLI_CONFIG_FILE is set globally, and while it is set Terraform
ignores the credentials file `terraform login` writes: it is unset here.
"""

import json
import re

import pytest
from django.contrib.auth.hashers import make_password

from accounts.models import Organization, Token
from accounts.tests.factories import PASSWORD
from atlas.testing.gunicorn import https_session
from atlas.testing.terraform import Terraform
from states.models import StateVersion

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CLOUD = """
terraform {{
  cloud {{
    hostname     = "{host}"
    organization = "acme"
    workspaces {{ name = "login" }}
  }}
}}

output "greeting" {{ value = "hello" }}
"""
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def live(live_https):
    return live_https


@pytest.fixture(autouse=True)
def local_execution(live, personas):
    """These workspaces keep their state here and run Terraform where it is started."""
    Organization.objects.filter(pk=personas.org.pk).update(default_execution_mode="local")


def signed_in(live, base, username):
    """A requests session signed in at `base` through the login form, trusting the test CA."""
    session = https_session(live)
    page = session.get(f"{base}/login", timeout=30)
    response = session.post(
        f"{base}/login",
        data={
            "csrfmiddlewaretoken": CSRF.search(page.text)[1],
            "username": username,
            "password": PASSWORD,
        },
        headers={"Referer": f"{base}/login"},
        timeout=30,
    )
    assert response.status_code == 200 and "Sign out" in response.text, response.text[:500]
    return session


def read_until(stream, pattern, limit=200):
    seen = []
    for _ in range(limit):
        line = stream.readline()
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found
        if not line:
            break
    raise AssertionError("".join(seen))


def test_terraform_login_then_cloud_with_the_stored_token(live, personas, tmp_path, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    user = personas.writer.user
    user.password = make_password(PASSWORD)
    user.save(update_fields=["password"])
    host = live.host.replace("127.0.0.1", "localhost")
    no_browsers = tmp_path / "bin"
    no_browsers.mkdir()
    terraform = Terraform(
        tmp_path / "login",
        "1.6.6",
        CLOUD.format(host=host),
        ca=live.ca,
        env={"PATH": str(no_browsers)},
    )
    del terraform.env["TF_CLI_CONFIG_FILE"]
    (terraform.home / ".terraform.d").mkdir()  # Terraform writes its file there, not the folder
    before = set(Token.objects.filter(user=user).values_list("pk", flat=True))

    process = terraform.popen("login", host, input_text="", timeout=120)
    process.stdin.write("yes\n")
    process.stdin.flush()
    url = read_until(process.stdout, r"(https://\S+/terraform-login/authorize\?\S+)")[1]

    session = signed_in(live, f"https://{host}", "writer")
    consent = session.get(url, timeout=30)
    assert consent.status_code == 200
    assert f"Terraform CLI on {host} asks for a token" in consent.text
    fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', consent.text))
    fields["decision"] = "approve"
    approved = session.post(url, data=fields, headers={"Referer": url}, timeout=30)
    assert approved.status_code == 200  # Terraform's own listener answered the redirect
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stdout + stderr
    assert "Success!" in stdout
    assert f"authenticated requests to {host}" in stdout

    stored = json.loads((terraform.home / ".terraform.d" / "credentials.tfrc.json").read_text())
    text = stored["credentials"][host]["token"]
    new = Token.objects.filter(user=user).exclude(pk__in=before).get()
    assert text.startswith(new.public_id)
    assert new.description.startswith("terraform login")

    terraform.init()
    assert "greeting = " in terraform.apply().stdout
    version = StateVersion.objects.get(environment__name="login")
    assert version.token == new


def test_the_consent_page_sends_a_stranger_to_sign_in_first_and_back(live, personas):
    session = https_session(live)
    authorize = (
        f"{live.url}/terraform-login/authorize?client_id=terraform-cli&response_type=code"
        "&code_challenge=abc&code_challenge_method=S256&state=s"
        "&redirect_uri=http%3A%2F%2Flocalhost%3A10000%2Flogin"
    )
    response = session.get(authorize, allow_redirects=False, timeout=30)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/terraform-login/authorize")
