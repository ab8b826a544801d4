"""Container health checks, one per role (Dockerfile HEALTHCHECK, docker/compose.yml).

    python docker/healthcheck.py          web: GET /health on the local daphne (200 = healthy:
                                          database, Redis and a Celery worker answer)
    python docker/healthcheck.py worker   each of this container's Celery worker processes answers a ping
    python docker/healthcheck.py beat     the broker beat sends to answers

The web check sends a Host that Django accepts (the first concrete ALLOWED_HOSTS entry):
with any other Host Django answers 400 and the container would look unhealthy.
Standard library only for the web check: the image has no curl.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys


def allowed_host() -> str:
    for entry in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = entry.strip().lstrip(".")
        if host and "*" not in host:
            return host
    return "localhost"


def web() -> int:
    port = int(os.environ.get("PORT", "8000"))
    # Under the HEALTHCHECK's own 10 s; /health's worker ping alone may take HEALTH_CELERY_TIMEOUT.
    timeout = float(os.environ.get("HEALTHCHECK_TIMEOUT", "8"))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        # As nginx sends it; /health is exempt from the HTTPS redirect anyway.
        connection.request("GET", "/health", headers={"Host": allowed_host(), "X-Forwarded-Proto": "https"})
        response = connection.getresponse()
        body = response.read(2000).decode(errors="replace")
    except OSError as exc:
        print(f"unhealthy: {exc}")
        return 1
    finally:
        connection.close()
    print(response.status, body)
    return 0 if response.status == 200 else 1


def worker() -> int:
    import django

    from config.celery import app
    from config.workers import worker_plan

    django.setup()
    # The names config/workers.py gives this container's worker processes: every one answers.
    names = [spec.name.replace("%h", socket.gethostname()) for spec in worker_plan()]
    replies = app.control.ping(destination=names, timeout=5)
    answered = {name for reply in replies for name in reply}
    missing = sorted(set(names) - answered)
    print(replies if not missing else f"unhealthy: {', '.join(missing)} did not answer")
    return 0 if not missing else 1


def beat() -> int:
    from config.celery import app

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=5)
    except Exception as exc:  # any failure means the broker is out of reach
        print(f"unhealthy: broker unreachable: {exc}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    role = sys.argv[1] if len(sys.argv) > 1 else "web"
    sys.exit({"web": web, "worker": worker, "beat": beat}[role]())
