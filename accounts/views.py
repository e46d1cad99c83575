"""Sign-in (with the cancelled customer's answer) and staff two-factor."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import match_token

from . import two_factor
from .models import Account, Membership, User


class SignInForm(AuthenticationForm):
    """Django's sign-in, plus one answer: someone whose account was cancelled, giving the right password, is told
    so and how to ask for reactivation (K9, U7; SPEC §5). A wrong password, an unknown email or an account that was
    never cancelled get Django's one generic error, so the form reveals nothing without the password.

    authenticate() has already run (and django-axes has counted its failure) when this looks: it checks the
    password itself instead of authenticating again, so a correct password counts no second failure."""

    cancelled: list[Membership]

    def clean(self):
        self.cancelled = []
        try:
            return super().clean()
        except ValidationError as error:
            if error.code != "invalid_login" or getattr(self.request, "axes_locked_out", False):
                raise
            self.cancelled = self._cancelled_memberships()
            if not self.cancelled:
                raise
            account = self.cancelled[0].account
            raise ValidationError(
                f"The account {account.name} was cancelled, so you can no longer sign in to it.",
                code="account_cancelled",
            ) from None

    def _cancelled_memberships(self) -> list[Membership]:
        email = (self.cleaned_data.get("username") or "").strip().lower()
        password = self.cleaned_data.get("password") or ""
        user = User.objects.filter(email=email, is_active=False, is_staff=False).first()
        if user is None or not user.check_password(password):
            return []
        closed = [Account.Status.CANCELLED, Account.Status.PURGING]
        return list(
            user.memberships.filter(account__status__in=closed)
            .select_related("account__plan__policy")
            .order_by("-account__cancelled_at")
        )


class SignInView(LoginView):
    form_class = SignInForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context["form"]
        context["cancelled"] = [
            {
                "account": m.account,
                "policy": m.account.plan.policy,
                "reactivation_open": m.account.plan.policy.reactivation_open(m.account),
            }
            for m in getattr(form, "cancelled", [])
        ]
        return context


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
