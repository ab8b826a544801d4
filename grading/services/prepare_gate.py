"""How many copies a grading process prepares at once (CORRIGO_PREPARE_AT_ONCE, issue 18).

A copy task's preparation (its reads, its hold, GRADING, its prompts: everything up to its first
provider call) is Python work under the process's GIL. When a job starts, all of a process's
copy threads prepared their copies together, in lockstep, so the first call of the job went out
only once nearly all of them were ready (30 copies, 12 threads a process: 0.36 s after the
first task began, where one copy's preparation takes about 50 ms). With a few at a time, the
first calls go out after one copy's preparation and the others follow one by one; more than
one, so that a slow read (object storage, a remote database) does not hold the others.

A thread enters when its task starts (`preparing`) and leaves just before its copy's first
call waits for a call slot (`prepare_done`), or when the task ends without calling. Entering
again while inside (a task run inline by another, in tests or eager mode) does not wait.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

_local = threading.local()
_gate: tuple[int, int, threading.BoundedSemaphore] | None = None
_gate_lock = threading.Lock()


def _process_gate() -> threading.BoundedSemaphore | None:
    """The process's gate (a forked child gets its own); None when preparations are not bounded."""
    global _gate
    wanted = settings.CORRIGO_PREPARE_AT_ONCE
    if wanted <= 0:
        return None
    with _gate_lock:
        if _gate is None or _gate[0] != os.getpid() or _gate[1] != wanted:
            _gate = (os.getpid(), wanted, threading.BoundedSemaphore(wanted))
        return _gate[2]


@contextmanager
def preparing() -> Iterator[None]:
    """Runs a copy task's preparation among at most CORRIGO_PREPARE_AT_ONCE of its process's."""
    gate = None if getattr(_local, "gate", None) is not None else _process_gate()
    if gate is not None:
        gate.acquire()
        _local.gate = gate  # the very semaphore taken: given back to it even if the setting changed
    try:
        yield
    finally:
        if gate is not None:
            prepare_done()


def prepare_done() -> None:
    """This thread's copy is prepared: the next one's preparation may start. Safe to call again."""
    gate = getattr(_local, "gate", None)
    if gate is not None:
        _local.gate = None
        gate.release()
