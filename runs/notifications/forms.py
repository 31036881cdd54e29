"""Forms of the Integrations tab. The rules live in `services.clean`."""

from django import forms

from .models import Event, Kind

RECIPIENTS_HELP = (
    "Usernames of people who can read this environment, or email addresses, separated by commas."
)


class NotificationForm(forms.Form):
    """Adding a configuration (with its kind) or changing one (without)."""

    kind = forms.ChoiceField(choices=Kind.choices, initial=Kind.WEBHOOK, widget=forms.RadioSelect)
    url = forms.CharField(
        required=False,
        max_length=2000,
        label="URL",
        help_text="http:// or https://; for Slack, the incoming webhook's URL.",
        widget=forms.URLInput(
            attrs={"class": "mono", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    recipients = forms.CharField(
        required=False, max_length=4000, help_text=RECIPIENTS_HELP, label="Recipients"
    )
    events = forms.MultipleChoiceField(
        choices=Event.choices,
        initial=[Event.PLANNED, Event.ERRORED],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Events",
    )
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled")

    # The fields a channel does not use are hidden, not removed: no
    # browser-side `required`, the service decides.
    use_required_attribute = False

    def __init__(self, *args, configuration=None, masked_url="", **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration = configuration
        if configuration is None:
            kind = self.data.get("kind") if self.is_bound else None
            self.fields["url"].required = kind != Kind.EMAIL
            self.fields["recipients"].required = kind in (None, Kind.EMAIL)
        else:
            del self.fields["kind"]
            if configuration.kind == Kind.EMAIL:
                del self.fields["url"]
            else:
                del self.fields["recipients"]
                self.fields["url"].help_text = "Leave empty to keep the current URL."
                self.fields["url"].widget.attrs["placeholder"] = masked_url

    def data_for_service(self):
        """The cleaned form as the service (and the API) expects it."""
        data = {
            "events": self.cleaned_data["events"],
            "enabled": self.cleaned_data["enabled"],
        }
        if "kind" in self.fields:
            data["kind"] = self.cleaned_data["kind"]
        if "url" in self.fields and self.cleaned_data["url"]:
            data["url"] = self.cleaned_data["url"]
        if "recipients" in self.fields:
            data["recipients"] = self.cleaned_data["recipients"].replace("\n", ",")
        return data
