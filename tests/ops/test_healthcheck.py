"""docker/healthcheck.py, the containers' health checks, against real daphne and Celery."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.support.deadlines import scaled, wait_until
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


def _launch(name: str, tmp_path: Path) -> subprocess.Popen:
    """`python -m config.workers` as the worker container runs it: 2 grading processes + files."""
    # PYTHONFAULTHANDLER: a worker sent SIGABRT writes every thread's stack in the log first.
    env = service_env(
        CELERY_WORKER_NAME=name, CORRIGO_WORKER_PROCESSES="2", CORRIGO_WORKER_THREADS="2", PYTHONFAULTHANDLER="1"
    )
    argv = [sys.executable, "-m", "config.workers", "--without-gossip", "--without-mingle"]
    log = (tmp_path / "workers.log").open("wb")
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603


def _children(process: subprocess.Popen) -> list[int]:
    path = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def _stop(launcher: subprocess.Popen) -> None:
    """Whatever a failed test left running: the workers, then the launcher."""
    if launcher.poll() is None:
        for pid in _children(launcher):
            os.kill(pid, signal.SIGKILL)
        launcher.kill()
        launcher.wait()


def test_the_worker_check_wants_every_process_of_this_containers_workers(tmp_path):
    name = f"hc@%h-{settings.REDIS_PREFIX}"
    launcher = _launch(name, tmp_path)
    check = {"CELERY_WORKER_NAME": name, "CORRIGO_WORKER_PROCESSES": "2"}
    try:
        wait_until(lambda: _check("worker", **check).returncode == 0, base=90, what="the three workers to answer")
        assert len(_children(launcher)) == 3
        other = _check("worker", CELERY_WORKER_NAME=f"someone-else@{socket.gethostname()}")
        assert other.returncode == 1 and "did not answer" in other.stdout
        # One process dies: the others are stopped and the launcher fails, so the container restarts.
        os.kill(_children(launcher)[0], signal.SIGKILL)
        assert launcher.wait(timeout=scaled(60)) != 0
        assert _check("worker", **check).returncode == 1
    finally:
        _stop(launcher)
    assert (tmp_path / "workers.log").read_text().count("ready") == 3


def test_sigterm_stops_every_worker_process_gracefully(tmp_path):
    name = f"term@%h-{settings.REDIS_PREFIX}"
    launcher = _launch(name, tmp_path)
    try:
        wait_until(
            lambda: _check("worker", CELERY_WORKER_NAME=name, CORRIGO_WORKER_PROCESSES="2").returncode == 0,
            base=90,
            what="the workers to answer",
        )
        children = _children(launcher)
        launcher.send_signal(signal.SIGTERM)
        try:
            code = launcher.wait(timeout=scaled(60))
        except subprocess.TimeoutExpired:
            # Seen in CI (stops 38 and 41): a daemon warm-up thread frozen mid-import, a finalizer
            # waiting on the import lock (grading.engine.warmup). Where each stuck worker waits,
            # from its own stacks, should it come back.
            for pid in _children(launcher):
                os.kill(pid, signal.SIGABRT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                launcher.wait(timeout=scaled(10))
            pytest.fail("workers still running after SIGTERM:\n" + (tmp_path / "workers.log").read_text()[-20000:])
        assert code == 0
    finally:
        _stop(launcher)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    assert (tmp_path / "workers.log").read_text().count("Warm shutdown") == 3


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
