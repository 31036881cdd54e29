"""Environment pages that change something: one URL per action, POST + CSRF.

Each calls the same service function the API calls; a refused change comes
back as form errors on the page it was made from.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from accounts.access import SIGNED_IN, guard, namespace_for, rule
from accounts.models import Level

from .. import services
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
from ..models import Variable
from .common import environment_url
from .pages import render_list, render_settings, render_variables, writable_namespace_names


def _add_errors(form, error):
    """Put a service's ValidationError on the form, by field where it can."""
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


@guard(rule(POST=SIGNED_IN))  # the namespace, named in the form, needs write
def create_environment(request):
    form = EnvironmentCreateForm(request.POST, namespaces=writable_namespace_names(request.user))
    if form.is_valid():
        namespace, _level = namespace_for(request, form.cleaned_data["namespace"], Level.WRITE)
        try:
            environment = services.new_environment(
                namespace, form.cleaned_data["name"], request.user, form.cleaned_data["auto_apply"]
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"Environment {environment.slug} created.")
            return redirect(environment_url(environment))
    return render_list(request, create_form=form)


@guard(rule(ENVIRONMENT, POST=Level.WRITE))
def add_variable(request, environment, level):
    form = VariableForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            variable = services.save_variable(environment, request.user, **data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"Variable {variable.key} added.")
            return redirect(environment_url(environment, "variables"))
    return render_variables(request, environment, level, form=form)


@guard(rule(ENVIRONMENT, GET=Level.WRITE, POST=Level.WRITE))
def edit_variable(request, environment, level, pk):
    context = page_context(environment, level)
    variable = get_object_or_404(Variable, environment=environment, pk=pk)
    if request.method == "POST":
        form = VariableForm(request.POST, variable=variable)
        if form.is_valid():
            try:
                services.save_variable(
                    environment,
                    request.user,
                    key=variable.key,
                    category=variable.category,
                    variable=variable,
                    **form.cleaned_data,
                )
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, f"Variable {variable.key} saved.")
                return redirect(environment_url(environment, "variables"))
    else:
        initial = {"hcl": variable.hcl, "sensitive": variable.sensitive}
        if not variable.sensitive:
            initial["value"] = variable.value
        form = VariableForm(variable=variable, initial=initial)
    context.update({"tab": "variables", "variable": variable, "form": form})
    return render(request, "environments/variable_edit.html", context)


@guard(rule(ENVIRONMENT, POST=Level.WRITE))
def delete_variable(request, environment, level, pk):
    variable = get_object_or_404(Variable, environment=environment, pk=pk)
    services.delete_variable(variable)
    messages.success(request, f"Variable {variable.key} deleted.")
    return redirect(environment_url(environment, "variables"))


@guard(rule(ENVIRONMENT, POST=Level.ADMIN))
def set_auto_apply(request, environment, level):
    form = AutoApplyForm(request.POST)
    form.is_valid()
    services.set_auto_apply(environment, form.cleaned_data.get("auto_apply", False))
    state = "on" if environment.auto_apply else "off"
    messages.success(request, f"Auto-apply is {state}.")
    return redirect(environment_url(environment, "settings"))


@guard(rule(ENVIRONMENT, POST=Level.ADMIN))
def set_execution_mode(request, environment, level):
    form = ExecutionModeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose remote or local execution.")
        return redirect(environment_url(environment, "settings"))
    services.set_execution_mode(environment, form.cleaned_data["execution_mode"], request.user)
    messages.success(request, f"Execution mode is {environment.execution_mode}.")
    return redirect(environment_url(environment, "settings"))


@guard(rule(ENVIRONMENT, POST=Level.ADMIN))
def lock(request, environment, level):
    form = LockForm(request.POST)
    if form.is_valid():
        try:
            services.lock_environment(environment, request.user, form.cleaned_data["reason"])
        except services.LockError as error:
            form.add_error(None, str(error))
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, "Environment locked.")
            return redirect(environment_url(environment, "settings"))
    return render_settings(request, environment, level, forms={"lock": form})


def _unlock(request, environment, level, force):
    form = UnlockForm(request.POST)
    if form.is_valid():
        try:
            services.unlock_environment(
                environment, request.user, force=force, reason=form.cleaned_data["reason"]
            )
        except services.LockError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request, "Environment force-unlocked." if force else "Environment unlocked."
            )
            return redirect(environment_url(environment, "settings"))
    return render_settings(request, environment, level, forms={"unlock": form})


@guard(rule(ENVIRONMENT, POST=Level.ADMIN))
def unlock(request, environment, level):
    return _unlock(request, environment, level, force=False)


@guard(rule(ENVIRONMENT, POST=Level.ADMIN))
def force_unlock(request, environment, level):
    return _unlock(request, environment, level, force=True)


@guard(rule(ENVIRONMENT, POST=Level.ADMIN))
def delete_environment(request, environment, level):
    form = DeleteForm(request.POST, slug=environment.slug)
    if not form.is_valid():
        return render_settings(request, environment, level, forms={"delete": form})
    namespace = environment.namespace.name
    services.delete_environment(environment, request.user)
    messages.success(request, f"Environment {environment.slug} deleted.")
    return redirect(f"{reverse('environments:list')}?namespace={namespace}")
