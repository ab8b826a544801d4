"""Image build step: writes .pyc files for what Corrigo's roles import when they start, and
only for that. The virtualenv is installed with --no-compile: compiling every installed module
would add ~170 MB of bytecode to the image (litellm alone ships thousands of modules no role
imports); a module left out is compiled in memory the first time a process imports it.

Run as root at build time with PYTHONDONTWRITEBYTECODE unset; the base settings suffice (no
database, Redis or secret is touched)."""

from __future__ import annotations

import compileall
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"  # prod needs secrets; compileall covers it

import django  # noqa: E402

django.setup()

from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018 — imports every view module
import config.asgi  # noqa: E402, F401 — daphne's application: consumers, channels, websockets
from config.celery import app  # noqa: E402

app.loader.import_default_modules()  # every task module
import celery.apps.beat  # noqa: E402, F401
import celery.apps.worker  # noqa: E402, F401
import celery.concurrency.thread  # noqa: E402, F401
import daphne.cli  # noqa: E402, F401
import daphne.server  # noqa: E402, F401
import litellm  # noqa: E402, F401

compileall.compile_dir(str(ROOT), quiet=1, rx=re.compile(r"/(tests|\.venv|var)/"))
print(f"bytecode written for {len(sys.modules)} imported modules and the project's code")
