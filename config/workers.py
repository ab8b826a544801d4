"""`python -m config.workers`: one machine's Celery workers, as processes with a few threads each.

Grading is I/O-bound (a copy waits on its providers) with a little Python work per copy, so a
worker needs many copies in flight but one process cannot run many threads' Python at once
(the GIL): measured on 2 cores, 300 copies ran 1.61 × their ideal time with 4 threads in one
process, 5.55 × with 16, and 1.44 × with 2 processes of 4 (issue 18). So:

- `CORRIGO_WORKER_PROCESSES` grading processes (default: the machine's cores), each a Celery
  worker with the threads pool, on the default queue (copies only ever wait for copies):
  `CORRIGO_WORKER_THREADS` copies calling their providers at once (default 8; the older
  CELERY_CONCURRENCY is read when set) and `CORRIGO_WORKER_AHEAD` more copies being prepared
  or stored meanwhile (default 8): the process runs threads + ahead Celery threads and bounds
  its provider calls to 2 × threads (CORRIGO_LLM_CALL_SLOTS, engine.call_slots.CallSlots). A copy's
  start (reads, hold, prompts) and end (answers stored, grades, settlement) then overlap the
  other copies' provider wait instead of following it: with a slot per thread, the calls went
  out in waves, 0.4–0.7 s after the previous answers (issue 18);
- one `render` process (`CORRIGO_RENDER_THREADS` threads, default 2) on the render queue
  (settings.CORRIGO_RENDER_QUEUE: pages rendered, thumbnails, exports — never a model call, so
  it never loads litellm), so a 1 200-page class upload never holds a grading thread;
- database connections kept between tasks (CONN_MAX_AGE, default 600 s here) and checked
  before a task's first query (CONN_HEALTH_CHECKS).

The processes share nothing but the broker, the database and Redis, as workers on several
machines do. SIGTERM or SIGINT is passed to every process (Celery's warm shutdown: tasks in
progress finish, reserved ones go back to the queue); if one process dies the others are
stopped and this exits with its code, so the container or the supervisor restarts the whole set.
Extra arguments are passed to every `celery worker`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

# Copies a grading process prepares ahead of those calling (CORRIGO_WORKER_AHEAD's default).
AHEAD = 8
# Copies a grading process prepares at once, up to their first call (CORRIGO_PREPARE_AT_ONCE's
# default, grading/services/prepare_gate.py).
PREPARE_AT_ONCE = 2


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    queue: str
    threads: int
    env: dict[str, str] = field(default_factory=dict)


def _int(environ: dict[str, str], *names: str, default: int) -> int:
    for name in names:
        if environ.get(name, "").strip():
            return max(1, int(environ[name]))
    return default


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def worker_plan(environ: dict[str, str] | None = None) -> list[WorkerSpec]:
    """The processes to start on this machine, from the environment and the core count."""
    from django.conf import settings

    environ = dict(os.environ if environ is None else environ)
    processes = _int(environ, "CORRIGO_WORKER_PROCESSES", default=cores())
    threads = _int(environ, "CORRIGO_WORKER_THREADS", "CELERY_CONCURRENCY", default=8)
    ahead = max(0, int(environ.get("CORRIGO_WORKER_AHEAD", "").strip() or AHEAD))
    # Two calls per copy calling (both graders at once); the copies ahead wait for a slot.
    slots = {"CORRIGO_LLM_CALL_SLOTS": str(2 * threads)} if ahead else {}
    render_threads = _int(environ, "CORRIGO_RENDER_THREADS", default=2)
    base = environ.get("CELERY_WORKER_NAME", "worker@%h")
    prefix, _, host = base.partition("@")
    plan = [
        WorkerSpec(f"{prefix}-grading{n}@{host or '%h'}", settings.CELERY_TASK_DEFAULT_QUEUE, threads + ahead, slots)
        for n in range(1, processes + 1)
    ]
    plan.append(WorkerSpec(f"{prefix}-render@{host or '%h'}", settings.CORRIGO_RENDER_QUEUE, render_threads))
    return plan


def _argv(spec: WorkerSpec, extra: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--loglevel", os.environ.get("LOG_LEVEL", "INFO"),
        "--pool", "threads", "--concurrency", str(spec.threads),
        "--queues", spec.queue, "--hostname", spec.name,
        *extra,
    ]  # fmt: skip


def main(extra: list[str]) -> int:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    django.setup()
    env = dict(os.environ)
    env.setdefault("CONN_MAX_AGE", "600")
    plan = worker_plan(env)
    children = [subprocess.Popen(_argv(spec, extra), env={**env, **spec.env}) for spec in plan]  # noqa: S603
    print(
        "celery workers: " + ", ".join(f"{spec.name} ({spec.queue}, {spec.threads} threads)" for spec in plan),
        flush=True,
    )
    stopping = False
    failed: int | None = None

    def stop(signum: int, _frame) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        codes = [child.poll() for child in children]
        if all(code is not None for code in codes):
            return failed if failed is not None else 0
        if not stopping and any(code is not None for code in codes):
            # One process died: stop the others, so the whole set is restarted together.
            failed = next(abs(code) or 1 for code in codes if code is not None)
            print(f"a celery worker process exited ({failed}): stopping the others", file=sys.stderr, flush=True)
            stop(signal.SIGTERM, None)
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
