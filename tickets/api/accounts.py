"""REST API: API tokens, and provisioning accounts with their members, numbers, licenses, add-ons, invoices, card.

Provisioning (every POST/PUT here) is for staff holding the model's add or change permission and calls
accounts.services; customers read what belongs to their own active accounts, invoices and the card only with a
billing role (U1). Who may do what is tickets.access's answer; another account's objects are 404.
"""

import logging
import re

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services, tokens, two_factor
from accounts.exceptions import Code, Refusal
from accounts.invitations import invite
from accounts.models import Account, Membership
from billing.models import AddOn, CardOnFile, Invoice, License, Plan
from numbers.models import PhoneNumber, normalize_e164
from tickets import access
from tickets.api.common import (
    DeskPermission,
    IdField,
    IdRelatedField,
    TokenThrottle,
    account_for,
    business_rules,
    error_responses,
)

logger = logging.getLogger(__name__)


# -- token -----------------------------------------------------------------------------------------------------


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=256, trim_whitespace=False, write_only=True)
    otp = serializers.CharField(
        max_length=12,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="Staff: a current code of their authenticator app (TOTP), while STAFF_OTP_REQUIRED is on.",
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class InvalidCredentials(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_credentials"
    default_detail = "Unable to sign in with that email and password."


class OTPRequired(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "otp_required"
    default_detail = "Staff need a current code from their authenticator app (`otp`) as well as the password."


class ObtainToken(APIView):
    """Exchange an email and password for an API token (refused once the user's access is removed)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenThrottle]

    @extend_schema(
        tags=["auth"],
        summary="Get an API token",
        description=business_rules(
            "400 `invalid_credentials`: the email and password of an active user.",
            "400 `otp_required`: staff give a current code of their authenticator app as `otp` (STAFF_OTP_REQUIRED).",
            intro=(
                "A staff token works for STAFF_TOKEN_DAYS days (30 by default) and while its owner keeps an "
                "authenticator; an expired one is replaced here. Any token ends when its owner's password changes."
            ),
        ),
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, **error_responses(400, 429)},
        auth=[],
    )
    def post(self, request):
        form = TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = authenticate(
            request._request, email=form.validated_data["email"].lower(), password=form.validated_data["password"]
        )
        if user is None or not user.is_active:  # the model backend refuses inactive users too
            raise InvalidCredentials()
        # Staff two-factor (accounts/two_factor.py): a staff password alone never yields a token.
        if two_factor.otp_required_for(user) and not two_factor.code_matches(user, form.validated_data.get("otp")):
            raise OTPRequired()
        return Response({"token": tokens.issue_token(user).key})


# -- accounts --------------------------------------------------------------------------------------------------


class AccountSerializer(serializers.ModelSerializer):
    plan = IdRelatedField(queryset=Plan.objects.all(), help_text="Id of a plan (the plans endpoint).")
    plan_name = serializers.CharField(source="plan.name", read_only=True)
    port_out_pin = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=64, help_text="Stored hashed, never returned."
    )
    seats = serializers.IntegerField(write_only=True, required=False, min_value=1, max_value=100_000)
    next_billing_date = serializers.DateField(write_only=True, required=False)

    class Meta:
        model = Account
        fields = [
            "id",
            "account_id",
            "name",
            "plan",
            "plan_name",
            "status",
            "created_at",
            "cancelled_at",
            "purge_after",
            "port_out_locked",
            "port_out_pin",
            "seats",
            "next_billing_date",
        ]
        read_only_fields = [
            "id",
            "account_id",
            "status",
            "created_at",
            "cancelled_at",
            "purge_after",
            "port_out_locked",  # the owner's choice, made in the portal with their password
        ]


class AccountList(generics.ListAPIView):
    permission_classes = [DeskPermission]
    staff_permissions = {"GET": "accounts.view_account", "POST": "accounts.add_account"}
    serializer_class = AccountSerializer
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Account.objects.none()
        return access.accounts_for(self.request.user).select_related("plan").order_by("pk")

    @extend_schema(
        tags=["accounts"],
        summary="Accounts the caller may see",
        responses={200: AccountSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["accounts"],
        summary="Open an account (staff)",
        description=business_rules("400 `invalid_request` on `plan`: the id of an existing plan (the plans endpoint)."),
        request=AccountSerializer,
        responses={201: AccountSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request):
        if not access.may_provision(request.user, "accounts"):
            raise exceptions.PermissionDenied("Only support managers open accounts.")
        form = AccountSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        account = services.create_account(
            name=data["name"],
            plan=data["plan"],
            port_out_pin=data.get("port_out_pin") or None,
            seats=data.get("seats", 1),
            next_billing_date=data.get("next_billing_date"),
        )
        return Response(AccountSerializer(account).data, status=status.HTTP_201_CREATED)


class AccountDetail(APIView):
    permission_classes = [DeskPermission]
    staff_permissions = {"GET": "accounts.view_account"}

    @extend_schema(
        tags=["accounts"], summary="One account", responses={200: AccountSerializer, **error_responses(401, 403, 404)}
    )
    def get(self, request, pk: int):
        return Response(AccountSerializer(account_for(request, pk)).data)


# -- what an account holds -------------------------------------------------------------------------------------


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", max_length=254)
    full_name = serializers.CharField(source="user.full_name", max_length=200, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    password = serializers.CharField(
        write_only=True,
        required=False,
        max_length=256,
        trim_whitespace=False,
        help_text="Optional; without one the new member gets an email inviting them to set theirs.",
    )

    class Meta:
        model = Membership
        fields = ["id", "user", "email", "full_name", "role", "password", "created_at"]
        read_only_fields = ["id", "user", "created_at"]

    def validate_password(self, value: str) -> str:
        try:
            validate_password(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return value


class NumberSerializer(serializers.ModelSerializer):
    number = serializers.CharField(max_length=32, help_text="E.164, e.g. +14155550123.")

    class Meta:
        model = PhoneNumber
        fields = ["id", "number", "status", "inbound_recording", "created_at", "released_at", "ported_out_at"]
        read_only_fields = ["id", "status", "created_at", "released_at", "ported_out_at"]

    def validate_number(self, value: str) -> str:
        try:
            return normalize_e164(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


class LicenseSerializer(serializers.ModelSerializer):
    product = serializers.ChoiceField(choices=License.Product.choices)
    quantity = serializers.IntegerField(min_value=0, max_value=1_000_000)

    class Meta:
        model = License
        fields = ["id", "product", "quantity", "minimum"]
        read_only_fields = ["id", "minimum"]


class AddOnSerializer(serializers.ModelSerializer):
    product = serializers.ChoiceField(choices=AddOn.Product.choices)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    number = IdField(
        source="number_id",
        required=False,
        allow_null=True,
        help_text="Id of the number an inbound-recording add-on belongs to.",
    )
    tier = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        help_text="The tier or package bought (A8, A9, A11): one of the plan's policy's `addon_tiers` for the product; "
        "empty where none is chosen.",
    )

    class Meta:
        model = AddOn
        fields = ["id", "product", "name", "tier", "initial_ucaas", "number", "status", "cancelled_at"]
        read_only_fields = ["id", "status", "cancelled_at"]


AMOUNT_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": AMOUNT_PATTERN, "description": 'Dollars, e.g. "40.00".'}
)
class AmountField(serializers.DecimalField):
    """An amount as the schema states it: a string of up to 10 digits and 2 decimals. A JSON number is refused:
    a float cannot carry cents exactly."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_digits=12, decimal_places=2, min_value=0, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(AMOUNT_PATTERN, data):
            self.fail("invalid")
        return super().to_internal_value(data)


class InvoiceSerializer(serializers.ModelSerializer):
    amount = AmountField()
    status = serializers.ChoiceField(choices=Invoice.Status.choices, default=Invoice.Status.OPEN)
    outstanding = serializers.BooleanField(source="is_overdue", read_only=True)

    class Meta:
        model = Invoice
        fields = ["id", "amount", "due_date", "status", "outstanding", "created_at"]
        read_only_fields = ["id", "outstanding", "created_at"]


class CardSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(max_length=30)
    last4 = serializers.RegexField(r"^[0-9]{4}$", max_length=4, help_text="The last four digits only.")

    class Meta:
        model = CardOnFile
        fields = ["brand", "last4"]


class _AccountChildren(generics.GenericAPIView):
    """GET lists what one account holds; POST provisions one more (staff) through accounts.services."""

    filter_backends: list = []
    permission_classes = [DeskPermission]
    part = ""  # the name tickets.access.ACCOUNT_PARTS knows it by

    @property
    def staff_permissions(self) -> dict[str, str]:
        _relation, view_perm, provision_perm, _billing = access.ACCOUNT_PARTS[self.part]
        return {"GET": view_perm, "POST": provision_perm}

    def get_queryset(self):
        # Only for the browsable API, which asks every generic view for one; requests read `children()`.
        return self.get_serializer_class().Meta.model.objects.none()

    def children(self, account: Account):
        raise NotImplementedError

    def provision(self, account: Account, data: dict):
        raise NotImplementedError

    def get(self, request, pk: int):
        account = account_for(request, pk, part=self.part)
        page = self.paginate_queryset(self.children(account))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def post(self, request, pk: int):
        account = account_for(request, pk, provision=self.part)
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        if account.status != Account.Status.ACTIVE:
            raise Refusal(Code.ACCOUNT_NOT_ACTIVE, f"This account is {account.get_status_display().lower()}.")
        created = self.provision(account, form.validated_data)
        return Response(self.get_serializer(created).data, status=status.HTTP_201_CREATED)


NOT_ACTIVE = "409 `account_not_active`: the account is active (not cancelled, closed or purged)."
CHILD_RULES = {
    "members": (
        "400 `invalid_request` on `password`: the password rules (at least 8 characters, not too like the "
        "member's name or email, not a common password, not entirely numeric).",
        "400 `invalid_request` on `role`: an account has exactly one owner.",
        "400 `invalid_request` on `email`: a member of staff cannot be a member of a customer account, and a person"
        " is a member of an account once.",
    ),
    "numbers": (
        "400 `invalid_request` on `number`: a valid phone number (per its country's numbering plan) that is not "
        "already in service on an account.",
    ),
    "licenses": (
        "400 `invalid_request` on `quantity`: at least the plan's license minimum for the product (the plans "
        "endpoint's `license_minimums`).",
        "400 `invalid_request` on `__all__`: one license line per product.",
    ),
    "add-ons": (
        "400 `invalid_request` on `number`: inbound call recording belongs to one of the account's numbers; no "
        "other add-on has a number.",
        "400 `invalid_request` on `initial_ucaas`: only a SIP trunk can be an initial UCaaS trunk.",
        "400 `invalid_request` on `tier`: one of the tiers the plan's policy lists for the product (`addon_tiers`).",
    ),
    "invoices": (),
}


def _children_schema(tag: str, what: str, serializer, *, billing: bool = False):
    read_codes = (401, 403, 404)  # 403: a customer without a billing role (U1), staff without the permission
    return extend_schema_view(
        get=extend_schema(
            tags=[tag],
            summary=f"List the account's {what}",
            responses={200: serializer(many=True), **error_responses(*read_codes)},
        ),
        post=extend_schema(
            tags=[tag],
            summary=f"Add {what} to the account (staff)",
            description=business_rules(*CHILD_RULES[tag], NOT_ACTIVE),
            request=serializer,
            responses={201: serializer, **error_responses(400, 401, 403, 404, 409)},
        ),
    )


@_children_schema("members", "members", MemberSerializer)
class MemberList(_AccountChildren):
    part = "members"
    serializer_class = MemberSerializer

    def children(self, account):
        return account.memberships.select_related("user").order_by("pk")

    def provision(self, account, data):
        user_data = data.get("user", {})
        password = data.get("password")
        membership = services.add_member(
            account=account,
            email=user_data["email"],
            full_name=user_data.get("full_name", ""),
            role=data["role"],
            password=password,
        )
        if not membership.user.has_usable_password():
            invite(membership)
        return membership


@_children_schema("numbers", "phone numbers", NumberSerializer)
class NumberList(_AccountChildren):
    part = "numbers"
    serializer_class = NumberSerializer

    def children(self, account):
        return account.numbers.order_by("pk")

    def provision(self, account, data):
        return services.add_number(
            account=account, number=data["number"], inbound_recording=data.get("inbound_recording", False)
        )


@_children_schema("licenses", "licenses", LicenseSerializer)
class LicenseList(_AccountChildren):
    part = "licenses"
    serializer_class = LicenseSerializer

    def children(self, account):
        return account.licenses.order_by("pk")

    def provision(self, account, data):
        return services.add_license(account=account, product=data["product"], quantity=data["quantity"])


@_children_schema("add-ons", "add-ons", AddOnSerializer)
class AddOnList(_AccountChildren):
    part = "addons"
    serializer_class = AddOnSerializer

    def children(self, account):
        return account.addons.order_by("pk")

    def provision(self, account, data):
        number = None
        if data.get("number_id"):
            number = account.numbers.filter(pk=data["number_id"]).first()
            if number is None:
                raise serializers.ValidationError({"number": ["No such number on this account."]})
        return services.add_addon(
            account=account,
            product=data["product"],
            name=data.get("name", ""),
            tier=data.get("tier", ""),
            initial_ucaas=data.get("initial_ucaas", False),
            number=number,
        )


@_children_schema("invoices", "invoices", InvoiceSerializer, billing=True)
class InvoiceList(_AccountChildren):
    part = "invoices"
    serializer_class = InvoiceSerializer

    def children(self, account):
        return account.invoices.order_by("pk")

    def provision(self, account, data):
        return services.add_invoice(
            account=account, amount=data["amount"], due_date=data["due_date"], status=data["status"]
        )


class Card(APIView):
    permission_classes = [DeskPermission]
    staff_permissions = {"GET": "billing.view_cardonfile", "PUT": "billing.change_cardonfile"}

    @extend_schema(
        tags=["card"],
        summary="The card on file (brand and last four digits)",
        responses={200: CardSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, pk: int):
        account = account_for(request, pk, part="card")
        card = CardOnFile.objects.filter(account=account).first()
        if card is None:
            return Response(
                {"code": "not_found", "detail": "This account has no card on file."}, status=status.HTTP_404_NOT_FOUND
            )
        return Response(CardSerializer(card).data)

    @extend_schema(
        tags=["card"],
        summary="Set the card on file (staff)",
        description=business_rules(NOT_ACTIVE),
        request=CardSerializer,
        responses={200: CardSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def put(self, request, pk: int):
        account = account_for(request, pk, provision="card")
        form = CardSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        if account.status != Account.Status.ACTIVE:
            raise Refusal(Code.ACCOUNT_NOT_ACTIVE, f"This account is {account.get_status_display().lower()}.")
        card = services.set_card(account=account, **form.validated_data)
        return Response(CardSerializer(card).data)
