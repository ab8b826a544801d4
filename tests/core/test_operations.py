from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from django.conf import settings

from accounts.models import User

pytestmark = pytest.mark.django_db

PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.prod",
    "SECRET_KEY": "k" * 20 + "-production-secret-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "corrigo.example",
    "SITE_URL": "https://corrigo.example",
    "DATABASE_URL": "sqlite:////tmp/corrigo-check.sqlite3",
    "PATH": "/usr/bin:/bin",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )


def test_check_deploy_reports_nothing_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PROD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_secret_key():
    env = {k: v for k, v in PROD_ENV.items() if k != "SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set in production" in result.stderr


def test_production_settings_refuse_demo_mode():
    result = _manage("check", env={**PROD_ENV, "CORRIGO_DEMO_MODE": "true"})
    assert result.returncode != 0
    assert "Demo mode" in result.stderr


def test_pages_carry_a_csp_without_inline_scripts(client):
    response = client.get("/accounts/login/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "<script>" not in response.content.decode()


def test_every_response_has_a_request_id_and_keeps_a_valid_incoming_one(client):
    generated = client.get("/accounts/login/")["X-Request-ID"]
    assert len(generated) == 32
    kept = client.get("/accounts/login/", HTTP_X_REQUEST_ID="proxy-id-12345")["X-Request-ID"]
    assert kept == "proxy-id-12345"
    replaced = client.get("/accounts/login/", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]
    assert replaced != "bad id\nwith newline"


def test_log_lines_are_json_with_the_request_id():
    from pythonjsonlogger.json import JsonFormatter

    from core.logging import RequestIdFilter, request_id_var

    record = logging.LogRecord("corrigo", logging.INFO, __file__, 1, "bonjour", None, None)
    token = request_id_var.set("abc123abc123")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    formatter = JsonFormatter(**{k: v for k, v in settings.LOGGING["formatters"]["json"].items() if k != "()"})
    line = json.loads(formatter.format(record))
    assert line["message"] == "bonjour"
    assert line["request_id"] == "abc123abc123"


def test_metrics_are_hidden_from_anonymous_and_teachers(client, teacher):
    assert client.get("/metrics").status_code == 404
    client.force_login(teacher)
    assert client.get("/metrics").status_code == 404


def test_metrics_answer_staff_and_the_scraper_token(client, settings):
    settings.METRICS_TOKEN = "scrape-secret-token"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-token")
    assert response.status_code == 200
    assert b"django_http_requests" in response.content
    client.force_login(User.objects.create_superuser(email="ops@corrigo.example", password="Ops-pass-2026!"))
    assert client.get("/metrics").status_code == 200


SENTRY_PROBE = "import django; django.setup(); import sentry_sdk; print(sentry_sdk.get_client().is_active())"


def _sentry_active(env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", SENTRY_PROBE], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_sentry_is_off_without_a_dsn():
    assert _sentry_active(PROD_ENV) == "False"


def test_sentry_is_on_when_a_dsn_is_set():
    assert _sentry_active({**PROD_ENV, "SENTRY_DSN": "https://public@sentry.example/1"}) == "True"
