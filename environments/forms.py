"""Forms of the environments web UI. The rules themselves live in services."""

from django import forms

from .models import ExecutionMode, Variable
from .services.variables import MAX_VALUE_BYTES


class EnvironmentCreateForm(forms.Form):
    namespace = forms.ChoiceField(label="Namespace")
    name = forms.CharField(max_length=64)
    auto_apply = forms.BooleanField(required=False, label="Apply plans automatically")

    def __init__(self, *args, namespaces=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["namespace"].choices = [(n, n) for n in namespaces]


class VariableForm(forms.Form):
    """Adding a variable (key and category editable) or changing one (not)."""

    category = forms.ChoiceField(choices=Variable.Category.choices, initial="terraform")
    key = forms.CharField(max_length=256)
    value = forms.CharField(
        required=False,
        strip=False,
        max_length=MAX_VALUE_BYTES,
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono", "autocomplete": "off"}),
    )
    hcl = forms.BooleanField(required=False, label="HCL (a list or map, not a string)")
    sensitive = forms.BooleanField(
        required=False, label="Sensitive (write-only: never shown again)"
    )

    def __init__(self, *args, variable=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.variable = variable
        if variable is not None:
            del self.fields["category"]
            del self.fields["key"]
            if variable.sensitive:
                self.fields[
                    "value"
                ].help_text = "The current value is hidden. Leave this empty to keep it."
                self.fields["value"].widget.attrs["placeholder"] = "unchanged"


class LockForm(forms.Form):
    reason = forms.CharField(max_length=500, label="Reason")


class UnlockForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, label="Reason")


class AutoApplyForm(forms.Form):
    auto_apply = forms.BooleanField(required=False, label="Apply plans automatically")


class ExecutionModeForm(forms.Form):
    execution_mode = forms.ChoiceField(
        choices=ExecutionMode.choices, label="Where terraform plan and apply run"
    )


class DeleteForm(forms.Form):
    confirm = forms.CharField(label="Type the environment's full name to confirm")

    def __init__(self, *args, slug, **kwargs):
        super().__init__(*args, **kwargs)
        self.slug = slug

    def clean_confirm(self):
        value = self.cleaned_data["confirm"].strip()
        if value != self.slug:
            raise forms.ValidationError(f"Type {self.slug} exactly to delete this environment.")
        return value
