"""The base of every kind's portal form: who asks and how to reach them (A4). A kind's own form (in its module)
adds its fields and says how they fill a tickets.rules.context.Request; the services decide."""

from django import forms

from accounts.models import Account, User
from billing.models import REQUIRED_INFO_FIELDS, Policy

from ..rules.context import Request
from ..rules.submission import required_info_given
from . import registry


class RequiredInfoForm(forms.Form):
    """A4: who asks and how to reach them, prefilled from the signed-in user; required where the policy says."""

    full_name = forms.CharField(max_length=200, required=False)
    company = forms.CharField(label="Company name or account ID", max_length=200, required=False)
    contact = forms.CharField(label="Contact information (email or phone)", max_length=200, required=False)

    def __init__(self, *args, account: Account, user: User, kind: str, **kwargs) -> None:
        kwargs.setdefault(
            "initial",
            {"full_name": user.full_name, "company": f"{account.name} ({account.account_id})", "contact": user.email},
        )
        super().__init__(*args, **kwargs)
        self.account = account
        self.user = user
        self.kind = kind
        self.policy: Policy = account.plan.policy
        # The kinds whose request carries the policy's required information: those whose rules check it.
        if required_info_given in registry.spec(kind).rules.submit:
            attrs = {"full_name": "full_name", "company_or_account_id": "company", "contact": "contact"}
            for key in self.policy.required_info:
                self.fields[attrs[key]].required = True
                self.fields[attrs[key]].label = REQUIRED_INFO_FIELDS[key]

    def to_request(self) -> Request:
        data = self.cleaned_data
        return Request(full_name=data["full_name"], company=data["company"], contact=data["contact"])
