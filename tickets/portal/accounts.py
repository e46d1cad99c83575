"""Sign-in and password reset (with a former member's way back, tickets.former) and staff two-factor."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.views import LoginView, PasswordResetView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import match_token

from accounts import two_factor
from accounts.exceptions import Refusal
from accounts.models import User
from tickets import access, former
from tickets import services as ticket_services
from tickets.models import Channel, Kind


class SignInForm(AuthenticationForm):
    """Django's sign-in, plus the way back of a former member (SPEC §4, "Account lifecycle"; K9, U7, S11): someone
    whose account was cancelled, giving the right password, is not signed in (their user stays inactive) but gets
    a former-member session (tickets.former) that leads to one page about the account. A wrong password, an
    unknown email or an account that was never cancelled get Django's one generic error, so the form reveals
    nothing without the password.

    authenticate() has already run (and django-axes has counted its failure) when this looks: it checks the
    password itself instead of authenticating again, so a correct password counts no second failure."""

    former_user: User | None

    def clean(self):
        self.former_user = None
        try:
            return super().clean()
        except ValidationError as error:
            if error.code != "invalid_login" or getattr(self.request, "axes_locked_out", False):
                raise
            self.former_user = self._former_member()
            raise

    def _former_member(self) -> User | None:
        email = (self.cleaned_data.get("username") or "").strip().lower()
        password = self.cleaned_data.get("password") or ""
        user = User.objects.filter(email=email, is_active=False, is_staff=False).first()
        if user is None or not user.check_password(password) or not access.is_former_member(user):
            return None
        return user


class SignInView(LoginView):
    form_class = SignInForm

    def form_invalid(self, form):
        if getattr(form, "former_user", None) is not None:
            former.start(self.request, form.former_user)
            return redirect("former_member")
        return super().form_invalid(form)


class FormerPasswordResetForm(PasswordResetForm):
    """Django's password reset, which also reaches former members (SPEC §4, "Account lifecycle"): their user is
    inactive, and where the cancellation erased the users the owner has no password left (K8, effects'
    erase_users_and_settings), so Django's own form would send them nothing. The new password leads them to the
    former-member page, never to a session on the rest of the site."""

    def get_users(self, email):
        yield from super().get_users(email)
        user = access.former_member_by_email(email)
        if user is not None and not user.is_active:
            yield user


class FormerPasswordResetView(PasswordResetView):
    form_class = FormerPasswordResetForm


class ReactivationAskForm(forms.Form):
    account = forms.CharField(max_length=20)


@never_cache
@require_http_methods(["GET", "POST"])
def former_member_view(request: HttpRequest) -> HttpResponse:
    """The one page of a former member: when each cancelled account was cancelled, when its data goes, and "Ask to
    reactivate" where the policy allows it now for their role (a reactivation ticket through the one submission
    service), else the rule's words and the provider's contact routes.

    1. Nobody else reaches it: without a former member, it sends them to sign in.
    2. POST: the reactivation of one of their own cancelled accounts; a refusal is shown in its words."""
    user = former.user_of(request)
    if user is None:
        return redirect("login")
    refusal = ""
    if request.method == "POST":
        if request.POST.get("action") == "sign_out":
            former.end(request)
            return redirect("login")
        form = ReactivationAskForm(request.POST)
        memberships = access.former_memberships(user)
        membership = memberships.filter(account__account_id=form.data.get("account", "")).first()
        if not form.is_valid() or membership is None:
            refusal = "Choose one of your cancelled accounts."
        else:
            try:
                ticket_services.submit_ticket(
                    account=membership.account,
                    kind=Kind.REACTIVATION,
                    requester=user,
                    request=ticket_services.Request(full_name=user.full_name, contact=user.email),
                    channel=Channel.WEB,
                )
            except Refusal as exc:
                refusal = exc.detail
            else:
                messages.success(
                    request, f"We have your request to reactivate {membership.account.name}: we will email you."
                )
                return redirect("former_member")
    context = {"former_user": user, "accounts": former.former_accounts(user), "refusal": refusal}
    return render(request, "registration/former_member.html", context, status=409 if refusal else 200)


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
