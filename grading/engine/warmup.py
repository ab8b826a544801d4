"""A grading worker's warm-up, as soon as it is ready (grading.receivers): litellm imported and
what the process then holds taken out of the garbage collector's full passes."""

from __future__ import annotations

import gc
import threading

from .llm import _litellm


def _warm() -> None:
    litellm = _litellm()
    # What a call loads the first time (litellm's request path, about 60 modules; the HTTP client's
    # transport), loaded now by a call litellm answers itself (mock_response: no provider is
    # asked, nothing is spent), so that it is frozen below with the rest.
    litellm.completion(model="gpt-4o-mini", messages=[{"role": "user", "content": "."}], mock_response="{}")
    import httpcore  # noqa: F401

    # What the worker loaded to run (Django, litellm's model tables, pydantic's schemas: objects
    # that live as long as the process) leaves the garbage collector's passes: a full pass walked
    # them all while every thread of the process waited, 0.4-1.2 s in the middle of a class on
    # these 2-core machines (issue 18, make bench with gc.callbacks). Only what comes later is
    # collected; what is frozen is never freed, and it is the process's lifetime baggage anyway.
    gc.collect()
    gc.freeze()


def llm_warm() -> threading.Thread:
    """Imports litellm on a thread of its own (seconds, up to ~20 s on a loaded machine): a
    grading worker does it as soon as it is ready, so the first copy of the day does not wait
    for it with its job at 0/N; then takes what the process holds out of the garbage collector's
    full passes (gc.freeze).

    Not a daemon: a worker stopped while the import runs waits for it before the interpreter
    finalizes. A daemon thread was frozen there mid-import, holding the import lock, and a
    finalizer that imports (litellm's AsyncHTTPHandler.__del__) then waited for it forever: the
    worker never exited after SIGTERM (test_sigterm_stops_every_worker_process_gracefully, seen
    in CI; 3 hangs in 40 exits during the import before, none after)."""
    thread = threading.Thread(target=_warm, name="litellm-warm")
    thread.start()
    return thread
