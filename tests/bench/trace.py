"""`BENCH_TRACE=1 make bench`: each provider call of a timed class on stderr, and its critical chain.

Lines: `trace <start> <end> <grade|verify> <model> <copy mark>` (seconds from the launch), then
`trace-chain`: the copy whose last call ended last, what it waited for at each step — from the
launch (or the class's first answer, when it went out in a later wave) to its first call, from
each round's answers to its next round's calls, and from its last answer to the job's end —
then the workers' warnings and retries (`trace-log`), which explain a gap.
"""

from __future__ import annotations

import hashlib
import sys


def _copy_mark(body: dict) -> str:
    """A copy's mark: its last two page images (the same in every call of the copy, grading and
    verification; a copy's text differs between its graders and its rounds)."""
    urls = [
        part["image_url"]["url"] if isinstance(part["image_url"], dict) else part["image_url"]
        for message in body.get("messages", [])
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if isinstance(part, dict) and part.get("type") == "image_url"
    ]
    return hashlib.sha1("".join(urls[-2:]).encode(), usedforsecurity=False).hexdigest()[:6]


def _kind(record) -> str:
    return "verify" if "[TASK:verify]" in record.text else "grade"


def trace_print(*, requests: list, workers: list, t0: float, started_s: float, finished_s: float) -> None:
    """`requests`: the scripted server's records; `t0`: the launch (time.monotonic()); the
    job_start transaction committed `started_s` and the job ended `finished_s` after it."""
    print(f"trace {0:7.3f} {started_s:7.3f} job_start (its transaction committed: the tasks go)", file=sys.stderr)
    by_copy: dict[str, list] = {}
    for record in sorted(requests, key=lambda r: r.started):
        mark = _copy_mark(record.body)
        by_copy.setdefault(mark, []).append(record)
        times = f"{record.started - t0:7.3f} {record.ended - t0:7.3f}"
        print(f"trace {times} {_kind(record)} {record.model} {mark}", file=sys.stderr)
    if requests:
        print(_chain(by_copy, t0=t0, started_s=started_s, finished_s=finished_s), file=sys.stderr)
    for worker in workers:  # retries and warnings explain a gap in the trace
        for line in worker.log().splitlines():
            if "WARNING" in line or "ERROR" in line or "retry" in line:
                print(f"trace-log {line[:300]}", file=sys.stderr)


def _chain(by_copy: dict[str, list], *, t0: float, started_s: float, finished_s: float) -> str:
    """The last copy's steps, in milliseconds of waiting between them."""
    mark, calls = max(by_copy.items(), key=lambda item: max(r.ended for r in item[1]))
    first_answer = min(r.ended for rs in by_copy.values() for r in rs) - t0
    rounds: list[list] = []
    for record in calls:  # in start order: a round is its calls of one kind
        if rounds and _kind(rounds[-1][0]) == _kind(record) and record.started < max(r.ended for r in rounds[-1]):
            rounds[-1].append(record)
        else:
            rounds.append([record])
    start = rounds[0][0].started - t0
    later_wave = start > first_answer
    steps = [
        f"copy={mark} rounds={'+'.join(_kind(r[0]) for r in rounds)}",
        f"first_call_s={start:.3f}",
        (
            f"after_first_answer_ms={(start - first_answer) * 1000:.0f}"
            if later_wave
            else f"after_commit_ms={(start - started_s) * 1000:.0f}"
        ),
        f"pair_split_ms={max((r[-1].started - r[0].started) * 1000 for r in rounds):.0f}",
    ]
    steps += [
        f"answers_to_{_kind(after[0])}_ms={(after[0].started - max(r.ended for r in before)) * 1000:.0f}"
        for before, after in zip(rounds, rounds[1:], strict=False)
    ]
    last_end = max(r.ended for r in calls) - t0
    steps.append(f"last_answer_to_job_end_ms={(finished_s - last_end) * 1000:.0f}")
    return "trace-chain " + " ".join(steps)
