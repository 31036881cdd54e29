"""The configuration snippets that point each Terraform at an environment.

One environment, three doors: the `atlas` backend (Terraform 0.9 to 0.14),
the `http` backend (every version, OpenTofu too) in Terraform's and
GitLab's lock styles, and the `cloud` block (1.1+; `backend "remote"` from
0.12 takes the same settings). Shown on the environment's page, copyable.
"""

from urllib.parse import urlsplit

from django.conf import settings


def base_url(request):
    return settings.EXTERNAL_URL or request.build_absolute_uri("/").rstrip("/")


def snippets(request, environment):
    """[(id, title, note, text)] for the environment's page."""
    base = base_url(request)
    namespace, name = environment.namespace.name, environment.name
    address = f"{base}/api/v1/terraform/state/{namespace}/{name}"
    host = urlsplit(base).netloc
    return [
        (
            "door-atlas",
            "Terraform 0.9 to 0.14: the atlas backend",
            "export ATLAS_TOKEN=<token>",
            f'terraform {{\n  backend "atlas" {{\n    name    = "{namespace}/{name}"\n'
            f'    address = "{base}"\n  }}\n}}',
        ),
        (
            "door-http",
            "Any Terraform or OpenTofu: the http backend",
            "export TF_HTTP_USERNAME=<your username> TF_HTTP_PASSWORD=<token>",
            f'terraform {{\n  backend "http" {{\n    address        = "{address}"\n'
            f'    lock_address   = "{address}"\n    unlock_address = "{address}"\n  }}\n}}',
        ),
        (
            "door-http-gitlab",
            "The http backend in GitLab's lock style",
            "export TF_HTTP_USERNAME=<your username> TF_HTTP_PASSWORD=<token>",
            f'terraform {{\n  backend "http" {{\n    address        = "{address}"\n'
            f'    lock_address   = "{address}/lock"\n    lock_method    = "POST"\n'
            f'    unlock_address = "{address}/lock"\n    unlock_method  = "DELETE"\n  }}\n}}',
        ),
        (
            "door-cloud",
            "Terraform 1.1 and later: the cloud block (HTTPS)",
            f"terraform login {host}",
            f'terraform {{\n  cloud {{\n    hostname     = "{host}"\n'
            f'    organization = "{namespace}"\n    workspaces {{\n      name = "{name}"\n'
            "    }\n  }\n}",
        ),
    ]
