"""Fieldwise settings: one module, every deployment difference comes from the environment.

Production is the default (DEBUG off, SECRET_KEY required, secure cookies, HSTS);
`make run` sets DEBUG=1 for the embedded SQLite + in-process-tasks setup.
"""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (production).")
    SECRET_KEY = "django-insecure-fieldwise-development-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "axes",  # login throttling: lockout after repeated failures
    "csp",  # Content Security Policy header
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files: the API docs work offline
    "simple_history",
    "import_export",  # CSV/XLSX import and export of customers, contacts, opportunities (admin and pages)
    "core",
    "crm",
    "visits",
    "sales",
    "analytics",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # the audit trail records the request's user
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the lockout page
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Axes first: it refuses a locked-out user before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "core.context_processors.role",
            ],
        },
    },
]

# Database: SQLite file in the project unless DATABASE_URL says otherwise.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'var' / 'fieldwise.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The app's statements are short reads, writes and array loads: PostgreSQL's JIT compiles the large
    # ones for ~0.5 s (measured on a load at 1M customers) and never wins it back. Off for the connection,
    # set at connect time, so no statement pays a SET of its own.
    # Before the URL's own `?options=` (kept: a later -c wins, so a deployment can turn JIT back on).
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = " ".join(filter(None, ["-c jit=off", _options.get("options", "")]))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Internationalisation: English and Simplified Chinese; all datetimes aware.
LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]  # zh_Hans groups thousands (config/formats/zh_Hans)
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Redis: broker, result backend and cache when REDIS_URL is set; otherwise tasks
# run in-process and the cache is per-process memory.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TIMEZONE = TIME_ZONE
# The nightly job (missed-visit sweep, scores, then every rep's plan) at NIGHTLY_AT in TIME_ZONE.
NIGHTLY_AT = os.environ.get("NIGHTLY_AT", "02:00")
try:
    _nightly_hour, _nightly_minute = (int(part) for part in NIGHTLY_AT.split(":"))
    if not (0 <= _nightly_hour < 24 and 0 <= _nightly_minute < 60):
        raise ValueError
except ValueError as exc:
    raise ImproperlyConfigured(f"NIGHTLY_AT must be HH:MM (24-hour clock), got {NIGHTLY_AT!r}") from exc
CELERY_BEAT_SCHEDULE = {
    "nightly-scores-and-plans": {
        "task": "analytics.tasks.nightly",
        "schedule": crontab(hour=_nightly_hour, minute=_nightly_minute),
    },
    # Keeps the KPI report's stored day sums fresh so it reads few visits; figures are exact either way.
    "visit-day-sums": {"task": "analytics.tasks.refresh_visit_days", "schedule": crontab(minute="*/10")},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# Security: strict by default, relaxed only by DEBUG (local development).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", True) else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # no script reads the cookie: forms carry the token, board.js a data attribute
SECURE_HSTS_SECONDS = 0 if DEBUG else int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Login throttling (django-axes): 5 failures for one user name from one address lock that
# pair out for 15 minutes (a further try restarts the wait); a success resets the count.
# The address is the one the API's rate limits count (API_NUM_PROXIES trusted proxies).
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "core.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "core.lockout.client_address"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# The REST API (/api/v1/): token or session authentication, JSON only, one error body
# shape, rates per user (per address when anonymous) counted in the default cache, which is
# Redis when REDIS_URL is set, so every process shares the counts.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",  # first: a request without credentials gets a 401
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.UserThrottle", "api.throttling.AnonThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": os.environ.get("API_RATE_USER", "600/minute"),
        "anon": os.environ.get("API_RATE_ANON", "60/minute"),
        "token_login": os.environ.get("API_RATE_TOKEN_LOGIN", "10/minute"),
    },
    # Reverse proxies that append to X-Forwarded-For; 0 counts by the connection's address (never spoofable).
    "NUM_PROXIES": int(os.environ.get("API_NUM_PROXIES", "0")),
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fieldwise API",
    "DESCRIPTION": (
        "Customers, contacts, visits, follow-ups, the pipeline, scores, runs and KPIs, scoped like the pages: "
        "a rep sees their own records, a manager their teams', an admin all; another user's object is 404. "
        "Authenticate with `Authorization: Bearer <token>` (POST /api/v1/auth/token/) or a browser session."
    ),
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None, "tryItOutEnabled": False},
}

# Audit trail (core.audit): the admin shows a record's history read-only; reverting to an old
# version would bypass the services' rules (a used scoring policy is never edited in place).
SIMPLE_HISTORY_REVERT_DISABLED = True

# Imports (django-import-export): a file is imported whole or not at all; the admin keeps the
# upload between preview and confirm in the cache (Redis when REDIS_URL is set, shared by workers).
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.CacheStorage"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Domain settings.
FIELDWISE_PLANNER_HORIZON_DAYS = int(os.environ.get("PLANNER_HORIZON_DAYS", "5"))
FIELDWISE_PLANNER_CHUNK_REPS = int(os.environ.get("PLANNER_CHUNK_REPS", "25"))  # reps per Celery task
FIELDWISE_PLAN_LEASE_SECONDS = float(os.environ.get("PLAN_LEASE_SECONDS", "600"))  # no progress for this long = dead
FIELDWISE_TASK_RETRY_SECONDS = float(os.environ.get("TASK_RETRY_SECONDS", "30"))  # first retry delay, doubled each time
# How many requests of a process may each run some of their loads on a second database connection at once
# (PostgreSQL; see analytics.bridge.beside). 0: every load runs on the request's own connection.
FIELDWISE_PARALLEL_LOADS = int(os.environ.get("PARALLEL_LOADS", "2"))
FIELDWISE_DEMO_PASSWORD = os.environ.get("FIELDWISE_DEMO_PASSWORD", "fieldwise-demo")
# A check-in within this many metres of the customer's coordinates counts as verified.
FIELDWISE_CHECKIN_RADIUS_M = float(os.environ.get("CHECKIN_RADIUS_M", "300"))
# Map tiles of the Today page (any XYZ server; OpenStreetMap's by default, see its tile usage policy).
# Offline, without tiles, the route's markers and line still draw: they are vector layers.
FIELDWISE_TILE_URL = os.environ.get("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
FIELDWISE_TILE_ATTRIBUTION = os.environ.get(
    "MAP_TILE_ATTRIBUTION", '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)


def tile_image_sources(url: str) -> list[str]:
    """The img-src entry for the map tile server: its origin, a {placeholder} subdomain as a wildcard."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        return []  # data: (the offline blank tile) is allowed anyway
    labels = parts.netloc.split(".")
    templated = [i for i, label in enumerate(labels) if "{" in label]
    if templated and templated != [0]:
        raise ImproperlyConfigured(
            f"MAP_TILE_URL: a {{placeholder}} is only supported as the leftmost part of the host, got {url!r}"
        )
    host = ".".join(["*", *labels[1:]]) if templated else parts.netloc
    return [f"{parts.scheme}://{host}"]


# Content Security Policy (django-csp): every script and style comes from our own static
# files, so no 'unsafe-inline'; images also from data: URIs (Bootstrap's icons) and the tiles.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", *tile_image_sources(FIELDWISE_TILE_URL)],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
