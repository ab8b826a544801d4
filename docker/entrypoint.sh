#!/bin/sh
# The image's entry point: the first argument is the role.
#   web      daphne (HTTP + websockets) on $PORT; scale it to as many replicas as needed
#   worker   Celery workers (config/workers.py: one process per core + one for files); scale it freely
#   beat     Celery beat: run EXACTLY ONE in the whole deployment (else periodic tasks run twice)
#   migrate  one-shot: apply migrations, copy static files to /srv/static (nginx's volume), exit
#   manage   any manage.py command: `docker compose run --rm web manage createsuperuser`
# Anything else is executed as is (e.g. `sh`).
set -eu
role="${1:-web}"
[ $# -gt 0 ] && shift

case "$role" in
  web)
    # --proxy-headers: the client address comes from nginx's X-Forwarded-For.
    exec daphne --bind 0.0.0.0 --port "${PORT:-8000}" --proxy-headers \
      --http-timeout "${WEB_HTTP_TIMEOUT:-300}" config.asgi:application "$@"
    ;;
  worker)
    # Processes with a few threads each, sized from the cores, and one for files
    # (config/workers.py: CORRIGO_WORKER_PROCESSES, CORRIGO_WORKER_THREADS, CORRIGO_RENDER_THREADS).
    exec python -m config.workers "$@"
    ;;
  beat)
    exec celery -A config beat --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule /app/var/celerybeat-schedule "$@"
    ;;
  migrate)
    python manage.py migrate --noinput "$@"
    if [ -d /srv/static ] && [ -w /srv/static ]; then
      # Old hashed files stay: pages already open in a browser still find their assets.
      cp -R /app/staticfiles/. /srv/static/
    fi
    ;;
  manage)
    exec python manage.py "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
