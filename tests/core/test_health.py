from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_health_is_200_when_database_redis_and_a_worker_are_up(client, celery_worker_process):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up", "redis": "up", "celery": "up"}


def test_health_is_503_without_a_worker(client, settings):
    settings.HEALTH_CELERY_TIMEOUT = 0.3
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["celery"] == "down"
    assert response.json()["redis"] == "up"


def test_health_is_503_when_redis_is_down(client, settings):
    from tests.support.servers import free_port

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["redis"] == "down"
    assert body["celery"] == "down"
    assert body["database"] == "up"


def test_health_is_503_when_redis_is_down_even_with_a_worker_answering(client, settings, celery_worker_process):
    # The worker answers through the broker it was started with: only the Redis check can fail.
    from tests.support.servers import free_port

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "database": "up", "redis": "down", "celery": "down"}


def test_the_browsers_default_favicon_address_leads_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")
