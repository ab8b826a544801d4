"""Where a bench worker's CPU goes, by phase: loaded into the Celery worker with
`-I tests.bench.sampler` when BENCH_SAMPLER_DIR is set (the bench sets it; never in production).

Every SAMPLE_S a thread reads each thread's own CPU clock (pthread_getcpuclockid, one syscall)
and gives the CPU it used since the last sample to the phase its Python stack is in now. Threads
waiting on a socket use no CPU and count for nothing, so LLM waits are excluded by construction.
The CPU a thread used since the last sample goes to where it is found, so work done just before a
wait is counted to the wait's phase: stop 45 found `answer_keep` (a Redis SET, 0.25 ms of CPU a
call timed alone) given 2.8 ms a call: the tail of the litellm call just before it (the answer
parsed and priced). Read the phases' small differences with that in mind.
The sampler's own CPU is measured too (`sampler`) and left out of the phases. The totals since
the process started are written to `<dir>/<pid>.json` every half second.

It samples only while `<dir>/on` exists (the bench's sampled runs): waking every 5 ms to walk
every thread's stack takes the GIL from the threads it measures, so the headline figures
(wall time, CPU per copy) come from runs without it. Off, it looks for the file every 0.1 s.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

SAMPLE_S = 0.005
IDLE_S = 0.1

# The first marker found anywhere in the stack names the phase (in this order).
PHASES = (
    ("progress", ("grading/services/events.py", "grading/selectors/progress.py", "core/realtime.py")),
    ("llm_logging", ("litellm_logging", "logging_worker", "/litellm/integrations/")),
    ("llm_call", ("/litellm/", "/openai/", "/httpx/", "/httpcore/", "grading/engine/llm.py")),
    ("ledger", ("grading/services/answers.py", "grading/services/holds.py", "/usage/")),
    ("engine", ("grading/engine/",)),
    ("copy_state", ("grading/",)),
    ("celery", ("/celery/", "/kombu/", "/billiard/", "/redis/")),
)


ROOT = str(Path(__file__).resolve().parents[2])
DETAIL = bool(os.environ.get("BENCH_SAMPLER_DETAIL"))


def _phase(frame) -> str:
    files = []
    innermost = ""
    while frame is not None:
        name = frame.f_code.co_filename
        files.append(name)
        if DETAIL and not innermost and name.startswith(ROOT) and "/.venv/" not in name:
            innermost = f"{name[len(ROOT) + 1 :]}:{frame.f_code.co_name}"
        frame = frame.f_back
    for phase, markers in PHASES:
        if any(marker in name for name in files for marker in markers):
            return f"{phase}|{innermost}" if DETAIL else phase
    return f"other|{innermost}" if DETAIL else "other"


def _run(path: Path) -> None:
    me = threading.get_ident()
    switch = path.parent / "on"
    last: dict[int, float] | None = None  # None: the next sample only reads the clocks
    totals: dict[str, float] = {}
    written = time.monotonic()
    while True:
        if not switch.exists():
            last = None
            time.sleep(IDLE_S)
            continue
        time.sleep(SAMPLE_S)
        seen = {}
        for ident, frame in sys._current_frames().items():
            if ident == me:
                continue
            try:
                cpu = time.clock_gettime(time.pthread_getcpuclockid(ident))
            except (OSError, ProcessLookupError):
                continue
            seen[ident] = cpu
            if last is None:
                continue
            used = cpu - last.get(ident, 0.0)
            if used > 0:
                phase = _phase(frame)
                totals[phase] = totals.get(phase, 0.0) + used
        last = seen
        if time.monotonic() - written > 0.5:
            totals["sampler"] = time.thread_time()
            path.write_text(json.dumps(totals))
            written = time.monotonic()


def start() -> None:
    directory = os.environ.get("BENCH_SAMPLER_DIR")
    if directory:
        path = Path(directory) / f"{os.getpid()}.json"
        threading.Thread(target=_run, args=(path,), name="bench-sampler", daemon=True).start()


start()
