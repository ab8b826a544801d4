"""docker/healthcheck.py, the containers' health checks, against real daphne and Celery."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.support.deadlines import scaled
from tests.support.servers import celery_worker_start, daphne_start, service_env

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _check(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "docker/healthcheck.py", *args],
        cwd=ROOT,
        env={**service_env(), **env},
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )


@pytest.fixture
def web_for_example_host(tmp_path):
    # Production-like: only the public host name is allowed, not localhost.
    server = daphne_start(
        tmp_path,
        ALLOWED_HOSTS="corrigo.example,.corrigo.example",
        # The worker's answer to /health's ping may take longer than 1 s on a loaded machine.
        HEALTH_CELERY_TIMEOUT=f"{scaled(1):.1f}",
    )
    yield server
    server.stop()


def test_the_web_check_passes_when_everything_answers_and_fails_without_a_worker(web_for_example_host, tmp_path):
    env = {
        "PORT": str(web_for_example_host.port),
        "ALLOWED_HOSTS": "corrigo.example,.corrigo.example",
        # /health waits up to the scaled ping timeout for the missing worker: so does the check.
        "HEALTHCHECK_TIMEOUT": f"{scaled(8):.0f}",
    }
    without_worker = _check(**env)
    assert without_worker.returncode == 1
    assert without_worker.stdout.startswith("503")

    worker = celery_worker_start(tmp_path)
    try:
        healthy = _check(**env)
    finally:
        worker.stop()
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout.startswith("200")


def test_the_web_check_fails_when_nothing_listens():
    result = _check(PORT="1")
    assert result.returncode == 1
    assert "unhealthy" in result.stdout


def test_the_worker_check_pings_this_containers_worker_by_name(tmp_path):
    name = f"hc@%h-{settings.REDIS_PREFIX}"
    worker = celery_worker_start(tmp_path, name="hc")
    try:
        result = _check("worker", CELERY_WORKER_NAME=name)
        other = _check("worker", CELERY_WORKER_NAME=f"someone-else@{socket.gethostname()}")
    finally:
        worker.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert other.returncode == 1


def test_the_beat_check_fails_when_the_broker_is_out_of_reach():
    assert _check("beat").returncode == 0
    unreachable = "redis://127.0.0.1:1/0"
    result = _check("beat", REDIS_URL=unreachable, CELERY_BROKER_URL=unreachable)
    assert result.returncode == 1
    assert "broker unreachable" in result.stdout


def test_the_image_runs_every_role_through_one_entrypoint():
    script = (ROOT / "docker" / "entrypoint.sh").read_text()
    for role in ("web)", "worker)", "beat)", "migrate)", "manage)"):
        assert f"  {role}" in script
    result = subprocess.run(
        ["sh", "docker/entrypoint.sh", "manage", "check"],
        cwd=ROOT,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
             "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        capture_output=True, text=True, timeout=scaled(120),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
