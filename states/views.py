"""Web pages of an environment's state: head, outputs, history, diff, rollback.

Each page declares its access rule (`guard`), as the API's views do (404
for what the caller may not see, 403 for a level too low); a rollback goes
through the same service as the API's.
"""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from accounts.access import guard, rule
from accounts.models import Level
from accounts.privileges import at_least
from environments.lookup import ENVIRONMENT, page_context
from runs.selectors import runs_by_id

from . import presentation, selectors, services
from .parsing import MAX_SERIAL
from .responses import state_response

HISTORY_PER_PAGE = 25


def _version(environment, serial):
    return selectors.version_or_404(environment, serial, ("created_by", "rolled_back_from"))


def _head(environment):
    return selectors.head(environment, ("created_by", "rolled_back_from", "token"))


def _previous_serial(environment, serial):
    """The serial stored just before `serial`, or None."""
    return (
        environment.state_versions.filter(serial__lt=serial)
        .order_by("-serial")
        .values_list("serial", flat=True)
        .first()
    )


def _attach_runs(environment, versions):
    """Give each version written by a run (through the run's own token) that
    run as `written_by_run`, for its link and who confirmed it."""
    ids = {v.token.scope_run_id for v in versions if v.token_id and v.token.scope_run_id}
    runs = runs_by_id(environment, ids)
    for version in versions:
        token = version.token if version.token_id else None
        version.written_by_run = runs.get(token.scope_run_id) if token else None


def _context(environment, level, **extra):
    return page_context(environment, level, tab="state", **extra)


READERS = rule(ENVIRONMENT, GET=Level.READ, HEAD=Level.READ)


@guard(READERS)
def state_page(request, environment, level):
    head = _head(environment)
    outputs, too_large = None, False
    if head is not None:
        try:
            outputs = list(presentation.outputs(presentation.load(head)).values())
        except presentation.TooLarge:
            too_large = True
    history = selectors.history(environment).select_related("token")
    page = Paginator(history, HISTORY_PER_PAGE).get_page(request.GET.get("page"))
    can_rollback = at_least(level, Level.ADMIN)
    versions = list(page.object_list)
    _attach_runs(environment, versions + ([head] if head is not None else []))
    rows = []
    for index, version in enumerate(versions):
        following = versions[index + 1] if index + 1 < len(versions) else None
        rows.append(
            {
                "version": version,
                "previous": following.serial
                if following
                else _previous_serial(environment, version.serial),
                "can_rollback": can_rollback and (head is None or head.pk != version.pk),
            }
        )
    context = _context(
        environment,
        level,
        head=head,
        head_previous=_previous_serial(environment, head.serial) if head else None,
        outputs=outputs,
        too_large=too_large,
        page=page,
        rows=rows,
        # Readers are asked before a download: they see no secret anywhere else.
        warn_downloads=not at_least(level, Level.WRITE),
        serials=list(selectors.history(environment).values_list("serial", flat=True)[:500]),
    )
    return render(request, "states/state.html", context)


class DiffForm(forms.Form):
    # `from` is a Python keyword: the form reads it from the query string by hand.
    to = forms.IntegerField(min_value=0, max_value=MAX_SERIAL)
    source = forms.IntegerField(min_value=0, max_value=MAX_SERIAL)


@guard(READERS)
def diff_page(request, environment, level):
    form = DiffForm({"source": request.GET.get("from"), "to": request.GET.get("to")})
    if not form.is_valid():
        return render(
            request,
            "states/diff.html",
            _context(environment, level, error="Choose two serials to compare."),
            status=400,
        )
    old = _version(environment, form.cleaned_data["source"])
    new = _version(environment, form.cleaned_data["to"])
    context = _context(environment, level, old=old, new=new)
    try:
        old_doc, new_doc = presentation.load(old), presentation.load(new)
    except presentation.TooLarge:
        context["too_large"] = presentation.PAGE_MAX_BYTES
        return render(request, "states/diff.html", context)
    context["summary"] = presentation.summarize(old_doc, new_doc)
    context["lines"] = presentation.unified(
        old_doc, new_doc, f"serial {old.serial}", f"serial {new.serial}"
    )
    return render(request, "states/diff.html", context)


@guard(READERS)
def download(request, environment, level, serial):
    version = _version(environment, serial)
    filename = f"{environment.namespace.name}-{environment.name}-{version.serial}.tfstate"
    return state_response(version, filename=filename)


class RollbackForm(forms.Form):
    confirm = forms.CharField(label="Type the serial to confirm", max_length=20)

    def __init__(self, *args, serial, **kwargs):
        super().__init__(*args, **kwargs)
        self.serial = serial

    def clean_confirm(self):
        value = self.cleaned_data["confirm"].strip()
        if value != str(self.serial):
            raise forms.ValidationError(f"Type {self.serial} to confirm the rollback.")
        return value


@guard(rule(ENVIRONMENT, GET=Level.ADMIN, POST=Level.ADMIN))
def rollback(request, environment, level, serial):
    source = _version(environment, serial)
    form = RollbackForm(request.POST or None, serial=source.serial)
    if request.method == "POST" and form.is_valid():
        try:
            version = services.rollback(environment, source, user=request.user)
        except services.RollbackBusy as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"Rolled back to the content of serial {source.serial}: "
                f"it is now the head as serial {version.serial}.",
            )
            return redirect(
                "states:state", username=environment.namespace.name, name=environment.name
            )
    context = _context(environment, level, source=source, head=_head(environment), form=form)
    return render(request, "states/rollback.html", context, status=400 if form.errors else 200)
