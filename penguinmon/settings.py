"""PenguinMon settings: everything comes from the environment, with safe defaults.

With DATABASE_URL / REDIS_URL unset, the embedded Postgres and Redis under ./var/ are started
on first use (see penguinmon/embedded.py); there is no other database engine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE

from penguinmon import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

TESTING = "pytest" in sys.modules or os.environ.get("PENGUINMON_TESTING") == "1"

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    # A stable per-install key for the embedded/dev default; production sets SECRET_KEY.
    key_file = embedded.VAR_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = key_file.read_text().strip()

# docker-compose passes a variable left out of .env as "" (`${X:-}`): that means "default".
for _name in (
    "PENGUINMON_BASE_URL",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_COOKIES",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "TRUST_X_FORWARDED_PROTO",
):
    if os.environ.get(_name) == "":
        del os.environ[_name]

DEBUG = env.bool("DEBUG", default=False)
# Where users reach this instance; links in notifications point here.
PENGUINMON_BASE_URL = env.str("PENGUINMON_BASE_URL", default="http://127.0.0.1:8000")
_BASE = urlsplit(PENGUINMON_BASE_URL)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS",
    default=["127.0.0.1", "localhost", "[::1]", "testserver"]
    + ([_BASE.hostname] if _BASE.hostname else []),
)
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=[f"{_BASE.scheme}://{_BASE.netloc}"] if _BASE.netloc else []
)

# Production profile: an https:// base URL means users come through a reverse proxy that
# terminates TLS (README, "Production"). Then, unless overridden: cookies only over HTTPS,
# plain-HTTP requests redirected, HSTS for a year, and the proxy's X-Forwarded-Proto trusted
# (the app must only be reachable through that proxy). The plain-HTTP dev default keeps all
# of this off so `make run` works on http://127.0.0.1:8000.
HTTPS = _BASE.scheme == "https"
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=HTTPS)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
# Health checks from the container runtime speak plain HTTP to the app itself.
SECURE_REDIRECT_EXEMPT = [r"^api/health$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
# "preload" in the header lets anyone submit the domain to the browsers' preload list, a
# commitment that takes months to undo: opt in explicitly (the check for it is silenced).
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if env.bool("TRUST_X_FORWARDED_PROTO", default=HTTPS):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "ninja",  # serves Swagger UI from its own static files (no CDN)
    "django_celery_beat",
    "axes",
    "penguinmon",
    "collectors",
    "alerts",
    "incidents",
    "reputation",
    "dashboards",
]

MIDDLEWARE = [
    "penguinmon.middleware.ApiErrorsMiddleware",
    "penguinmon.middleware.ApiInputGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "penguinmon.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "penguinmon.middleware.LoginRequiredMiddleware",
    "axes.middleware.AxesMiddleware",
    "collectors.security.ForbiddenMetricsMiddleware",
]

# Content-Security-Policy on every response: scripts, styles, images, fonts and fetches from
# this origin only, no inline script, no plugins, no framing, forms post here only. Inline
# *styles* stay allowed: plotly.js writes its own <style> rules into the page at runtime.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_ENABLED = not TESTING or env.bool("AXES_ENABLED", default=False)

ROOT_URLCONF = "penguinmon.urls"
WSGI_APPLICATION = "penguinmon.wsgi.application"

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
                "penguinmon.context_processors.navigation",
                "alerts.context_processors.paging",
            ],
        },
    },
]

DATABASE_URL = env.str("DATABASE_URL", default="") or embedded.ensure_postgres()
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
# Django's backend with a health check that needs no round trip (penguinmon/postgres/base.py).
DATABASES["default"]["ENGINE"] = "penguinmon.postgres"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 10
# Behind a pooler in transaction mode (PgBouncer's), a worker's statements do not keep one
# server session: no prepared statements and no LISTEN, so the API's prepared reads are only
# bound on the server and checked tokens are not kept in memory (penguinmon.api_auth).
DB_TRANSACTION_POOLER = env.bool("DB_TRANSACTION_POOLER", default=False)
# Prepared statements for the hot reads that ask for them (penguinmon.db.prepared_cursor;
# Django's own queries are bound on the client and never prepared). Their plans are generic:
# Postgres' own choice kept re-planning the query API's line for every window (custom plans),
# 1.85 ms a query instead of 1.20 (bench dataset, 24 h at 1 min); the generic plan prunes the
# partitions when it runs. plan_cache_mode touches nothing else Django runs: only prepared
# statements and the bodies of SQL functions (pm_array_add, the token notification trigger),
# whose plans do not depend on their arguments.
if not DB_TRANSACTION_POOLER:
    _options = DATABASES["default"]["OPTIONS"]
    _options["prepare_threshold"] = 5
    _options["options"] = f"{_options.get('options', '')} -c plan_cache_mode=force_generic_plan"
# A separate test database name lets several checkouts share one embedded server.
DATABASES["default"]["TEST"] = {"NAME": env.str("PENGUINMON_TEST_DB", default="test_penguinmon")}

REDIS_URL = env.str("REDIS_URL", default="") or embedded.ensure_redis()
if TESTING:
    # Tests use their own Redis database so they never consume a running system's queue.
    REDIS_URL = (
        REDIS_URL.rsplit("/", 1)[0] + "/" + env.str("PENGUINMON_TEST_REDIS_DB", default="13")
    )

# Django's cache is Redis (the same server, its own key prefix): the public status page is
# served from it so a traffic spike does not reach Postgres.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="penguinmon"),
        "TIMEOUT": 300,
    }
}
# Public status page: name, and how long a rendering is reused (at most the 15 s evaluation
# interval, so a change of state shows within one interval; posting an update clears it).
STATUS_PAGE_NAME = env.str("STATUS_PAGE_NAME", default="PenguinMails")
STATUS_CACHE_SECONDS = min(env.int("STATUS_CACHE_SECONDS", default=10), 15)
# An open incident with no update for this long reminds its owner.
INCIDENT_UPDATE_REMINDER_MINUTES = env.int("INCIDENT_UPDATE_REMINDER_MINUTES", default=30)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "var" / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing root
import importlib.util  # noqa: E402

# plotly.js is served from the copy inside the plotly package: {% static "plotly/plotly.min.js" %}
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("plotly", Path(importlib.util.find_spec("plotly").origin).parent / "package_data"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# Firing alerts notify in groups (alerts.grouping, policy in admin); 0 sends each on its own.
ALERT_GROUPING = env.bool("ALERT_GROUPING", default=True)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="penguinmon@localhost")

# Metric store retention, in days, per resolution (raw, 1-minute, 1-hour).
RETENTION_RAW_DAYS = env.int("RETENTION_RAW_DAYS", default=14)
RETENTION_1M_DAYS = env.int("RETENTION_1M_DAYS", default=90)
RETENTION_1H_DAYS = env.int("RETENTION_1H_DAYS", default=400)
# Retention of the other tables that grow, in days (pruned daily by each app's beat task).
# Resolved alerts go with their timeline and deliveries; alerts attached to an incident are
# kept as long as the incident. Incidents and postmortems are records and are never pruned.
RETENTION_ALERTS_DAYS = env.int("RETENTION_ALERTS_DAYS", default=400)
RETENTION_DELIVERIES_DAYS = env.int("RETENTION_DELIVERIES_DAYS", default=90)
RETENTION_AUDIT_DAYS = env.int("RETENTION_AUDIT_DAYS", default=400)
RETENTION_STATUS_CHANGES_DAYS = env.int("RETENTION_STATUS_CHANGES_DAYS", default=400)
RETENTION_DEPLOYMENTS_DAYS = env.int("RETENTION_DEPLOYMENTS_DAYS", default=400)
INGEST_MAX_BATCH = env.int("INGEST_MAX_BATCH", default=10_000)
INGEST_MAX_LABELS = env.int("INGEST_MAX_LABELS", default=16)
INGEST_MAX_FUTURE_SECONDS = 600
# Forward every accepted sample by remote_write (collectors/store/forward.py); empty: off.
REMOTE_WRITE_FORWARD_URL = env.str("REMOTE_WRITE_FORWARD_URL", default="")
REMOTE_WRITE_FORWARD_BEARER_TOKEN = env.str("REMOTE_WRITE_FORWARD_BEARER_TOKEN", default="")
# Extra headers, e.g. "X-Scope-OrgID=tenant-1" for Mimir: comma-separated Name=Value pairs.
REMOTE_WRITE_FORWARD_HEADERS = dict(
    pair.split("=", 1)
    for pair in env.list("REMOTE_WRITE_FORWARD_HEADERS", default=[])
    if "=" in pair
)
# Cardinality: at most this many active series (seen within SERIES_ACTIVE_HOURS) per metric;
# INGEST_SERIES_LIMITS overrides it per metric ("feature_usage=50000,http_requests=20000").
INGEST_MAX_SERIES_PER_METRIC = env.int("INGEST_MAX_SERIES_PER_METRIC", default=10_000)
INGEST_SERIES_LIMITS = {
    name.strip(): int(limit)
    for name, _, limit in (
        item.partition("=") for item in env.list("INGEST_SERIES_LIMITS", default=[]) if item
    )
}
SERIES_ACTIVE_HOURS = env.int("SERIES_ACTIVE_HOURS", default=24)
# A series that reported nothing for this long is removed with its samples and rollups.
SERIES_IDLE_DAYS = env.int("SERIES_IDLE_DAYS", default=30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

from penguinmon.celery_settings import *  # noqa: E402,F403
from penguinmon.observability import init_observability  # noqa: E402

SENTRY_DSN = env.str("SENTRY_DSN", default="")
POSTHOG_API_KEY = env.str("POSTHOG_API_KEY", default="")
POSTHOG_HOST = env.str("POSTHOG_HOST", default="https://us.i.posthog.com")
init_observability(sentry_dsn=SENTRY_DSN, environment=env.str("ENVIRONMENT", default="production"))
