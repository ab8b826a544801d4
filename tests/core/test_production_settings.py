"""Production settings refuse the values that .env.example publishes as placeholders.

Each case imports config.settings.prod in a child process (settings are read once, at import)
with a complete production environment plus one value taken from .env.example.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from tests.core.test_operations import PROD_ENV

ENV_EXAMPLE = (Path(settings.BASE_DIR) / ".env.example").read_text()

# Imports the production settings once per case; prints {name: error or null}.
CHILD = """
import importlib, json, os, sys
cases = json.loads(sys.argv[1])
base_env = dict(os.environ)
outcome = {}
for name, value in cases.items():
    os.environ.clear()
    os.environ.update(base_env)
    os.environ[name] = value
    sys.modules.pop("config.settings.prod", None)
    try:
        importlib.import_module("config.settings.prod")
        outcome[name] = None
    except Exception as exc:
        outcome[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(outcome))
"""


def _example_values() -> dict[str, str]:
    """Every NAME=value of .env.example, the optional ("# NAME=value") lines included."""
    return dict(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=(\S*)$", ENV_EXAMPLE, re.M))


def _import_prod_with(cases: dict[str, str]) -> dict[str, str | None]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(cases)],
        cwd=settings.BASE_DIR,
        env=PROD_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_refuses_every_value_env_example_marks_as_a_placeholder():
    placeholders = {name: value for name, value in _example_values().items() if "change-me" in value}
    # The example's secret key, database password, mail password and provider keys at least.
    assert {"SECRET_KEY", "POSTGRES_PASSWORD", "EMAIL_HOST_PASSWORD", "OPENAI_API_KEY", "METRICS_TOKEN"} <= set(
        placeholders
    )
    outcome = _import_prod_with(placeholders)
    accepted = [name for name, error in outcome.items() if error is None or name not in error]
    assert not accepted, outcome
    assert all(error.startswith("ImproperlyConfigured") for error in outcome.values())


def test_production_refuses_the_secret_key_of_env_example():
    example_key = _example_values()["SECRET_KEY"]
    assert len(example_key) >= 50  # long enough to pass the length rule: only the mark refuses it
    outcome = _import_prod_with({"SECRET_KEY": example_key})
    assert "SECRET_KEY" in outcome["SECRET_KEY"]


def test_production_accepts_real_values_and_refuses_a_database_url_built_from_the_example_password():
    outcome = _import_prod_with(
        {
            "EMAIL_HOST_PASSWORD": "a-real-mail-password-8f3k",
            "DATABASE_URL": "postgres://corrigo:change-me@postgres:5432/corrigo",
        }
    )
    assert outcome["EMAIL_HOST_PASSWORD"] is None
    assert "DATABASE_URL" in outcome["DATABASE_URL"]
