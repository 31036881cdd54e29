"""`terraform login`: OAuth 2 authorization code with PKCE, ending in an API token.

Discovery (`login.v1`) sends Terraform to `authorize` with a PKCE challenge
and a redirect to its own listener on localhost. A signed-in person sees a
consent page ("Terraform CLI on <host> asks for a token"); someone not
signed in signs in first and comes back (`login_required`). Approving
redirects to Terraform with a single-use code; Terraform POSTs it with its
PKCE verifier to `token` and receives an ordinary API token of that person,
listed on /settings/tokens like any other.
"""

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from django.db import transaction
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from atlas.api.discovery import LOGIN_CLIENT, LOGIN_PORTS

from . import tokens, twofactor
from .access import ANYONE, SIGNED_IN, declares, guard, rule
from .decorators import require_sudo_mode, throttled_page
from .models import LoginCode

CODE_LIFETIME = timedelta(minutes=5)
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


def _digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def redirect_uri_allowed(uri):
    """Only Terraform's own listener: http on localhost, a port of `login.v1`."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "http"
        and parts.hostname in LOCAL_HOSTS
        and port is not None
        and LOGIN_PORTS[0] <= port <= LOGIN_PORTS[1]
        and not parts.query
        and not parts.fragment
    )


def _request_problem(params):
    if params.get("client_id") != LOGIN_CLIENT:
        return "Unknown client."
    if params.get("response_type") != "code":
        return "Only the authorization code flow is supported."
    if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
        return "A PKCE challenge (S256) is required."
    if len(params.get("code_challenge", "")) > 128 or len(params.get("state", "")) > 512:
        return "The request's parameters are too long."
    if not redirect_uri_allowed(params.get("redirect_uri", "")):
        return "The redirect address must be Terraform's listener on localhost."
    return None


def _back_to_terraform(uri, **params):
    separator = "&" if urlsplit(uri).query else "?"
    return HttpResponseRedirect(f"{uri}{separator}{urlencode(params)}")


@never_cache
@guard(rule(GET=SIGNED_IN, POST=SIGNED_IN))
def authorize(request):
    params = request.GET if request.method == "GET" else request.POST
    problem = _request_problem(params)
    if problem:
        return render(request, "accounts/terraform_login.html", {"problem": problem}, status=400)
    fields = {
        name: params.get(name, "")
        for name in (
            "client_id",
            "code_challenge",
            "code_challenge_method",
            "redirect_uri",
            "response_type",
            "state",
        )
    }
    if request.method == "GET":
        context = {"fields": fields, "host": request.get_host()}
        return render(request, "accounts/terraform_login.html", context)
    if params.get("decision") != "approve":
        return _back_to_terraform(
            fields["redirect_uri"], error="access_denied", state=fields["state"]
        )
    if twofactor.must_enrol_before_tokens(request.user):
        context = {"problem": twofactor.ENROL_NEEDED}
        return render(request, "accounts/terraform_login.html", context, status=403)
    return _approve(request, fields)


@throttled_page
@require_sudo_mode(cancel="accounts:tokens")
def _approve(request, fields):
    """Issue the code: like every new token, after the password (and the
    second factor) were given recently. The sudo page posts the consent
    form back to `authorize`, which comes here again."""
    code = secrets.token_urlsafe(32)
    LoginCode.objects.create(
        user=request.user,
        digest=_digest(code),
        client_id=fields["client_id"],
        redirect_uri=fields["redirect_uri"],
        code_challenge=fields["code_challenge"],
        expires_at=timezone.now() + CODE_LIFETIME,
    )
    return _back_to_terraform(fields["redirect_uri"], code=code, state=fields["state"])


def _grant_error(error, description, status=400):
    return JsonResponse({"error": error, "error_description": description}, status=status)


def _s256(verifier):
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@csrf_exempt
@declares(rule(POST=ANYONE))  # the code and its PKCE verifier are the credential
@require_POST
def token(request):
    """The token endpoint: a code and its PKCE verifier for an API token."""
    data = request.POST
    if data.get("grant_type") != "authorization_code":
        return _grant_error("unsupported_grant_type", "Only authorization_code is supported.")
    code, verifier = data.get("code", ""), data.get("code_verifier", "")
    if not code or not verifier or len(verifier) > 128:
        return _grant_error("invalid_request", "code and code_verifier are required.")
    now = timezone.now()
    with transaction.atomic():
        found = LoginCode.objects.filter(
            digest=_digest(code), used_at__isnull=True, expires_at__gt=now
        ).first()
        if found is None or not LoginCode.objects.filter(pk=found.pk, used_at__isnull=True).update(
            used_at=now
        ):
            return _grant_error("invalid_grant", "The code is unknown, used or expired.")
    if data.get("client_id") != found.client_id or data.get("redirect_uri") != found.redirect_uri:
        return _grant_error("invalid_grant", "The code was issued to another client.")
    if not hmac.compare_digest(_s256(verifier), found.code_challenge):
        return _grant_error("invalid_grant", "The code verifier does not match.")
    if not found.user.is_active:
        return _grant_error("invalid_grant", "The account is inactive.")
    description = f"terraform login ({now:%Y-%m-%d %H:%M} UTC)"
    _token, text = tokens.issue(found.user, description=description)
    return JsonResponse({"access_token": text, "token_type": "bearer"})
