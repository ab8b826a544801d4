"""Real processes for tests: daphne (HTTP + websockets) and Celery workers.

They run the project as production runs it, in subprocesses, against the test database
and the test Redis namespace of the calling pytest process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.support.deadlines import Deadline, scaled

BASE_DIR = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    """Waits for a listener; `timeout` is the base (quiet machine), scaled by tests.support.deadlines."""
    deadline = Deadline(timeout)
    while not deadline.expired():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {deadline}")


def test_database_url() -> str:
    """The URL of the database the test process uses now (pytest-django's test database)."""
    conf = connection.settings_dict
    if conf["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{conf['NAME']}"
    user = conf.get("USER") or "postgres"
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    host = conf.get("HOST") or "127.0.0.1"
    port = conf.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{conf['NAME']}"


def service_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "REDIS_PREFIX": settings.REDIS_PREFIX,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class Service:
    process: subprocess.Popen
    log_path: Path
    port: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=scaled(10))
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _spawn(argv: list[str], *, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    log_file = log_path.open("wb")
    return subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT)


def daphne_start(tmp_dir: Path, **env_extra: str) -> Service:
    port = free_port()
    log_path = tmp_dir / f"daphne-{port}.log"
    argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
    process = _spawn(argv, env=service_env(**env_extra), log_path=log_path)
    service = Service(process=process, log_path=log_path, port=port)
    try:
        wait_for_port(port, process=process)
    except Exception:
        service.stop()
        raise RuntimeError(f"daphne did not start:\n{service.log()}") from None
    return service


def celery_worker_start(
    tmp_dir: Path,
    *,
    name: str = "w1",
    concurrency: int = 4,
    pool: str = "threads",
    extra_args: list[str] | None = None,
    queues: list[str] | None = None,
    **env_extra: str,
) -> Service:
    """A Celery worker on the test queues (both, unless `queues`), ready when this returns."""
    log_path = tmp_dir / f"celery-{name}.log"
    queues = queues or [settings.CELERY_TASK_DEFAULT_QUEUE, settings.CORRIGO_RENDER_QUEUE]
    argv = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "-n", f"{name}@%h-{settings.REDIS_PREFIX}",
        "-Q", ",".join(queues),
        "-P", pool, "-c", str(concurrency),
        "-I", "tests.support.tasks",
        "--without-gossip", "--without-mingle", "-l", "INFO",
        *(extra_args or []),
    ]  # fmt: skip
    process = _spawn(argv, env=service_env(**env_extra), log_path=log_path)
    service = Service(process=process, log_path=log_path)
    deadline = Deadline(60)
    while not deadline.expired():
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited:\n{service.log()}")
        if "ready" in service.log():
            return service
        time.sleep(0.2)
    service.stop()
    raise TimeoutError(f"celery worker not ready after {deadline}:\n{service.log()}")


def moto_s3_start(tmp_dir: Path) -> Service:
    """moto's S3 server (a real HTTP server speaking the S3 API) on a free port."""
    port = free_port()
    log_path = tmp_dir / f"moto-{port}.log"
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    process = _spawn(argv, env=env, log_path=log_path)
    service = Service(process=process, log_path=log_path, port=port)
    try:
        wait_for_port(port, process=process)
    except Exception:
        service.stop()
        raise RuntimeError(f"moto server did not start:\n{service.log()}") from None
    return service


def s3_settings_env(s3: Service, bucket: str) -> dict[str, str]:
    """The environment that switches the project's file storage to this S3 server."""
    return {
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": s3.url,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_S3_ADDRESSING_STYLE": "path",
    }
