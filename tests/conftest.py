"""Shared fixtures: personas, real-process servers, per-test cache isolation."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.factories import PASSWORD, UserFactory
from tests.support import deadlines

# `make mutation` (scripts/mutation.sh) runs pytest once per mutant, in processes forked by
# mutmut: the hooks and the fixture below keep each run to its tests.
MUTATION = bool(os.environ.get("CORRIGO_MUTATION"))


def pytest_sessionstart(session):
    # Every wait on another process is scaled by how fast this machine runs now
    # (tests/support/deadlines.py); each xdist worker measures for itself. Mutation runs wait
    # on no other process: deadlines.factor() would still measure on first use.
    if not MUTATION:
        deadlines.calibrate()


# Test modules that use the process's fixed Redis keys (the rooms every grading process reads,
# the broker's queues, which they flush): two mutant runs at once would read and clear each
# other's. They run only for the mutants of the module they test, which scripts/mutation.sh
# runs one at a time (its SERIAL_MUTANTS) before the others.
SERIAL_TESTS = {"tests/grading/test_passing_on.py": "grading.services.passing_on."}


def pytest_collection_modifyitems(config, items):
    if not MUTATION:
        return
    # Mutants run two at a time against one database (django_db_setup below): a test that commits
    # would show its rows to the other run's tests. A test grading through the scripted server
    # takes seconds, for every mutant of the engine it covers: only those marked `mutation` run.
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    left_out = [item for item in items if _commits(item) or _grades_slowly(item) or _serial_elsewhere(item, mutant)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]


def _serial_elsewhere(item: pytest.Item, mutant: str) -> bool:
    """A test of SERIAL_TESTS run for a mutant of another module (mutmut's own runs, the
    statistics and the clean one, are not mutants: they run every test)."""
    module = SERIAL_TESTS.get(item.nodeid.split("::", 1)[0])
    return module is not None and "__mutmut_" in mutant and not mutant.startswith(module)


def _grades_slowly(item: pytest.Item) -> bool:
    return "llm_server" in getattr(item, "fixturenames", ()) and item.get_closest_marker("mutation") is None


def _commits(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    return marker is not None and bool(marker.kwargs.get("transaction"))


if MUTATION:

    @pytest.fixture(scope="session")
    def django_db_setup(django_db_blocker):
        """The test database, created once per `make mutation` by the first run that needs one
        (mutmut's statistics run, before any mutant) and kept: creating it for each mutant would
        cost more than most mutants' tests. The marker lives in mutmut's fresh `mutants/`
        directory (the working directory of every run), so each `make mutation` starts from
        the models of its own checkout."""
        from django.db import connections
        from django.test.utils import setup_databases

        ready = Path(".mutation-test-database")
        with django_db_blocker.unblock():
            if ready.exists():
                for connection in connections.all():
                    connection.close()
                    connection.settings_dict["NAME"] = connection.creation._get_test_db_name()
            else:
                setup_databases(verbosity=0, interactive=False, keepdb=False)
                ready.touch()
        yield


def pytest_report_header(config):
    if MUTATION:
        return None
    return f"deadlines: factor {deadlines.factor():.1f} (tests/support/deadlines.py)"


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    # Rate limits and other cached state must not leak from one test to the next;
    # a fresh key prefix isolates without flushing the Redis other workers share.
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"{settings.REDIS_PREFIX}:{uuid.uuid4().hex[:8]}"}
    }
    # So are the operator's prices each process keeps (usage.pricing): a test's rows roll back.
    from usage.pricing import operator_cards_forget

    operator_cards_forget()


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
        # /health pings a worker for 1 s; at a load of 10 a live worker may answer later.
        HEALTH_CELERY_TIMEOUT=f"{deadlines.scaled(1):.1f}",
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
