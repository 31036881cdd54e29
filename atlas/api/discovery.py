"""Terraform's service discovery and the TFE v2 ping.

`/.well-known/terraform.json` tells Terraform where this host's services
are: the TFE v2 API (`tfe.v2`, `tfe.v2.1` for the `remote` backend,
`tfe.v2.2`), `state.v2`, and `login.v1` for `terraform login`. Terraform
only asks over HTTPS: run behind a TLS proxy, or `make serve` with
ATLAS_SERVE_TLS (see the README).
"""

from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from rest_framework.response import Response

from accounts.access import ANYONE, declares, rule

from .jsonapi import V2View
from .links import absolute_url

LOGIN_PORTS = [10000, 10010]
LOGIN_CLIENT = "terraform-cli"


@declares(rule(GET=ANYONE))  # Terraform reads it before it has any credential
@require_GET
def discovery(request):
    base = absolute_url(request, "/api/v2/")
    return JsonResponse(
        {
            "tfe.v2": base,
            "tfe.v2.1": base,
            "tfe.v2.2": base,
            "state.v2": base,
            "login.v1": {
                "client": LOGIN_CLIENT,
                "grant_types": ["authz_code"],
                "authz": absolute_url(request, reverse("accounts:terraform-login")),
                "token": absolute_url(request, reverse("accounts:terraform-login-token")),
                "ports": LOGIN_PORTS,
            },
        }
    )


class PingView(V2View):
    """`GET /api/v2/ping`: Terraform calls it first; only the headers matter."""

    authentication_classes = []
    access_rule = rule(GET=ANYONE)

    def get(self, request):
        return Response(status=204)
