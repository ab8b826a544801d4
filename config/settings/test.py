"""Test settings: PostgreSQL and a real Redis, as in production.

`make test` sets DATABASE_URL and REDIS_URL (services of the machine, or throwaway ones).
Parallel runs share one Redis: REDIS_PREFIX keeps each xdist worker in its own namespace.
"""

import hashlib
import os

from .base import *  # noqa: F403
from .base import BASE_DIR, env

_namespace = "t" + hashlib.sha1(str(BASE_DIR).encode(), usedforsecurity=False).hexdigest()[:6]
_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
REDIS_PREFIX = env("REDIS_PREFIX", default=f"corrigo-{_namespace}-{_worker}")
CACHES["default"]["KEY_PREFIX"] = env("CACHE_KEY_PREFIX", default=REDIS_PREFIX)  # noqa: F405
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"{REDIS_PREFIX}:asgi"  # noqa: F405
CELERY_TASK_DEFAULT_QUEUE = REDIS_PREFIX
CORRIGO_RENDER_QUEUE = f"{REDIS_PREFIX}-render"
CELERY_TASK_ROUTES = {name: {"queue": CORRIGO_RENDER_QUEUE} for name in RENDER_TASKS}  # noqa: F405
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "global_keyprefix": f"{REDIS_PREFIX}:celery:",
}

# Two checkouts testing at once on one PostgreSQL must not share a test database.
DATABASES["default"]["TEST"] = {"NAME": f"test_corrigo_{_namespace}"}  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "var" / "test-media" / _worker))
LOGGING["root"]["level"] = env("LOG_LEVEL", default="WARNING")  # noqa: F405
