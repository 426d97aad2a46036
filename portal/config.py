"""Configuration defaults for the portal.

Layering (highest wins): these defaults, then ``PORTAL_*`` environment variables
(``PORTAL_DATABASE_URL`` becomes ``DATABASE_URL``; values are parsed as JSON when they
can be, so ``PORTAL_MAIL_PORT=2525`` is an integer), then the mapping passed to
``create_app`` (tests use that).

The defaults are the *embedded default*: SQLite in ``instance/``, background jobs run
in-process, rate limits in memory. A production deployment sets at least
``PORTAL_SECRET_KEY``, ``PORTAL_DATABASE_URL``, ``PORTAL_CELERY_BROKER_URL``,
``PORTAL_RATELIMIT_STORAGE_URI`` and the ``PORTAL_MAIL_*`` variables.
"""

from __future__ import annotations


class DefaultConfig:
    # --- environment -----------------------------------------------------------------
    #: "development" enables the development mailbox and allows debug mode;
    #: anything else is treated as production.
    ENVIRONMENT = "production"
    #: Debug mode is refused unless ENVIRONMENT is "development".
    DEBUG = False
    TESTING = False

    #: Signs sessions and tokens. When unset, the embedded default generates one and keeps
    #: it in ``instance/secret_key``; production must set ``PORTAL_SECRET_KEY``.
    SECRET_KEY: str | None = None

    #: Key material for protecting HKID numbers at rest (Fernet, derived with HKDF).
    #: Defaults to a key derived from SECRET_KEY; set separately to rotate independently.
    DATA_PROTECTION_KEY: str | None = None

    # --- data ------------------------------------------------------------------------
    #: SQLAlchemy URL. Empty means SQLite at ``instance/portal.db``.
    #: PostgreSQL: ``postgresql+psycopg://user@host/dbname``.
    DATABASE_URL = ""
    #: Seconds SQLite waits for a lock before failing.
    SQLITE_BUSY_TIMEOUT = 15

    # --- sessions and cookies ----------------------------------------------------------
    SESSION_COOKIE_NAME = "portal_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    #: Secure cookies are always set on requests that arrive over TLS (see
    #: ``portal.security``); set True to force them whatever the request says.
    SESSION_COOKIE_SECURE = False
    #: How passwords are hashed: "standard" (argon2id, RFC 9106 low-memory profile). The
    #: test suite alone may use "fast-for-tests"; any other environment refuses to start.
    PASSWORD_HASHING = "standard"  # noqa: S105 - a profile name, not a password
    #: The highest refund approval threshold a department administrator may set, in cents
    #: (HK$10,000): above it, every refund needs a second person (four eyes cannot be
    #: switched off from the department's own settings page).
    REFUND_APPROVAL_THRESHOLD_MAX = 1_000_000
    #: Idle minutes after which a signed-in session ends.
    SESSION_IDLE_MINUTES = 30
    #: Absolute hours after which a signed-in session ends.
    SESSION_MAX_HOURS = 12
    #: Trust X-Forwarded-* from this many proxies (set 1 behind a load balancer).
    PROXY_FIX_HOPS = 0

    # --- identity --------------------------------------------------------------------
    #: Hours an email confirmation link stays valid.
    EMAIL_CONFIRMATION_HOURS = 72
    #: Minutes a password reset link stays valid.
    PASSWORD_RESET_MINUTES = 60
    #: Days a staff invitation link stays valid.
    STAFF_INVITATION_DAYS = 7
    #: Failed sign-ins in a row before the account is locked.
    LOCKOUT_THRESHOLD = 5
    #: Minutes an account stays locked.
    LOCKOUT_MINUTES = 15
    #: Rate limit for sign-in, registration and reset attempts per client address.
    SIGN_IN_RATE_LIMIT = "10 per minute;50 per hour"
    #: Starting applications and posting their steps, per address.
    ANSWERS_RATE_LIMIT = "60 per minute;600 per hour"
    #: Codes typed in on /verify, per address.
    VERIFY_RATE_LIMIT = "20 per minute;200 per hour"
    #: Issuer name shown in authenticator apps.
    TOTP_ISSUER = "HK Digital Services Portal"

    # --- i18n ------------------------------------------------------------------------
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "Asia/Hong_Kong"
    #: Locales offered to users (Babel identifiers).
    LANGUAGES = ["en", "zh_Hant_HK"]

    # --- mail ------------------------------------------------------------------------
    #: "smtp" delivers over SMTP; "mailbox" (development only) keeps mail in the outbox
    #: and shows it at /dev/mailbox.
    MAIL_BACKEND = "smtp"
    MAIL_SERVER = "localhost"
    MAIL_PORT = 25
    MAIL_USERNAME = ""
    MAIL_PASSWORD = ""
    #: "starttls", "ssl" or "" for plain SMTP (only on a trusted local relay).
    MAIL_SECURITY = ""
    MAIL_TIMEOUT = 10
    MAIL_DEFAULT_SENDER = "HK Digital Services Portal <no-reply@portal.example.gov.hk>"
    #: Attempts before an email is marked failed.
    MAIL_MAX_ATTEMPTS = 8
    #: Absolute base URL used in emails, e.g. https://portal.example.gov.hk
    #: (empty: taken from the request that queued the email).
    PUBLIC_BASE_URL = ""

    # --- background jobs ---------------------------------------------------------------
    #: Empty broker means jobs run in-process (eager), the embedded default.
    CELERY_BROKER_URL = ""
    CELERY_RESULT_BACKEND = ""

    # --- rate limits -----------------------------------------------------------------
    #: "memory://" in the embedded default; "redis://host:6379/1" in production.
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = False

    # --- uploads ---------------------------------------------------------------------
    #: Largest request body accepted (bytes); larger bodies get 413.
    MAX_CONTENT_LENGTH = 10 * 1024 * 1024
    #: Where supporting documents are kept, outside the web root; a shared volume when
    #: there are several app servers. Empty: ``<instance>/uploads``.
    UPLOAD_FOLDER = ""
    #: Where issued receipts and credit notes (PDFs, written once) are kept; a shared
    #: volume when there are several workers. Empty: ``<instance>/receipts``.
    RECEIPTS_FOLDER = ""

    # --- payments --------------------------------------------------------------------
    #: The provider payments are made with. "sandbox" is built in: a pretend hosted
    #: payment page for development and tests, refused in production.
    PAYMENT_PROVIDER = "sandbox"
    #: A payment not finished after this many minutes is expired (it can be started again).
    PAYMENT_EXPIRY_MINUTES = 90
    #: The sandbox: allowed in production only when asked (a demonstration system).
    SANDBOX_PAYMENTS_IN_PRODUCTION = False
    #: Pretend network latency (ms) and share of failing calls, for tests and demos.
    SANDBOX_PAYMENTS_LATENCY_MS = 0
    SANDBOX_PAYMENTS_FAIL_RATE = 0.0
    SANDBOX_PAYMENTS_STATUS_FAIL_RATE = 0.0
    #: The sandbox gives up before the portal does (PAYMENT_EXPIRY_MINUTES).
    SANDBOX_PAYMENTS_EXPIRY_MINUTES = 60
    #: The sandbox's signed webhooks (see portal/payments/sandbox/provider.py for all of
    #: its settings). The secret, when empty, is derived from SECRET_KEY.
    SANDBOX_PAYMENTS_WEBHOOKS = True
    SANDBOX_PAYMENTS_WEBHOOK_SECRET = ""
    #: Shares of deliveries sent twice and of attempts failing, and a delay, for tests.
    SANDBOX_PAYMENTS_WEBHOOK_DUPLICATE_RATE = 0.0
    SANDBOX_PAYMENTS_WEBHOOK_FAIL_RATE = 0.0
    SANDBOX_PAYMENTS_WEBHOOK_DELAY_MS = 0
    SANDBOX_PAYMENTS_REFUND_FAIL_RATE = 0.0

    # --- drafts ----------------------------------------------------------------------
    #: A draft untouched for this many days is deleted (with its uploads)...
    DRAFT_EXPIRY_DAYS = 30
    #: ...and its owner is emailed this many days before.
    DRAFT_REMINDER_DAYS_BEFORE = 7
    #: An application awaiting payment this long is closed (``lapse``) by the hourly job.
    UNPAID_APPLICATION_DAYS = 30

    # --- services --------------------------------------------------------------------
    #: Names of the services to load (comma separated in PORTAL_SERVICES); empty: all.
    SERVICES: list[str] = []
    #: After this many requests fail in a service's own code (in one app process), the
    #: service is switched off for every process until `portal services enable NAME`.
    SERVICE_FAILURE_LIMIT = 3
    #: ...within this many seconds.
    SERVICE_FAILURE_WINDOW_SECONDS = 600
    #: How often each app process re-reads which services are switched off.
    SERVICE_SWITCH_REFRESH_SECONDS = 30

    # --- forms -----------------------------------------------------------------------
    WTF_CSRF_TIME_LIMIT = 8 * 3600
