"""NES Portal settings: one module, driven by environment variables, failing loudly.

Every variable is listed in README.md ("Configuration"). Secrets can also be given as a file
path in ``<NAME>_FILE`` (docker-compose secrets). The embedded default (no variables at all but
``DEBUG=true``) runs on a SQLite file under ``var/``, executes Celery tasks in-process and
writes SMS to the console and ``var/sms-outbox.jsonl``.
"""

import secrets
import shutil
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def env_secret(name: str, default: str = "") -> str:
    """Read ``name`` from the environment, or from the file named by ``name_FILE``."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return env.str(name, default=default)


DEBUG = env.bool("DEBUG", default=False)
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off.")
    # Development only: a random key kept under var/ so sessions survive restarts.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _dev_key = VAR_DIR / "dev-secret-key"
    if not _dev_key.exists():
        _dev_key.write_text(secrets.token_urlsafe(64), encoding="utf-8")
        _dev_key.chmod(0o600)
    SECRET_KEY = _dev_key.read_text(encoding="utf-8").strip()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])

INSTALLED_APPS = [
    "staff.apps.NesAdminConfig",  # django.contrib.admin, served by staff.sites.StaffAdminSite
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.forms",  # the form renderer below finds Django's widget templates through it
    "captcha",
    "nesportal.ratelimit_app.RatelimitConfig",  # django-ratelimit, with our cache check
    "audit",
    "accounts",
    "certificates",
    "esign",  # E-İmzalı Giriş, above certificates
    "protection",  # "Bu işlemi ben yapmadım" (accounts.NotMeLink), above certificates
    "pinvault",
    "eonay",
    "receipts",  # İşlem makbuzları of revocations, PIN/PUK deletions and E-Onay decisions
    "help",  # Yardım: the citizen's help pages (content only; imports no feature app)
    # Staff two-factor: django-otp's TOTP and backup-code devices (staff.models seals their
    # secrets); staff after them, so its admin replaces theirs (which would show TOTP keys).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "staff",
    "demo",  # seed_demo, load_scale_data: on top of every app
]

MIDDLEWARE = [
    "nesportal.logs.RequestIdMiddleware",  # first: every later log line has the id
    "django.middleware.security.SecurityMiddleware",
    "nesportal.headers.PortalCSPMiddleware",  # Content-Security-Policy (below)
    "nesportal.headers.PortalPermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files without a separate server
    "nesportal.boundary.InputValidationMiddleware",  # NUL, controls, non-UTF-8 -> 400
    "nesportal.middleware.PortalSessionMiddleware",  # Django's, minus the public repository
    "nesportal.middleware.TurkishFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): admin needs it
    "accounts.middleware.CitizenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "nesportal.broker.SmsUnavailableMiddleware",  # an SMS that cannot be queued -> 503 page
]

ROOT_URLCONF = "nesportal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.portal",
                "nesportal.logs.request_id_context",
            ],
        },
    },
]

WSGI_APPLICATION = "nesportal.wsgi.application"

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'nesportal.sqlite3'}"),
}
# The login counter is reserved with conditional UPDATEs; never wrap a whole request in one
# transaction (the Argon2 check must run outside any held row lock).
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Security words (and staff passwords) are Argon2id hashes with the parameters of
# nesportal/hashers.py (m=19 MiB, t=3, p=1: OWASP's minimum or more, measured by
# bench/argon2_check.py). Hashes with Django's defaults (m=100 MiB, t=2, p=8) and PBKDF2 still
# verify, and are replaced at the next successful check (must_update).
PASSWORD_HASHERS = [
    "nesportal.hashers.NesArgon2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "tr"
LANGUAGES = [("tr", _("Türkçe")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Istanbul"
FORMAT_MODULE_PATH = ["nesportal.formats"]  # one date format per language (nesportal/formats/)
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))

# Sessions: 10 minutes idle, ended on the server at logout.
SESSION_COOKIE_AGE = 600
# A session ends 10 minutes after its last write; PortalSessionMiddleware writes it at most
# every SESSION_REFRESH_SECONDS (and whenever it changes), not on every request: a session ends
# 9 to 10 minutes after the visitor's last request.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_REFRESH_SECONDS = 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "nes_session"
CSRF_COOKIE_NAME = "nes_csrftoken"
CSRF_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "nesportal.errors.csrf_failure"
# Take the request id from the proxy's X-Request-ID header (nesportal/logs.py); only when the
# proxy sets it on every request and strips the one a client sent.
NES_TRUST_REQUEST_ID_HEADER = env.bool("NES_TRUST_REQUEST_ID_HEADER", default=False)

# Transport security: on by default outside DEBUG.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# CRLs, CA certificates and OCSP are signed objects fetched over plain HTTP by relying parties
# (RFC 5280 §4.2.1.13, RFC 6960): openssl and most validators do not follow a redirect. The same
# paths read no session and answer without Content-Language (nesportal.middleware), so that any
# HTTP cache can keep them.
PUBLIC_REPOSITORY_PATHS = [r"^crl/", r"^ca/[^/]+\.crt$", r"^ca/[^/]+-chain\.pem$", r"^ocsp"]
SECURE_REDIRECT_EXEMPT = PUBLIC_REPOSITORY_PATHS
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# Once a cookie is Secure it gets the __Host- prefix (it always has Path=/ and no Domain): the
# browser then refuses it from a plain-HTTP page or a sibling subdomain, so nobody can plant a
# session or CSRF cookie for the portal. Code and tests read the names from these settings.
LANGUAGE_COOKIE_NAME = "nes_language"
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
if SESSION_COOKIE_SECURE:
    SESSION_COOKIE_NAME = "__Host-" + SESSION_COOKIE_NAME
    LANGUAGE_COOKIE_NAME = "__Host-" + LANGUAGE_COOKIE_NAME
if CSRF_COOKIE_SECURE:
    CSRF_COOKIE_NAME = "__Host-" + CSRF_COOKIE_NAME
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
# A strict Content-Security-Policy (django-csp): the templates have no inline script, style or
# event handler (static/js/portal.js wires everything through data- attributes), and Django's
# admin needs nothing inline either. NES_CSP_REPORT_ONLY sends it as
# Content-Security-Policy-Report-Only instead (try a change first); NES_CSP_REPORT_URI is where
# browsers report violations. Not on the public repository (nesportal/headers.py).
_CSP_DIRECTIVES: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "media-src": ["'self'"],  # the captcha's audio alternative
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
# E-İmzalı Giriş and E-Onay with the card: the pages' script talks to the Akıllı Kart Servisi
# on the citizen's own machine (cardservice/, README "Akıllı Kart Servisi"), and only there.
NES_CARD_SERVICE_URL = env.str("NES_CARD_SERVICE_URL", default="http://127.0.0.1:48620").rstrip("/")
_CSP_DIRECTIVES["connect-src"] = ["'self'", NES_CARD_SERVICE_URL]
NES_CSP_REPORT_ONLY = env.bool("NES_CSP_REPORT_ONLY", default=False)
NES_CSP_REPORT_URI = env.str("NES_CSP_REPORT_URI", default="")
if NES_CSP_REPORT_URI:
    _CSP_DIRECTIVES["report-uri"] = [NES_CSP_REPORT_URI]
if NES_CSP_REPORT_ONLY:
    CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": _CSP_DIRECTIVES}
else:
    CONTENT_SECURITY_POLICY = {"DIRECTIVES": _CSP_DIRECTIVES}
# Permissions-Policy (django-permissions-policy): the portal uses none of these browser features.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "bluetooth",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# E-İmzalı Giriş with a TLS client certificate verified by the reverse proxy: the name of the
# header carrying it URL-encoded (nginx: $ssl_client_escaped_cert), e.g. "X-SSL-Client-Cert".
# Empty = off. The proxy must strip this header from every client request.
ESIGN_TRUST_PROXY_CERT_HEADER = env.str("ESIGN_TRUST_PROXY_CERT_HEADER", default="")

# Celery. No broker configured = the embedded default: tasks run in-process.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    CELERY_BROKER_URL = "memory://"  # never contacted: tasks run in-process
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="nesportal")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Bounded waits for Redis and the redelivery of a dead worker's tasks (nesportal/broker.py).
from nesportal import broker as _broker  # noqa: E402

CELERY_BROKER_TRANSPORT_OPTIONS = _broker.transport_options(
    visibility_timeout=env.int("CELERY_VISIBILITY_TIMEOUT", default=300)
)
CELERY_TASK_PUBLISH_RETRY_POLICY = _broker.PUBLISH_RETRY_POLICY
CELERY_BROKER_CONNECTION_TIMEOUT = _broker.CONNECT_TIMEOUT
# Celery beat (run exactly one: `celery -A nesportal beat`): periodic work. Its schedule file goes
# where --schedule says (docker-compose: a tmpfs); losing it only re-runs a task early.
CELERY_BEAT_SCHEDULE = {
    "refresh-crls": {
        "task": "certificates.refresh_crls",
        "schedule": env.float("NES_CRL_REFRESH_INTERVAL", default=300.0),
    },
    # Housekeeping (accounts/housekeeping.py): expired sessions, challenges and links.
    "purge-expired": {
        "task": "accounts.purge_expired",
        "schedule": env.float("NES_HOUSEKEEPING_INTERVAL", default=3600.0),
    },
    # Captchas live CAPTCHA_TIMEOUT minutes; one row per page view with a form.
    "purge-captchas": {
        "task": "accounts.purge_captchas",
        "schedule": env.float("NES_CAPTCHA_PURGE_INTERVAL", default=300.0),
    },
    "purge-esign-challenges": {
        "task": "esign.purge_challenges",
        "schedule": env.float("NES_HOUSEKEEPING_INTERVAL", default=3600.0),
    },
    # Expiry and new-certificate reminders (certificates/reminders.py): each one once, sent
    # 09:00-20:00 Istanbul only (runs outside those hours send nothing).
    "send-reminders": {
        "task": "certificates.send_reminders",
        "schedule": env.float("NES_REMINDER_INTERVAL", default=3600.0),
    },
}

# The shared cache: pre-signed OCSP responses (and, later, throttles). Redis when REDIS_URL is set
# (every web process on every host sees the same entries), else this process's memory.
CACHE_URL = env.str("CACHE_URL", default="") or (
    f"rediscache://{REDIS_URL.split('://', 1)[1]}" if REDIS_URL else "locmemcache://"
)
CACHES = {"default": env.cache_url_config(CACHE_URL)}
# Two installations sharing one Redis must not share keys (pre-signed OCSP, CRL announcements).
CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", default="nes")
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "nesportal.cache.RedisCache"  # one client per pool

# Request throttles (nesportal/limits.py, nesportal/decorators.py): django-ratelimit counters in
# the default cache. Fail open: a throttle whose cache is down lets the request through (and
# logs it), since the 3-strike lock and the SMS/e-mail budgets live in the database and still
# hold, while failing closed would turn a Redis outage into a portal outage for every citizen.
RATELIMIT_USE_CACHE = "default"
RATELIMIT_FAIL_OPEN = True
RATELIMIT_ENABLE = True
RATELIMIT_CACHE_PREFIX = "throttle:"
# Operators' figures: "login=20/m;100/h,captcha=60/m" replaces those throttles' rates.
NES_THROTTLES = env.str("NES_THROTTLES", default="")
# Reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For names the client
# (nesportal/clientip.py). Empty: the TCP peer is the client and X-Forwarded-For is ignored.
NES_TRUSTED_PROXIES = env.list("NES_TRUSTED_PROXIES", default=[])
try:
    import ipaddress as _ipaddress

    from nesportal.limits import parse_throttle_overrides as _parse_throttles

    _parse_throttles(NES_THROTTLES)
    for _proxy in NES_TRUSTED_PROXIES:
        _ipaddress.ip_network(_proxy.strip(), strict=False)
except ValueError as _exc:
    raise ImproperlyConfigured(str(_exc)) from None

# SMS (see accounts/sms.py). DEBUG: "file" (appends to the outbox /dev/sms/ shows and echoes to
# the console). Without DEBUG there is no default: a backend that prints codes is never chosen by
# accident (and console/file then mask codes and link tokens, see DEV_BACKENDS_SHOW_SECRETS).
SMS_BACKEND = env.str("SMS_BACKEND", default="file" if DEBUG else "")
if not SMS_BACKEND:
    raise ImproperlyConfigured(
        "SMS_BACKEND must be set when DEBUG is off: twilio (with the TWILIO_* variables), or "
        "console, file or locmem (development; codes are masked), or a dotted path to an "
        "accounts.sms.BaseSmsBackend subclass."
    )
# Whether the console/file SMS and e-mail backends show one-time codes and link tokens
# (nesportal/redaction.py): only with DEBUG, where people trying the demo need them. Not an
# environment variable on purpose; the test suite turns it on in nesportal/test_settings.py.
DEV_BACKENDS_SHOW_SECRETS = DEBUG
SMS_OUTBOX_PATH = Path(env.str("SMS_OUTBOX_PATH", default=str(VAR_DIR / "sms-outbox.jsonl")))
SMS_RETRY_BASE_SECONDS = env.float("SMS_RETRY_BASE_SECONDS", default=2.0)
SMS_MAX_RETRIES = env.int("SMS_MAX_RETRIES", default=4)
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env_secret("TWILIO_AUTH_TOKEN")
TWILIO_FROM = env.str("TWILIO_FROM", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")
TWILIO_TIMEOUT_SECONDS = env.float("TWILIO_TIMEOUT_SECONDS", default=10.0)

# Widgets render through TEMPLATES, so templates/captcha/widgets/captcha.html (the "Yenile"
# button) overrides the library's own; Django's default renderer never looks in templates/.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

# django-simple-captcha. Our own field reads CAPTCHA_TEST_MODE at request time (the library
# reads it once at import); test mode accepts the answer "passed" and is refused without DEBUG.
CAPTCHA_TEST_MODE = env.bool("CAPTCHA_TEST_MODE", default=False)
if CAPTCHA_TEST_MODE and not DEBUG:
    raise ImproperlyConfigured("CAPTCHA_TEST_MODE is refused when DEBUG is off.")
# Five characters without look-alikes (accounts/captcha_challenge.py), answered in any case.
CAPTCHA_CHALLENGE_FUNCT = "accounts.captcha_challenge.challenge"
# The library's arcs and dots; our dots are drawn in one call (4× the pixels of the old image).
CAPTCHA_NOISE_FUNCTIONS = ("captcha.helpers.noise_arcs", "accounts.captcha_challenge.noise_dots")
CAPTCHA_LENGTH = 5
CAPTCHA_TIMEOUT = 5
# Drawn at twice the old 150x50 and scaled down to the width available (static/css/captcha.css):
# sharp on phones and at 200 % zoom. The library's "@2" image ignores CAPTCHA_IMAGE_SIZE (twice
# the font in the same box), so it stays off.
CAPTCHA_IMAGE_SIZE = (300, 100)
CAPTCHA_FONT_SIZE = 60
CAPTCHA_2X_IMAGE = False
# The audio (accounts/captcha_audio.py): espeak-ng in the page's language, Turkish or English;
# flite, English only, when espeak-ng is missing. The library reads CAPTCHA_FLITE_PATH only to
# decide whether to offer the audio link (widget, refresh) and never runs it (our view does):
# set whenever either program is installed; with neither, the page has no audio link.
CAPTCHA_ESPEAK_PATH = shutil.which("espeak-ng")
CAPTCHA_FLITE_FALLBACK_PATH = shutil.which("flite")
CAPTCHA_FLITE_PATH = CAPTCHA_ESPEAK_PATH or CAPTCHA_FLITE_FALLBACK_PATH

LOGIN_URL = "accounts:login"
ADMIN_URL = env.str("ADMIN_URL", default="admin/")

# Staff two-factor (django-otp; README "Call centre"). The issuer names the account in the
# authenticator app. The throttle doubles each device's wait after a wrong code (1, 2, 4 s…).
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="NES Portal")
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s %(message)s"
        }
    },
    # Link tokens in request paths (Django logs the path of 4xx responses) are masked; refused
    # requests (4xx, django.security.*) are one line without traceback (nesportal/logs.py).
    "filters": {
        "request_id": {"()": "nesportal.logs.RequestIdFilter"},
        "one_line_refusals": {"()": "nesportal.logs.OneLineRefusals"},
        "redact_tokens": {"()": "nesportal.gunicorn_logging.RedactTokenPaths"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id", "one_line_refusals", "redact_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own records reach the root's handler above only: its default handlers (the
        # "console" one is on with DEBUG) would print the paths of refused link tokens unmasked.
        "django": {"handlers": [], "level": LOG_LEVEL},
        # runserver's request lines (development) are masked the same way.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # The twilio client logs every request's URL and headers at INFO; keep it quiet.
        "twilio": {"level": "WARNING"},
    },
}

# Certificates: the issuing CA (certificates/ca.py). The demo creates these files with
# `manage.py create_demo_ca`; in production point them at the CA's certificate and key.
NES_PKI_DIR = Path(env.str("NES_PKI_DIR", default=str(VAR_DIR / "pki")))
NES_CA_SLUG = env.str("NES_CA_SLUG", default="nes-portal")
NES_CA_CERT_PATH = env.str("NES_CA_CERT_PATH", default=str(NES_PKI_DIR / "issuing.crt"))
NES_CA_KEY_PATH = env.str("NES_CA_KEY_PATH", default=str(NES_PKI_DIR / "issuing.key"))
NES_CA_CHAIN_PATH = env.str("NES_CA_CHAIN_PATH", default=str(NES_PKI_DIR / "root.crt"))
NES_OCSP_CERT_PATH = env.str("NES_OCSP_CERT_PATH", default=str(NES_PKI_DIR / "ocsp.crt"))
NES_OCSP_KEY_PATH = env.str("NES_OCSP_KEY_PATH", default=str(NES_PKI_DIR / "ocsp.key"))
# The URLs written into certificates (CRL distribution point, OCSP, CA issuers) start with this.
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")
# 1.3.6.1.4.1.32473 is the documentation-only private enterprise number (RFC 5612): a real CA
# sets its own certificate policy OID and PDS address.
NES_POLICY_OID = env.str("NES_POLICY_OID", default="1.3.6.1.4.1.32473.1.1")
NES_PDS_URL = env.str("NES_PDS_URL", default=PORTAL_BASE_URL.rstrip("/") + "/ca/pds/")
# The root's CRL (ARL), a file the operator provides (DER or PEM), served at /crl/<slug>-root.crl.
# The demo signs one with `manage.py sign_arl`, with the demo root key (never on a real host).
NES_ARL_PATH = env.str("NES_ARL_PATH", default=str(NES_PKI_DIR / "root.crl"))
NES_ROOT_KEY_PATH = env.str("NES_ROOT_KEY_PATH", default=str(NES_PKI_DIR / "root.key"))
# HTTP caching of CRLs (seconds; capped further by the CRL's planned refresh) and the memory a web
# process may use to keep published CRLs (bytes).
NES_CRL_HTTP_MAX_AGE = env.int("NES_CRL_HTTP_MAX_AGE", default=300)
NES_CRL_MEMORY_CACHE_BYTES = env.int("NES_CRL_MEMORY_CACHE_BYTES", default=256 * 1024 * 1024)
# OCSP: validity of a response (nextUpdate - thisUpdate), HTTP max-age of a nonce-less one, and
# whether nonce-less responses are kept pre-signed in the shared cache (only safe when the cache
# is shared by all web processes: on by default with a Redis or Memcached cache).
NES_OCSP_VALIDITY_SECONDS = env.int("NES_OCSP_VALIDITY_SECONDS", default=3600)
NES_OCSP_HTTP_MAX_AGE = env.int("NES_OCSP_HTTP_MAX_AGE", default=300)
# Whether the cache is shared by every web process (Redis, Memcached), not one process's memory.
NES_SHARED_CACHE = (
    "locmem" not in CACHES["default"]["BACKEND"].lower()
    and "dummy" not in CACHES["default"]["BACKEND"].lower()
)
NES_OCSP_RESPONSE_CACHE = env.bool("NES_OCSP_RESPONSE_CACHE", default=NES_SHARED_CACHE)

# PIN/PUK vault (pinvault/crypto.py): master keys as "key-id:base64-of-32-bytes", comma-separated,
# the newest LAST (it encrypts; all decrypt). Required outside DEBUG; the demo keeps a generated
# key under var/. Rotate with `manage.py rotate_vault_keys` after appending a new key.
VAULT_KEYS = env_secret("VAULT_KEYS")
if not VAULT_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("VAULT_KEYS (or VAULT_KEYS_FILE) must be set when DEBUG is off.")
    import base64 as _b64

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _dev_vault = VAR_DIR / "dev-vault-keys"
    if not _dev_vault.exists():
        _dev_vault.write_text("dev-1:" + _b64.b64encode(secrets.token_bytes(32)).decode(), "utf-8")
        _dev_vault.chmod(0o600)
    VAULT_KEYS = _dev_vault.read_text(encoding="utf-8").strip()

# The AKİS card tool's API (pinvault/api.py): "name:secret" pairs, comma-separated, one per tool
# installation; the name goes into the audit log. Empty (the default) switches the API off.
# Secrets: at least 32 characters without commas, e.g. from
# python -c "import secrets; print(secrets.token_urlsafe(32))".
CARD_TOOL_API_KEYS = env_secret("CARD_TOOL_API_KEYS")
for _entry in filter(None, (e.strip() for e in CARD_TOOL_API_KEYS.split(","))):
    _name, _sep, _secret = _entry.partition(":")
    if not (_sep and _name.strip() and len(_secret.strip()) >= 32):
        # Never echo the entry: it holds a secret.
        raise ImproperlyConfigured(
            "CARD_TOOL_API_KEYS entries must be 'name:secret' with a secret of at least 32 "
            "characters."
        )

# E-mail (Bilgi Güncelle's confirmation links). The embedded default (DEBUG) prints mails to the
# console; without DEBUG EMAIL_URL is required, e.g. smtp+tls://user:password@host:587
# (django-environ's email URL). consolemail:// and filemail:///dir use Django's console and file
# backends through nesportal/mail.py, which masks link tokens unless DEV_BACKENDS_SHOW_SECRETS.
EMAIL_URL = env_secret("EMAIL_URL", default="consolemail://" if DEBUG else "")
if not EMAIL_URL:
    raise ImproperlyConfigured(
        "EMAIL_URL (or EMAIL_URL_FILE) must be set when DEBUG is off: smtp://, smtp+tls:// or "
        "smtp+ssl://user:password@host:port, or consolemail:// or filemail:///directory "
        "(development; link tokens are masked), or memorymail:// or dummymail://."
    )
_email_config: dict[str, object] = env.email_url_config(EMAIL_URL)
globals().update(_email_config)  # EMAIL_BACKEND, EMAIL_HOST, …
if EMAIL_URL.startswith("filemail://"):
    # django-environ drops the leading "/" of filemail:///abs/dir; an empty path: VAR_DIR/mail.
    EMAIL_FILE_PATH = EMAIL_URL.removeprefix("filemail://") or str(VAR_DIR / "mail")
_email_backend = str(_email_config["EMAIL_BACKEND"])
EMAIL_BACKEND = {
    "django.core.mail.backends.console.EmailBackend": "nesportal.mail.RedactingConsoleBackend",
    "django.core.mail.backends.filebased.EmailBackend": "nesportal.mail.RedactingFileBackend",
}.get(_email_backend, _email_backend)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="NES Portal <nes-portal@localhost>")
