from __future__ import annotations

import pytest

# Stripe's webhooks signed for dj-stripe's endpoint, its API faked (a partial launch resumes on an upgrade).
from tests.billing.conftest import fake_stripe, prices, webhook_endpoint, webhooks  # noqa: F401
from tests.usage.conftest import spend  # noqa: F401  (one ledger writer for every app's tests)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    # Each test stores its files in its own folder, so "nothing left behind" is checkable.
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def media_files(_media_root):
    def files() -> list:
        return sorted(p for p in _media_root.rglob("*") if p.is_file()) if _media_root.exists() else []

    return files


@pytest.fixture
def eager_tasks():
    """Tasks enqueued by a task run at once, here, as a worker would (the render task enqueues
    the reading of the student's name)."""
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False
