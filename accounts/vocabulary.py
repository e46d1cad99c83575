"""The words every app shares, defined once: the kinds of request, the channels a request comes by, the roles
of an account's members and the exit-survey reasons. billing (the policy), accounts (memberships) and tickets read
them from here; this module imports nothing of the project's, so any models module may import it."""

from django.db import models


class Kind(models.TextChoices):
    ACCOUNT_CANCELLATION = "account_cancellation", "Account cancellation"
    LICENSE_CANCELLATION = "license_cancellation", "License cancellation"
    NUMBER_CANCELLATION = "number_cancellation", "Number cancellation"
    ADDON_CANCELLATION = "addon_cancellation", "Add-on cancellation"
    ADDON_CHANGE = "addon_change", "Add-on change"  # a tier or package up or down (A8, A9, A11)
    PORT_OUT = "port_out", "Port-out"
    DOWNGRADE = "downgrade", "Plan downgrade"
    REACTIVATION = "reactivation", "Reactivation"


class Channel(models.TextChoices):
    """Where a customer's request comes from."""

    WEB = "web", "Web portal"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    API = "api", "API"


class LogChannel(models.TextChoices):
    """Where a transition came from (a ticket's or an account's): a customer channel, the agents' admin, or the
    system's own jobs."""

    WEB = "web", "Web portal"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    SYSTEM = "system", "System"


class Role(models.TextChoices):
    """A member's role on an account (S4, A5, U1)."""

    OWNER = "owner", "Owner"
    SUPER_ADMIN = "super_admin", "Super admin"
    BILLING_ADMIN = "billing_admin", "Billing admin (access billing & account info)"
    MEMBER = "member", "Member"


class ExitReason(models.TextChoices):
    """Stripe's cancellation_details.feedback values."""

    CUSTOMER_SERVICE = "customer_service", "Customer service was less than expected"
    LOW_QUALITY = "low_quality", "Quality was less than expected"
    MISSING_FEATURES = "missing_features", "Some features are missing"
    OTHER = "other", "Other reason"
    SWITCHED_SERVICE = "switched_service", "I'm switching to a different service"
    TOO_COMPLEX = "too_complex", "Ease of use was less than expected"
    TOO_EXPENSIVE = "too_expensive", "It's too expensive"
    UNUSED = "unused", "I don't use the service enough"
