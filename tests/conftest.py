"""Shared fixtures: personas, real-process servers, per-test cache isolation."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import PASSWORD, UserFactory
from tests.support import deadlines


def pytest_sessionstart(session):
    # Every wait on another process is scaled by how fast this machine runs now
    # (tests/support/deadlines.py); each xdist worker measures for itself.
    deadlines.calibrate()


def pytest_report_header(config):
    return f"deadlines: factor {deadlines.factor():.1f} (tests/support/deadlines.py)"


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    # Rate limits and other cached state must not leak from one test to the next;
    # a fresh key prefix isolates without flushing the Redis other workers share.
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"{settings.REDIS_PREFIX}:{uuid.uuid4().hex[:8]}"}
    }


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def teacher(db):
    return UserFactory(email="owner@college.example")


@pytest.fixture
def other_teacher(db):
    return UserFactory(email="other@college.example")


@pytest.fixture
def owner_client(client, teacher):
    client.force_login(teacher)
    return client


@pytest.fixture
def other_client(client, other_teacher):
    client.force_login(other_teacher)
    return client


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory, request):
    return tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture
def asgi_server(transactional_db, tmp_path, settings):
    """daphne serving the project on a free port, against this test's database."""
    from tests.support.servers import daphne_start

    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    server = daphne_start(
        tmp_path,
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail_dir),
        # Rate limits and other cached state of one test must not reach the next one.
        CACHE_KEY_PREFIX=f"{settings.REDIS_PREFIX}:{uuid.uuid4().hex[:8]}",
    )
    server.extra["mail_dir"] = mail_dir
    yield server
    server.stop()


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """A real Celery worker (threads pool) consuming this test's queue."""
    from tests.support.servers import celery_worker_start

    worker = celery_worker_start(tmp_path)
    yield worker
    worker.stop()
