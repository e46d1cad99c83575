"""One settings module for every deployment, read from the environment through django-environ.

Embedded defaults (no variables set): SQLite, Celery tasks run in-process, console email, DEBUG off.
Production sets DATABASE_URL, CELERY_BROKER_URL (or REDIS_URL), SECRET_KEY, ALLOWED_HOSTS, EMAIL_URL.
A bad or missing value stops start-up with ImproperlyConfigured.
"""

import datetime as dt
import ipaddress
import re
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config import errors, logs
from config.ids import let_sqlite_compare_oversized_ints

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _read(name: str, cast, default):
    try:
        return cast(name, default=default)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"Environment variable {name} has an unparsable value: {exc}") from exc


def _read_bool(name: str, default: bool) -> bool:
    # django-environ reads any unknown word as False; a typo such as DEBUG=maybe must stop start-up instead.
    raw = env.str(name, default="").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on", "y", "t"}:
        return True
    if raw in {"0", "false", "no", "off", "n", "f"}:
        return False
    raise ImproperlyConfigured(f"Environment variable {name} must be true or false, not {raw!r}.")


DEBUG = _read_bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY in the environment, or DEBUG=true for local development."
        )
    SECRET_KEY = "insecure-development-key-debug-only"  # noqa: S105 - only ever used with DEBUG on

ALLOWED_HOSTS = _read("ALLOWED_HOSTS", env.list, ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = _read("CSRF_TRUSTED_ORIGINS", env.list, [])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_fsm",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "accounts",
    "billing",
    "numbers",
    "tickets",
    "tickets.inbound",
    "tickets.ops",
    "tickets.webhooks",
]

MIDDLEWARE = [
    # /healthz, /readyz and /metrics, answered before anything else runs (tickets/ops/probes.py).
    "tickets.ops.probes.ProbesMiddleware",
    # A body larger than REQUEST_MAX_MB: 413 from its Content-Length, before it is read (and before any query).
    "config.hostile_input.RequestSizeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A cookie holding a NUL byte is dropped before sessions and CSRF read it (PostgreSQL cannot compare it).
    "config.hostile_input.CookieMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # A NUL byte in the path: 404; NUL bytes and impossible date-hierarchy parts in a query string or form post: 400,
    # before any view reads them.
    "config.hostile_input.HostileInputMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A deadlock or a lock the database gave up on, reaching a view's caller: 409 `busy`, never a 500.
    "config.locking.BusyMiddleware",
    # request.user.is_verified(): signed in with a TOTP code this session (django-otp); then staff two-factor.
    "django_otp.middleware.OTPMiddleware",
    "accounts.two_factor.StaffTwoFactorMiddleware",
    "config.security.FormRateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a sign-in that django-axes refused into its lockout response (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # Compiled templates are kept in memory (parsing one costs more than rendering it); under runserver
            # with DEBUG on, Django's autoreloader empties this cache when a template file changes.
            "loaders": [
                (
                    "django.template.loaders.cached.Loader",
                    ["django.template.loaders.filesystem.Loader", "django.template.loaders.app_directories.Loader"],
                )
            ],
        },
    },
]

try:
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
except ImproperlyConfigured:
    raise
except Exception as exc:  # django-environ raises plain errors for an unknown scheme
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL Django understands: {exc}") from exc
if not DATABASES["default"].get("ENGINE"):
    raise ImproperlyConfigured("DATABASE_URL is not a database URL Django understands, e.g. postgres://user@host/db.")
DATABASES["default"]["CONN_MAX_AGE"] = _read("CONN_MAX_AGE", env.int, 0)
# A pool of PostgreSQL connections per process (psycopg_pool through Django's own `pool` option): each request
# borrows one and gives it back, instead of holding a persistent connection (CONN_MAX_AGE) for its process.
DATABASE_POOL_SIZE = _read("DATABASE_POOL_SIZE", env.int, 0)
if DATABASE_POOL_SIZE:
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_POOL_SIZE needs a PostgreSQL DATABASE_URL.")
    if DATABASES["default"]["CONN_MAX_AGE"]:
        raise ImproperlyConfigured("Set DATABASE_POOL_SIZE or CONN_MAX_AGE, not both: a pooled connection is not kept.")
    if DATABASE_POOL_SIZE < 1:
        raise ImproperlyConfigured("DATABASE_POOL_SIZE must be a positive number of connections.")
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": DATABASE_POOL_SIZE}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# SQLite as a real embedded default, safe under simultaneous writes (threads of `runserver`, several processes):
# - every transaction starts with BEGIN IMMEDIATE, taking the write lock before it reads: a transaction that read
#   under a shared lock and then wrote could not wait for the lock (SQLite answers "database is locked" at once
#   rather than risk a deadlock), while one that asks first waits its turn;
# - WAL lets readers go on while one writer writes; a busy timeout makes a writer wait for the lock (up to
#   SQLITE_BUSY_TIMEOUT seconds) instead of failing; synchronous=NORMAL is WAL's recommended durability level.
SQLITE_BUSY_TIMEOUT = _read("SQLITE_BUSY_TIMEOUT", env.int, 20)
if SQLITE_BUSY_TIMEOUT < 1:
    raise ImproperlyConfigured("SQLITE_BUSY_TIMEOUT must be a positive number of seconds.")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": SQLITE_BUSY_TIMEOUT,
            "init_command": (
                f"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000};"
            ),
        }
    )
    let_sqlite_compare_oversized_ints()  # an oversized id in a URL or form finds nothing, as on PostgreSQL
DATABASES["default"].setdefault("TEST", {})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# django-axes first: it refuses a locked-out sign-in before the password is even checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# Staff two-factor (accounts/two_factor.py): a TOTP code on top of the password for the admin, the queues, the API
# in a staff session and a staff API token. On by default; only local development and the test suite turn it off.
STAFF_OTP_REQUIRED = _read_bool("STAFF_OTP_REQUIRED", True)
# A staff API token stops working this many days after it was issued (accounts/tokens.py); customers' tokens end
# with their password or their access.
STAFF_TOKEN_DAYS = _read("STAFF_TOKEN_DAYS", env.int, 30)
if STAFF_TOKEN_DAYS < 1:
    raise ImproperlyConfigured("STAFF_TOKEN_DAYS must be a positive whole number of days.")
OTP_TOTP_ISSUER = "Exitdesk"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "/media/"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Email: console by default; EMAIL_URL=smtp://user:pass@host:587 in production.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Exitdesk <desk@exitdesk.localhost>")

# Email in (tickets/inbound/): replies to a ticket's email go to this address plus-addressed with the ticket, the
# recipient and a signature of both (desk+t42.r7.<hmac>@...); its mailbox must deliver plus-addressed mail (most do).
INBOUND_REPLY_ADDRESS = env.str("INBOUND_REPLY_ADDRESS", default="")
# Acknowledgements of new mail sent in any hour, desk-wide (0: none); past it they are skipped and counted.
INBOUND_ACK_RATE = _read("INBOUND_ACK_RATE", env.int, 60)
if INBOUND_ACK_RATE < 0:
    raise ImproperlyConfigured("INBOUND_ACK_RATE must be a whole number, 0 or more (acknowledgements an hour).")
# Sender authentication (RFC 8601): the authserv-ids of the receiving MTAs whose Authentication-Results header the
# desk believes (comma-separated, e.g. mx.example.com); every other such header is ignored. Mail is authenticated when
# one of them says dmarc=pass for its From domain; empty: no mail is, so nothing acts by email until this is set.
INBOUND_TRUSTED_AUTHSERV_IDS = [
    value.strip().lower() for value in env.list("INBOUND_TRUSTED_AUTHSERV_IDS", default=[]) if value.strip()
]
# Days a reply address keeps working after its ticket closed (then a reply waits in triage like new mail).
INBOUND_REPLY_GRACE_DAYS = _read("INBOUND_REPLY_GRACE_DAYS", env.int, 30)
if INBOUND_REPLY_GRACE_DAYS < 0:
    raise ImproperlyConfigured("INBOUND_REPLY_GRACE_DAYS must be a whole number of days, 0 or more.")
# One intake mailbox from the environment, besides those set in the admin:
# imap://user:password@host:port/FOLDER (imaps:// for TLS; user and password URL-encoded).
INTAKE_IMAP = None
_intake_url = env.str("INTAKE_IMAP_URL", default="").strip()
if _intake_url:
    from urllib.parse import unquote, urlsplit

    try:
        _parts = urlsplit(_intake_url)
        _port = _parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"INTAKE_IMAP_URL is not a URL: {exc}") from exc
    if _parts.scheme not in {"imap", "imaps"} or not _parts.hostname or not _parts.username:
        raise ImproperlyConfigured("INTAKE_IMAP_URL must look like imaps://user:password@host:993/INBOX.")
    INTAKE_IMAP = {
        "host": _parts.hostname,
        "port": _port or (993 if _parts.scheme == "imaps" else 143),
        "use_tls": _parts.scheme == "imaps",
        "username": unquote(_parts.username),
        "password": unquote(_parts.password or ""),
        "folder": unquote(_parts.path.lstrip("/")) or "INBOX",
    }

# Hosted inbound email (django-anymail's webhooks, tickets/inbound/webhooks.py): HTTP basic auth `user:password`
# that the provider's webhook URL carries, and Mailgun's webhook signing key; a provider whose security is unset is
# a 404.
ANYMAIL = {
    "WEBHOOK_SECRET": env.str("INBOUND_WEBHOOK_SECRET", default=""),
    "MAILGUN_WEBHOOK_SIGNING_KEY": env.str("MAILGUN_WEBHOOK_SIGNING_KEY", default=""),
}
if ANYMAIL["WEBHOOK_SECRET"] and ":" not in ANYMAIL["WEBHOOK_SECRET"]:
    raise ImproperlyConfigured("INBOUND_WEBHOOK_SECRET must be user:password (the basic auth in the webhook URL).")

# Celery: with no broker configured every task runs in-process (embedded default).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=env.str("REDIS_URL", default=""))
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# In-process (no broker), a failing email must not turn a saved request into an error page: the task
# logs its failure instead of raising it into the request that queued it.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = env.str("CELERY_TIMEZONE", default="UTC")
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Longer than the longest task (a purge of a large account), so a slow task is not redelivered while it runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="exitdesk")
# How often beat reads the intake mailboxes; /readyz calls a mailbox stale after three times this.
FETCH_MAIL_SECONDS = _read("FETCH_MAIL_SECONDS", env.int, 60)
if FETCH_MAIL_SECONDS < 1:
    raise ImproperlyConfigured("FETCH_MAIL_SECONDS must be a positive whole number of seconds.")
# Beat writes a heartbeat every minute (tickets.ops.tasks.beat_heartbeat); /readyz says beat is down past this.
BEAT_STALE_SECONDS = _read("BEAT_STALE_SECONDS", env.int, 180)
if BEAT_STALE_SECONDS < 61:
    raise ImproperlyConfigured("BEAT_STALE_SECONDS must be more than 60 (beat's heartbeat comes every minute).")
# Every periodic job, in one place (run `celery -A config beat` next to the workers).
CELERY_BEAT_SCHEDULE: dict = {
    "purge-expired-accounts": {"task": "accounts.tasks.purge_expired", "schedule": crontab(hour=3, minute=17)},
    "approve-overdue-port-outs": {"task": "tickets.tasks.approve_overdue_port_outs", "schedule": 15 * 60},
    "warn-sla-at-risk": {"task": "tickets.tasks.warn_sla_at_risk", "schedule": 15 * 60},
    "fetch-mail": {"task": "tickets.inbound.tasks.fetch_mail", "schedule": FETCH_MAIL_SECONDS},
    "beat-heartbeat": {"task": "tickets.ops.tasks.beat_heartbeat", "schedule": 60},
}
# Events out (tickets/webhooks/, SPEC §6a): where webhooks may go, how long one waits, and its retry schedule.
WEBHOOK_ALLOWED_HOSTS = [host.strip().lower() for host in env.list("WEBHOOK_ALLOWED_HOSTS", default=[]) if host.strip()]
try:
    WEBHOOK_ALLOW_NETWORKS = [
        str(ipaddress.ip_network(cidr.strip(), strict=False))
        for cidr in env.list("WEBHOOK_ALLOW_NETWORKS", default=[])
        if cidr.strip()
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"WEBHOOK_ALLOW_NETWORKS must be CIDRs such as 10.1.0.0/16: {exc}") from exc
WEBHOOK_TIMEOUT = _read("WEBHOOK_TIMEOUT", env.float, 15.0)
WEBHOOK_DNS_TIMEOUT = _read("WEBHOOK_DNS_TIMEOUT", env.float, 2.0)
# Certificate authorities receivers' certificates are checked against: a PEM file; empty, the system's store.
WEBHOOK_CA_BUNDLE = env.str("WEBHOOK_CA_BUNDLE", default="").strip() or None
# Seconds before each attempt: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then the delivery is exhausted.
WEBHOOK_RETRY_SCHEDULE = [
    float(value) for value in _read("WEBHOOK_RETRY_SCHEDULE", env.list, [0, 5, 300, 1800, 7200, 18000, 36000, 36000])
]
WEBHOOK_RETRY_JITTER = _read("WEBHOOK_RETRY_JITTER", env.float, 0.1)
WEBHOOK_DISABLE_AFTER_DAYS = _read("WEBHOOK_DISABLE_AFTER_DAYS", env.float, 5.0)
# Retries due within this many seconds are queued with a countdown; later ones are found by the sweep.
WEBHOOK_COUNTDOWN_MAX = _read("WEBHOOK_COUNTDOWN_MAX", env.float, 300.0)
WEBHOOK_SWEEP_SECONDS = _read("WEBHOOK_SWEEP_SECONDS", env.int, 30)
WEBHOOK_SWEEP_GRACE = _read("WEBHOOK_SWEEP_GRACE", env.int, 10)  # an event's own fan-out goes first
WEBHOOK_SWEEP_LOOKBACK = _read("WEBHOOK_SWEEP_LOOKBACK", env.int, 7 * 86400)
# /readyz: the outbox is stalled when a delivery has been due, or an event without deliveries, for this long.
WEBHOOK_STALE_SECONDS = _read("WEBHOOK_STALE_SECONDS", env.int, 600)
if WEBHOOK_TIMEOUT <= 0 or WEBHOOK_DNS_TIMEOUT <= 0 or not WEBHOOK_RETRY_SCHEDULE or WEBHOOK_SWEEP_SECONDS < 1:
    raise ImproperlyConfigured(
        "WEBHOOK_TIMEOUT and WEBHOOK_DNS_TIMEOUT must be positive, WEBHOOK_RETRY_SCHEDULE not empty and "
        "WEBHOOK_SWEEP_SECONDS at least 1."
    )
if any(delay < 0 for delay in WEBHOOK_RETRY_SCHEDULE) or not 0 <= WEBHOOK_RETRY_JITTER < 1:
    raise ImproperlyConfigured(
        "WEBHOOK_RETRY_SCHEDULE takes seconds, 0 or more; WEBHOOK_RETRY_JITTER a fraction below 1."
    )
CELERY_BEAT_SCHEDULE["sweep-outbox"] = {
    "task": "tickets.webhooks.tasks.sweep_outbox",
    "schedule": WEBHOOK_SWEEP_SECONDS,
}
# The purge (tickets/purge.py): rows per batch transaction, and how long a claim lives without progress.
# The withdraw link in a port-out alert (SPEC §4, fraud protection) stops working after this many hours.
PORT_OUT_WITHDRAW_LINK_HOURS = _read("PORT_OUT_WITHDRAW_LINK_HOURS", env.int, 72)
if PORT_OUT_WITHDRAW_LINK_HOURS < 1:
    raise ImproperlyConfigured("PORT_OUT_WITHDRAW_LINK_HOURS must be a positive whole number.")
PURGE_BATCH_SIZE = _read("PURGE_BATCH_SIZE", env.int, 10000)
PURGE_CLAIM_TIMEOUT = _read("PURGE_CLAIM_TIMEOUT", env.int, 600)
if PURGE_BATCH_SIZE < 1 or PURGE_CLAIM_TIMEOUT < 1:
    raise ImproperlyConfigured("PURGE_BATCH_SIZE and PURGE_CLAIM_TIMEOUT must be positive whole numbers.")

# API throttles (DRF scoped rates, "<n>/<second|minute|hour|day>"), kept in the cache below.
_RATE = r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$"
API_THROTTLE_RATES = {
    "auth_token": env.str("API_THROTTLE_AUTH_TOKEN", default="20/minute"),
    "verification": env.str("API_THROTTLE_VERIFICATION", default="30/minute"),
}
for _scope, _rate in API_THROTTLE_RATES.items():
    if not re.match(_RATE, _rate):
        raise ImproperlyConfigured(f"Throttle rate for {_scope} must look like 20/minute, not {_rate!r}.")
# Local memory by default; several web processes share throttles through e.g. CACHE_URL=redis://host:6379/1.
try:
    CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
except Exception as exc:
    raise ImproperlyConfigured(f"CACHE_URL is not a cache URL Django understands: {exc}") from exc

REST_FRAMEWORK = {
    # Token first: an anonymous API call gets 401 with `WWW-Authenticate: Token`, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.tokens.DeskTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "EXCEPTION_HANDLER": "tickets.api.drf_hooks.exception_handler",
    # Every API body is JSON (SPEC appendix), read by DRF's parser with a 400 for what would otherwise be a 500.
    "DEFAULT_PARSER_CLASSES": ["tickets.api.drf_hooks.JSONParser"],
    "DEFAULT_THROTTLE_RATES": API_THROTTLE_RATES,
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "tickets.api.drf_hooks.Pagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Exitdesk API",
    "DESCRIPTION": (
        "Cancellations, downgrades, reactivations and port-outs as tickets.\n\n"
        "Every operation: a text value holding a NUL character (U+0000) is refused, "
        '400 `invalid_request` on its field ("Null characters are not allowed.").'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tickets.api.common.require_request_bodies",
        # After the enums' hook: the event components keep their one-value `type` enums inline.
        "tickets.api.events.describe_events",
    ],
    # `<id:pk>` in config/api_urls.py: a database id that fits a bigint.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}},
    "ENUM_NAME_OVERRIDES": {
        "TicketChannelEnum": "tickets.models.Channel",
        "LogChannelEnum": "tickets.models.LogChannel",
        "TransitionNameEnum": "tickets.models.TRANSITIONS",
    },
}

# Uploads (tickets/portal/forms.py checks each file: 5 MB, type and contents). Per ticket at most ATTACHMENTS_PER_TICKET
# files and ATTACHMENT_MB_PER_TICKET in all; per person ATTACHMENTS_PER_USER_HOUR files an hour. A request body
# larger than REQUEST_MAX_MB is refused with 413 from its Content-Length, before any of it is read
# (config/hostile_input.py); form fields without files are held to Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB).
ATTACHMENTS_PER_TICKET = _read("ATTACHMENTS_PER_TICKET", env.int, 20)
ATTACHMENT_MB_PER_TICKET = _read("ATTACHMENT_MB_PER_TICKET", env.int, 25)
ATTACHMENTS_PER_USER_HOUR = _read("ATTACHMENTS_PER_USER_HOUR", env.int, 20)
REQUEST_MAX_MB = _read("REQUEST_MAX_MB", env.int, 6)
if min(ATTACHMENTS_PER_TICKET, ATTACHMENT_MB_PER_TICKET, ATTACHMENTS_PER_USER_HOUR) < 1 or REQUEST_MAX_MB < 6:
    raise ImproperlyConfigured(
        "ATTACHMENTS_PER_TICKET, ATTACHMENT_MB_PER_TICKET and ATTACHMENTS_PER_USER_HOUR must be positive; "
        "REQUEST_MAX_MB at least 6 (a 5 MB file and its form)."
    )

# -- logs and error reports (config/logs.py, config/errors.py; SPEC §6b) ----------------------------------------
# LOG_FORMAT=json: one JSON object a line (django-structlog), a request id on every line of a request and of the
# Celery tasks it queued, no secret in any line. Plain text by default, for development.
LOG_FORMAT = env.str("LOG_FORMAT", default="text").strip().lower()
if LOG_FORMAT not in logs.FORMATS:
    raise ImproperlyConfigured(f"LOG_FORMAT must be one of {', '.join(logs.FORMATS)}, not {LOG_FORMAT!r}.")
# JSON logs are for a service whose requests should be seen: INFO by default; text stays quiet (WARNING).
LOG_LEVEL = _read(
    "LOG_LEVEL",
    lambda name, default: logs.level_name(env.str(name, default=default)),
    "INFO" if LOG_FORMAT == "json" else "WARNING",
)
LOGGING = logs.logging_config(LOG_FORMAT, LOG_LEVEL)
logs.configure_structlog(LOG_FORMAT)
if LOG_FORMAT == "json":
    INSTALLED_APPS.append("django_structlog")
    # First: the request id is bound before any other middleware can write a line.
    MIDDLEWARE.insert(0, "config.request_log.RequestLogMiddleware")
    DJANGO_STRUCTLOG_CELERY_ENABLED = True  # the request id travels in the headers of the tasks it queues
    DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False  # a client's address is personal data
    # The worker and beat write through LOGGING too (config/celery.py), not through Celery's own handlers.
    CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# SENTRY_DSN: error reports from the web processes, workers and beat, without personal data (config/errors.py).
SENTRY_DSN = env.str("SENTRY_DSN", default="").strip()
if SENTRY_DSN:
    errors.start_error_reports(
        SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        release=env.str("SENTRY_RELEASE", default="") or None,
    )

# -- hardening (config/security.py) -----------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# SECURE_HTTPS=true where the site is served over HTTPS: redirect plain http, cookies only over TLS, HSTS.
# Off by default so `make run` and the tests work on plain http at 127.0.0.1.
SECURE_HTTPS = _read_bool("SECURE_HTTPS", False)
SECURE_SSL_REDIRECT = SECURE_HTTPS
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_HSTS_SECONDS = _read("SECURE_HSTS_SECONDS", env.int, 31536000 if SECURE_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _read_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HTTPS)
SECURE_HSTS_PRELOAD = _read_bool("SECURE_HSTS_PRELOAD", SECURE_HTTPS)
# How many proxies of ours stand in front of the web processes, each appending to X-Forwarded-For. 0: the client
# address is REMOTE_ADDR and X-Forwarded-For is ignored (a client could write anything there). Throttles, form
# rate limits and the sign-in lockout all key on the same address (config.security.client_ip).
TRUSTED_PROXY_COUNT = _read("TRUSTED_PROXY_COUNT", env.int, 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 (no proxy) or the number of proxies in front.")
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT
if _read_bool("SECURE_PROXY_SSL_HEADER", False):
    # Only behind a proxy that sets X-Forwarded-Proto itself and strips the client's.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Sign-in lockout (django-axes): AXES_FAILURE_LIMIT failures for one email from one address lock that pair out
# for AXES_COOLOFF_MINUTES. On by default; the test suite turns it off (pyproject.toml) because Django's test
# client signs in without a request, and the lockout tests turn it back on.
AXES_ENABLED = _read_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = _read("AXES_FAILURE_LIMIT", env.int, 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=_read("AXES_COOLOFF_MINUTES", env.int, 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "config.security.axes_username"
AXES_CLIENT_IP_CALLABLE = "config.security.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_VERBOSE = False
# Form rate limits per client address and per submitted email (config.security.FormRateLimitMiddleware).
FORM_RATE_LIMITS_ENABLED = _read_bool("FORM_RATE_LIMITS_ENABLED", True)
FORM_RATE_LIMITS = {
    "login": env.str("SIGNIN_RATE", default="20/minute"),
    "admin:login": env.str("SIGNIN_RATE", default="20/minute"),
    "password_reset": env.str("PASSWORD_RESET_RATE", default="5/hour"),
}
for _view, _rate in FORM_RATE_LIMITS.items():
    if not re.match(_RATE, _rate):
        raise ImproperlyConfigured(f"Rate limit for {_view} must look like 20/minute, not {_rate!r}.")

# -- probes and metrics (tickets/ops/probes.py, SPEC §6b) -------------------------------------------------------
# /readyz answers the client addresses in these networks (read as config.security.client_ip reads them), or a
# request with `Authorization: Bearer <HEALTH_TOKEN>`; anyone else gets 404. /healthz answers everyone.
try:
    HEALTH_ALLOWED_NETWORKS = [
        ipaddress.ip_network(network.strip(), strict=False)
        for network in _read("HEALTH_ALLOWED_NETWORKS", env.list, ["127.0.0.0/8", "::1/128"])
        if network.strip()
    ]
except ValueError as exc:
    raise ImproperlyConfigured(
        f"HEALTH_ALLOWED_NETWORKS must be addresses or networks, e.g. 10.0.0.0/8: {exc}"
    ) from exc
HEALTH_TOKEN = env.str("HEALTH_TOKEN", default="")
# /metrics answers `Authorization: Bearer <METRICS_TOKEN>` only (404 when unset). With it set, django-prometheus
# counts requests, queries and cache reads (its middleware, database and cache wrappers); without it, nothing is
# counted. Under gunicorn set PROMETHEUS_MULTIPROC_DIR too (config/gunicorn.py empties it at start).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if METRICS_TOKEN:
    INSTALLED_APPS.append("django_prometheus")
    MIDDLEWARE.insert(1, "django_prometheus.middleware.PrometheusBeforeMiddleware")
    MIDDLEWARE.append("django_prometheus.middleware.PrometheusAfterMiddleware")
    _COUNTED_DATABASES = {
        "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
        "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
    }
    _COUNTED_CACHES = {
        "django.core.cache.backends.locmem.LocMemCache": "django_prometheus.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.redis.RedisCache": "tickets.ops.cache.RedisCache",
        "django.core.cache.backends.filebased.FileBasedCache": (
            "django_prometheus.cache.backends.filebased.FileBasedCache"
        ),
    }
    DATABASES["default"]["ENGINE"] = _COUNTED_DATABASES.get(
        DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"]
    )
    for _cache in CACHES.values():
        _cache["BACKEND"] = _COUNTED_CACHES.get(_cache["BACKEND"], _cache["BACKEND"])
