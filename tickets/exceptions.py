"""The one exception type for a refused action: a stable machine-readable code and a sentence for people.

Every interface maps it the same way: the API to `{"code", "detail"}` with `http_status`, the portal to a form
error, the admin to `message_user`.
"""

# Codes whose refusal is about who asks (403) or about the request's own content (400); the rest are 409.
FORBIDDEN_CODES = {"role_not_allowed"}
BAD_REQUEST_CODES = {
    "missing_required_info",
    "acknowledgement_missing",
    "survey_required",
    "invalid_request",
    "number_not_on_account",
    "reason_required",
    "rejection_code_not_allowed",
    "unknown_transition",
    "invalid_plan",
    "idempotency_key_reused",
}


class Refusal(Exception):
    def __init__(self, code: str, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field
        # Set by a verification check that failed, so the attempt is recorded after the rollback.
        self.failed_attempt: tuple[int, int | None, str] | None = None

    @property
    def http_status(self) -> int:
        if self.code in FORBIDDEN_CODES:
            return 403
        if self.code in BAD_REQUEST_CODES:
            return 400
        return 409

    def as_dict(self) -> dict:
        return {"code": self.code, "detail": self.detail}

    def __repr__(self) -> str:
        return f"Refusal({self.code!r}, {self.detail!r})"
