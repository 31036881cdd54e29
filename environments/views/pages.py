"""Environment pages that only read: list, overview, variables, versions, settings."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from accounts.models import Level
from accounts.privileges import readable_environments_q, writable_namespaces
from atlas.blobs import open_blob
from runs.selectors import any_active, can_queue, latest_run, latest_runs, runs_of_versions
from states import selectors as state_selectors

from .. import doors
from ..api.serializers import with_latest_version
from ..forms import (
    AutoApplyForm,
    DeleteForm,
    EnvironmentCreateForm,
    LockForm,
    UnlockForm,
    VariableForm,
)
from ..models import ConfigurationVersion, Environment, Variable
from ..process_names import refused_reason
from .common import page_environment

PER_PAGE = 50
VALUE_PREVIEW = 200
MAX_SEARCH = 130


def writable_namespace_names(user):
    """Names of the namespaces where `user` may create environments."""
    return list(writable_namespaces(user).order_by("name").values_list("name", flat=True))


@login_required
@require_GET
def environment_list(request):
    return render_list(request)


def _search(environments, text):
    """Environments whose name (or `namespace/name`) contains `text`, any case."""
    if "/" in text:
        namespace, _slash, name = text.partition("/")
        return environments.filter(
            namespace__name__icontains=namespace.strip(), name__icontains=name.strip()
        )
    return environments.filter(Q(name__icontains=text) | Q(namespace__name__icontains=text))


def render_list(request, create_form=None):
    environments = Environment.objects.filter(readable_environments_q(request.user))
    namespace = request.GET.get("namespace", "").strip()
    search = request.GET.get("q", "").strip()[:MAX_SEARCH]
    if namespace:
        environments = environments.filter(namespace__name__iexact=namespace)
    if search:
        environments = _search(environments, search)
    environments = with_latest_version(environments).order_by("namespace__name", "name")
    page = Paginator(environments, PER_PAGE).get_page(request.GET.get("page"))
    latest = latest_runs(page.object_list)
    for environment in page.object_list:
        environment.latest_run = latest.get(environment.pk)
    namespaces = writable_namespace_names(request.user)
    if create_form is None:
        initial = {"namespace": namespace} if namespace in namespaces else {}
        create_form = EnvironmentCreateForm(namespaces=namespaces, initial=initial)
    query = {key: value for key, value in (("namespace", namespace), ("q", search)) if value}
    return render(
        request,
        "environments/list.html",
        {
            "page": page,
            "namespace": namespace,
            "search": search,
            "namespace_query": urlencode(query) + "&" if query else "",
            "create_form": create_form if namespaces else None,
            "runs_active": any_active(latest.values()),
        },
    )


@login_required
@require_GET
def overview(request, username, name):
    environment, context = page_environment(request, username, name)
    versions = list(environment.configuration_versions.select_related("created_by")[:5])
    context.update(
        {
            "tab": "overview",
            "latest": versions[0] if versions else None,
            "latest_run": latest_run(environment),
            "can_queue": context["can_write"] and can_queue(environment),
            "versions": versions,
            "state_head": state_selectors.head(environment),
            "variable_count": environment.variables.count(),
            "doors": doors.snippets(request, environment),
            "holds_lock": environment.locked and environment.locked_by_id == request.user.pk,
        }
    )
    return render(request, "environments/overview.html", context)


def _rows(environment):
    rows = []
    for variable in environment.variables.all():
        value = None if variable.sensitive else variable.value
        refused = variable.category == Variable.Category.ENV and refused_reason(variable.key)
        rows.append(
            {
                "variable": variable,
                "value": value,
                "preview": value if value is None or len(value) <= VALUE_PREVIEW else None,
                "not_applied": refused or "",
            }
        )
    return rows


@login_required
@require_GET
def variables(request, username, name):
    return render_variables(request, username, name)


def render_variables(request, username, name, form=None):
    environment, context = page_environment(request, username, name)
    context.update(
        {
            "tab": "variables",
            "rows": _rows(environment),
            "form": form or VariableForm(),
            "value_preview": VALUE_PREVIEW,
        }
    )
    return render(request, "environments/variables.html", context)


@login_required
@require_GET
def versions(request, username, name):
    environment, context = page_environment(request, username, name)
    queryset = environment.configuration_versions.select_related("created_by").order_by("-number")
    page = Paginator(queryset, PER_PAGE).get_page(request.GET.get("page"))
    runs = runs_of_versions(page.object_list)
    for version in page.object_list:
        version.run_list = runs.get(version.pk, [])
    context.update({"tab": "versions", "page": page})
    return render(request, "environments/versions.html", context)


@login_required
@require_GET
def version_archive(request, username, name, number):
    """The archive as uploaded: writers only (it may hold state and secrets)."""
    environment, _context = page_environment(request, username, name, Level.WRITE)
    version = get_object_or_404(
        ConfigurationVersion,
        environment=environment,
        number=number,
        status=ConfigurationVersion.Status.FINISHED,
    )
    try:
        chunks = open_blob(version.archive_name, version.archive_key_id)
    except FileNotFoundError:
        raise Http404("The archive is missing from storage.") from None
    response = StreamingHttpResponse(chunks, content_type="application/gzip")
    filename = f"{environment.namespace.name}-{environment.name}-v{version.number}.tar.gz"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Content-Length"] = str(version.archive_size)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def settings_page(request, username, name):
    return render_settings(request, username, name)


def render_settings(request, username, name, forms=None):
    environment, context = page_environment(request, username, name)
    forms = forms or {}
    context.update(
        {
            "tab": "settings",
            "auto_apply_form": forms.get("auto_apply")
            or AutoApplyForm(initial={"auto_apply": environment.auto_apply}),
            "lock_form": forms.get("lock") or LockForm(),
            "unlock_form": forms.get("unlock") or UnlockForm(),
            "delete_form": forms.get("delete") or DeleteForm(slug=environment.slug),
            "holds_lock": environment.locked and environment.locked_by_id == request.user.pk,
        }
    )
    return render(request, "environments/settings.html", context)
