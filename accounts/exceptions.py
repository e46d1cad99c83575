"""The one exception type for a refused action: a stable machine-readable code and a sentence for people.

Every code is a member of `Code`; a code not in it is an error where it is raised (and a test reads every raise).
Every interface maps a refusal the same way, by `Refusal.http_status` (the code's `status`): the API to
`{"code", "detail"}` with that status, the portal to a form error, the admin to `message_user`; all three show
`detail`.
"""

from enum import StrEnum


class Code(StrEnum):
    # who asks: 403
    ROLE_NOT_ALLOWED = "role_not_allowed"
    # the request's own content: 400
    MISSING_REQUIRED_INFO = "missing_required_info"
    ACKNOWLEDGEMENT_MISSING = "acknowledgement_missing"
    SURVEY_REQUIRED = "survey_required"
    INVALID_REQUEST = "invalid_request"
    NUMBER_NOT_ON_ACCOUNT = "number_not_on_account"
    REASON_REQUIRED = "reason_required"
    REJECTION_CODE_NOT_ALLOWED = "rejection_code_not_allowed"
    UNKNOWN_TRANSITION = "unknown_transition"
    INVALID_PLAN = "invalid_plan"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    URL_NOT_ALLOWED = "url_not_allowed"
    # the policy or the state of things: 409
    ACCOUNT_NOT_ACTIVE = "account_not_active"
    ALREADY_HANDLED = "already_handled"
    ALREADY_REQUESTED = "already_requested"
    BUSY = "busy"
    CHANNEL_NOT_ACCEPTED = "channel_not_accepted"
    TERM_ENDING = "term_ending"
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"
    INVALID_STATE = "invalid_state"
    LICENSE_MINIMUM = "license_minimum"
    LINK_EXPIRED = "link_expired"
    LINK_INVALID = "link_invalid"
    NOT_FOUND = "not_found"
    NUMBER_BUSY = "number_busy"
    OUTSIDE_INTAKE_HOURS = "outside_intake_hours"
    OUTSTANDING_BALANCE = "outstanding_balance"
    PORT_OUT_LOCK_NOT_OFFERED = "port_out_lock_not_offered"
    PORT_OUT_LOCKED = "port_out_locked"
    PORT_OUTS_PENDING = "port_outs_pending"
    REACTIVATION_CLOSED = "reactivation_closed"
    REQUIRES_ACCOUNT_MANAGER = "requires_account_manager"
    SAME_VERIFIER = "same_verifier"
    UNVERIFIED_SENDER = "unverified_sender"
    VERIFICATION_FAILED = "verification_failed"
    VERIFICATION_FALLBACK_UNAVAILABLE = "verification_fallback_unavailable"
    VERIFICATION_LOCKED = "verification_locked"

    @property
    def status(self) -> int:
        """The HTTP status every interface reports this code with."""
        if self in FORBIDDEN_CODES:
            return 403
        if self in BAD_REQUEST_CODES:
            return 400
        return 409


FORBIDDEN_CODES = frozenset({Code.ROLE_NOT_ALLOWED})
BAD_REQUEST_CODES = frozenset(
    {
        Code.MISSING_REQUIRED_INFO,
        Code.ACKNOWLEDGEMENT_MISSING,
        Code.SURVEY_REQUIRED,
        Code.INVALID_REQUEST,
        Code.NUMBER_NOT_ON_ACCOUNT,
        Code.REASON_REQUIRED,
        Code.REJECTION_CODE_NOT_ALLOWED,
        Code.UNKNOWN_TRANSITION,
        Code.INVALID_PLAN,
        Code.IDEMPOTENCY_KEY_REUSED,
        Code.URL_NOT_ALLOWED,
    }
)


class Refusal(Exception):
    def __init__(self, code: Code | str, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.code = Code(code)  # a ValueError for a code that is not in Code
        self.detail = detail
        self.field = field
        # Set by a verification check that failed, so the attempt is recorded after the rollback.
        self.failed_attempt: tuple[int, int | None, str] | None = None

    @property
    def http_status(self) -> int:
        return self.code.status

    def as_dict(self) -> dict:
        return {"code": str(self.code), "detail": self.detail}

    def __repr__(self) -> str:
        return f"Refusal({str(self.code)!r}, {self.detail!r})"
