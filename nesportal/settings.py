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
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.forms",  # the form renderer below finds Django's widget templates through it
    "captcha",
    "audit",
    "accounts",
    "certificates",
    "pinvault",
    "eonay",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files without a separate server
    "nesportal.middleware.PortalSessionMiddleware",  # Django's, minus the public repository
    "nesportal.middleware.TurkishFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.CitizenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

# Security words (and staff passwords) are Argon2 hashes.
PASSWORD_HASHERS = [
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
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))

# Sessions: 10 minutes idle, ended on the server at logout.
SESSION_COOKIE_AGE = 600
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "nes_session"
CSRF_COOKIE_NAME = "nes_csrftoken"
CSRF_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

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
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
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
# Celery beat (run exactly one: `celery -A nesportal beat`): periodic work. Its schedule file goes
# where --schedule says (docker-compose: a tmpfs); losing it only re-runs a task early.
CELERY_BEAT_SCHEDULE = {
    "refresh-crls": {
        "task": "certificates.refresh_crls",
        "schedule": env.float("NES_CRL_REFRESH_INTERVAL", default=300.0),
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

# SMS (see accounts/sms.py). "file" appends to the outbox and echoes to the console.
SMS_BACKEND = env.str("SMS_BACKEND", default="file")
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
CAPTCHA_LENGTH = 5
CAPTCHA_TIMEOUT = 5
CAPTCHA_IMAGE_SIZE = (150, 50)
CAPTCHA_FONT_SIZE = 30
CAPTCHA_FLITE_PATH = shutil.which("flite")

LOGIN_URL = "accounts:login"
ADMIN_URL = env.str("ADMIN_URL", default="admin/")

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Link tokens in request paths (Django logs the path of 4xx responses) are masked.
    "filters": {"redact_tokens": {"()": "nesportal.gunicorn_logging.RedactTokenPaths"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
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

# E-mail (Bilgi Güncelle's confirmation links). The embedded default prints mails to the console;
# production: EMAIL_URL=smtp+tls://user:password@host:587 (django-environ's email URL).
EMAIL_URL = env_secret("EMAIL_URL", default="consolemail://")
globals().update(env.email_url_config(EMAIL_URL))  # EMAIL_BACKEND, EMAIL_HOST, …
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="NES Portal <nes-portal@localhost>")
