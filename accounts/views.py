"""Staff two-factor: the page where a signed-in staff member gives the code of their authenticator app."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import match_token

from . import two_factor


class CodeForm(forms.Form):
    otp_token = forms.CharField(
        label="Code from your authenticator app",
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/admin/"
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return "/admin/"


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_view(request: HttpRequest) -> HttpResponse:
    """1. Someone who needs no code goes on. 2. A staff member without an authenticator is told how to get one.
    3. A current code marks the session verified (django_otp.login) and goes on to `next`."""
    target = _next(request)
    if not two_factor.needs_verification(request.user):
        return redirect(target)
    has_device = two_factor.has_authenticator(request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and has_device and form.is_valid():
        code = form.cleaned_data["otp_token"].strip().replace(" ", "")
        device = match_token(request.user, code) if code.isdigit() else None
        if device is not None:
            otp_login(request, device)
            return redirect(target)
        form.add_error("otp_token", "That code is not valid now. Wait for the next one and try again.")
    context = {"form": form, "next": target, "has_device": has_device}
    return render(request, "registration/two_factor.html", context, status=400 if form.errors else 200)
