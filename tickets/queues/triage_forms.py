from django import forms

from tickets.inbound.models import InboundMessage
from tickets.models import ExitReason, Kind
from tickets.services import Request


class ConvertForm(forms.Form):
    """Turn a triage item into a ticket: the kind, the sender's account and what an email usually tells."""

    kind = forms.ChoiceField(choices=Kind.choices)
    account = forms.ModelChoiceField(queryset=None, empty_label=None)
    card_last4 = forms.RegexField(
        r"^[0-9]{4}$", required=False, label="Card's last four digits", help_text="When the email gives them (K7)."
    )
    reason = forms.ChoiceField(choices=[("", "—"), *ExitReason.choices], required=False, label="Reason given")
    requester_confirmed_by = forms.ChoiceField(
        choices=[("", "Not yet"), *InboundMessage.Confirmation.choices],
        required=False,
        label="Requester confirmed",
        help_text="The sender is not verified: anybody can write this From address. Call the customer on the number "
        "on file (or see them) before you create the ticket.",
    )

    def __init__(self, *args, accounts, sender_verified: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if sender_verified:
            del self.fields["requester_confirmed_by"]
        self.fields["account"].queryset = accounts
        self.fields["account"].label_from_instance = lambda a: f"{a.name} ({a.account_id}, {a.plan.name})"

    def to_request(self) -> Request:
        data = self.cleaned_data
        return Request(card_last4=data["card_last4"] or None, reason=data["reason"])
