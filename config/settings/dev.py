"""Local development: `make run` uses these settings."""

import sys
from pathlib import Path

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
# Without collectstatic, whitenoise serves files from the finders.
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
WHITENOISE_USE_FINDERS = True
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # noqa: F405

# `manage.py runserver` served by daphne (websockets included), as make run serves the site.
if "runserver" in sys.argv:
    INSTALLED_APPS = ["daphne", *INSTALLED_APPS]  # noqa: F405
