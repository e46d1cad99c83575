from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from accounts.services import ensure_inbound_recording_addon
from config.admin_mixins import ValidInitialIdsMixin
from numbers.models import PhoneNumber, normalize_e164

IN_SERVICE = {PhoneNumber.Status.ACTIVE, PhoneNumber.Status.PORTING_OUT}


class PhoneNumberForm(forms.ModelForm):
    class Meta:
        model = PhoneNumber
        fields = ["account", "number", "status", "inbound_recording"]

    def clean_number(self) -> str:
        """Accept any way of writing a valid number and store it in E.164."""
        return normalize_e164(self.cleaned_data["number"])


class PhoneNumberFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        """A number is in service once: the database refuses a duplicate, the formset names it first."""
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            data = form.cleaned_data
            if not data or data.get("DELETE") or data.get("status") not in IN_SERVICE:
                continue
            if data.get("number") in seen:
                raise ValidationError(f"{data['number']} is entered twice; a number is in service once.")
            seen.add(data.get("number"))

    def save(self, commit: bool = True):
        saved = super().save(commit=commit)
        if commit:
            for number in saved:
                ensure_inbound_recording_addon(number)  # A7: the recording is an add-on that can be cancelled
        return saved


@admin.register(PhoneNumber)
class PhoneNumberAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    form = PhoneNumberForm
    list_display = ["number", "account", "status", "inbound_recording", "created_at"]
    list_filter = ["status", "inbound_recording", "account__plan"]
    list_select_related = ["account"]
    search_fields = ["number", "account__account_id", "account__name"]
    autocomplete_fields = ["account"]
    readonly_fields = ["created_at", "released_at", "ported_out_at"]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        ensure_inbound_recording_addon(obj)  # A7
