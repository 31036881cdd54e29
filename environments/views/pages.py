"""Environment pages that only read: list, overview, variables, versions, settings."""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.access import SIGNED_IN, guard, rule
from accounts.models import Level
from accounts.privileges import readable_environments_q, writable_namespaces
from atlas.blobs import open_blob
from runs.selectors import any_active, can_queue, latest_run, latest_runs, runs_of_versions
from states import selectors as state_selectors

from .. import doors
from ..filters import MAX_SEARCH, EnvironmentFilter
from ..forms import (
    AutoApplyForm,
    DeleteForm,
    EnvironmentCreateForm,
    ExecutionModeForm,
    LockForm,
    UnlockForm,
    VariableForm,
)
from ..lookup import ENVIRONMENT, page_context
from ..models import ConfigurationVersion, Environment, Variable
from ..process_names import refused_reason
from ..selectors import with_latest_version

PER_PAGE = 50
VALUE_PREVIEW = 200


def writable_namespace_names(user):
    """Names of the namespaces where `user` may create environments."""
    return list(writable_namespaces(user).order_by("name").values_list("name", flat=True))


@guard(rule(GET=SIGNED_IN))
def environment_list(request):
    return render_list(request)


def render_list(request, create_form=None):
    readable = Environment.objects.filter(readable_environments_q(request.user))
    namespace = request.GET.get("namespace", "").strip()
    search = request.GET.get("q", "").strip()[:MAX_SEARCH]
    environments = EnvironmentFilter({"namespace": namespace, "q": search}, queryset=readable).qs
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


@guard(rule(ENVIRONMENT, GET=Level.READ))
def overview(request, environment, level):
    context = page_context(environment, level)
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


@guard(rule(ENVIRONMENT, GET=Level.READ))
def variables(request, environment, level):
    return render_variables(request, environment, level)


def render_variables(request, environment, level, form=None):
    context = page_context(environment, level)
    context.update(
        {
            "tab": "variables",
            "rows": _rows(environment),
            "form": form or VariableForm(),
            "value_preview": VALUE_PREVIEW,
        }
    )
    return render(request, "environments/variables.html", context)


@guard(rule(ENVIRONMENT, GET=Level.READ))
def versions(request, environment, level):
    context = page_context(environment, level)
    queryset = environment.configuration_versions.select_related("created_by").order_by("-number")
    page = Paginator(queryset, PER_PAGE).get_page(request.GET.get("page"))
    runs = runs_of_versions(page.object_list)
    for version in page.object_list:
        version.run_list = runs.get(version.pk, [])
    context.update({"tab": "versions", "page": page})
    return render(request, "environments/versions.html", context)


@guard(rule(ENVIRONMENT, GET=Level.WRITE))
def version_archive(request, environment, level, number):
    """The archive as uploaded: writers only (it may hold state and secrets)."""
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


@guard(rule(ENVIRONMENT, GET=Level.READ))
def settings_page(request, environment, level):
    return render_settings(request, environment, level)


def render_settings(request, environment, level, forms=None):
    context = page_context(environment, level)
    forms = forms or {}
    context.update(
        {
            "tab": "settings",
            "auto_apply_form": forms.get("auto_apply")
            or AutoApplyForm(initial={"auto_apply": environment.auto_apply}),
            "execution_mode_form": ExecutionModeForm(
                initial={"execution_mode": environment.execution_mode}
            ),
            "lock_form": forms.get("lock") or LockForm(),
            "unlock_form": forms.get("unlock") or UnlockForm(),
            "delete_form": forms.get("delete") or DeleteForm(slug=environment.slug),
            "holds_lock": environment.locked and environment.locked_by_id == request.user.pk,
        }
    )
    return render(request, "environments/settings.html", context)
