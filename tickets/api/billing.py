"""REST API: the plans on offer, each with the policy that says how its customers leave (SPEC appendix)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from billing.models import ACKNOWLEDGEMENT_TEXTS, Plan, Policy
from tickets.api.common import DeskPermission, error_responses


class PolicySerializer(serializers.ModelSerializer):
    acknowledgements = serializers.ListField(
        child=serializers.ChoiceField(choices=list(ACKNOWLEDGEMENT_TEXTS)),
        help_text="Keys the customer must acknowledge before an account cancellation.",
    )
    intake_channels = serializers.ListField(child=serializers.CharField())
    required_info = serializers.ListField(child=serializers.CharField())
    intake_hours = serializers.CharField(source="intake_hours_text")
    request_roles = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    kind_routes = serializers.DictField(child=serializers.CharField())
    addon_routes = serializers.DictField(child=serializers.CharField())
    license_minimums = serializers.DictField(child=serializers.IntegerField())
    addon_tiers = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Add-on product → the tiers an add-on change may move it to (A8, A9, A11).",
    )
    support_email = serializers.CharField(help_text="Where customers email support (K6, K9, U7); empty if none.")
    offers_by_reason = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Exit-survey reason → the retention offers it leads to (S2, U9).",
    )

    class Meta:
        model = Policy
        fields = [
            "preset",
            "name",
            "verification_method",
            "confirmation_word",
            "verification_fallback",
            "acknowledgements",
            "retention_days",
            "reactivation",
            "port_out_balance_rule",
            "require_port_outs_complete",
            "port_out_lock_offered",
            "intake_channels",
            "intake_hours_enforced",
            "intake_hours",
            "route",
            "kind_routes",
            "addon_routes",
            "addon_tiers",
            "request_roles",
            "required_info",
            "exit_survey_required",
            "offer_downgrade",
            "offer_meeting",
            "license_minimums",
            "holds_offered",
            "holds_refused_with_alternatives",
            "offers_by_reason",
            "support_email",
            "support_phone",
            "support_hours",
            "currency",
            "refunds",
            "downgrade_proration",
            "staff_first_names",
        ]
        read_only_fields = fields


class PlanSerializer(serializers.ModelSerializer):
    policy = PolicySerializer(read_only=True)

    class Meta:
        model = Plan
        fields = ["id", "name", "rank", "product_line", "price_per_seat", "policy"]
        read_only_fields = fields


@extend_schema(tags=["plans"], summary="Plans and their policies", responses={200: PlanSerializer(many=True)})
class PlanList(generics.ListAPIView):
    """Every plan, lowest first within its product line, with the rules its customers leave by."""

    serializer_class = PlanSerializer
    permission_classes = [DeskPermission]
    staff_permissions = {"GET": "billing.view_plan"}
    queryset = Plan.objects.select_related("policy").order_by("product_line", "rank")
    pagination_class = None
    filter_backends: list = []

    @extend_schema(responses={200: PlanSerializer(many=True), **error_responses(401, 403)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
