"""`make bench`: the grading engine's figures (printed, never asserted).

    python -m tests.bench  [--copies 30/120/300] [--workers <cores>] [--threads 8] [--ahead 8] [--prepare 2]
                           [--pages 4]
                           [--latency 1.0] [--samples 200] [--repeat 3] [--only grading|grid|export]

Database: a dedicated PostgreSQL database (`corrigo_bench_<checkout>`) on the server of
DATABASE_URL, created for the run with Django's test-database machinery and MIGRATE=False
(tables straight from the models, like `pytest --nomigrations`: dj-stripe's migrations take a
minute), and dropped at the end. Redis: the REDIS_URL server under its own key prefix.

What runs for real: the scripted LLM server (HTTP, `--latency` per call), `--workers` Celery
worker subprocesses (threads pool, `--threads` + `--ahead` each with 2 × `--threads` provider
calls at once, prefetch 1, acks_late, persistent database connections: the production worker
model, config/workers.py), daphne + the Redis channel layer
for websockets, litellm for every call.

Lines printed: first `machine cores= python_loop_ms= load=`, the time one core takes for a fixed
Python loop (compare CPU figures from two machines by it: they differ by 1.5–2× here); then,
for each class size of `--copies`:
- grading copies= workers= threads= ahead= prepare= wall_s ideal_s ratio calls concurrency split= load=: a class
  of N copies × `--pages` pages in double correction. concurrency = workers × threads × 2 (the
  provider calls at once: each copy calls both graders at once; copies ahead wait for a slot);
  ideal = max(ceil(calls / concurrency), longest chain of dependent calls) × latency, the chain
  being grading → verification (2) when any copy needed a verification round. load= is the
  load average (1 and 5 min) before the run, load_after= after. split= the copy tasks each
  grading process received during the run (a retry counts again): Celery gives each process up
  to threads + ahead copies while it calls for `--threads` at once, so in an uneven split of a
  small class a copy may wait for its process's call slots while the other's idle, and cost the
  class a provider round when it is disputed too (16 copies: 1.6 × the ideal in 3 runs of 10).
  These come from runs without the sampler below (it takes the GIL 200 times a second);
  `--repeat K` times each (3 by default: the same code's ratio varies by up to ±0.08 from one
  run to the next on these machines, more than the margin to the 30-copy target), then
  `grading_median copies= runs= ratio= cpu_ms_per_copy= python_loop_ms=`, the figure to quote,
  with the targets it is held to and whether the median meets them: `ratio_target= ratio_met=`
  (1.10 at 30 copies, 1.20 at 300, with 32 calls at once of 1 s) and `cpu_target=60 cpu_met=`.
  BENCH_TRACE=1 prints on stderr when job_start's transaction committed, each provider call's
  start and end (seconds from the launch) with its copy's mark, and the critical chain (the
  last copy's waits between its steps), then the workers' warnings and retries (tests/bench/trace.py).
- cpu_ms_per_copy: the worker processes' CPU time (user + system) during the run / copies;
  LLM waits use no CPU. With python_loop_ms measured again just after the run (a shared
  machine's speed drifts within one bench). workers_rss_mb: each grading process's resident
  memory after the run (the same processes grade every run: a figure that keeps growing from
  one run to the next is memory a copy leaves behind).
- cpu_ms_per_copy_beside: the CPU the same run cost beside the workers, on the same cores:
  provider_server = this process (the scripted provider, standing in for a remote one, and
  the wait loop), postgres = the backends serving the bench database.
- cpu_phases_ms_per_copy: the same CPU split by what the thread was doing (tests/bench/sampler.py:
  llm_call = litellm and the HTTP client, ledger = answers kept, ledger rows and allowance holds,
  progress = live events, engine = prompts and answers stored, copy_state = the rest of the copy
  task, celery = the broker, llm_logging = litellm's callbacks; the CPU just before a wait counts
  to the wait's phase: litellm's answer handling shows partly as `ledger`, see sampler.py).
  BENCH_SAMPLER_DETAIL=1 prints the top functions too. From one more run of the same class with
  the sampler on (its own CPU, sampler_ms_per_copy, left out), with that run's
  sampled_run_cpu_ms_per_copy and ratio.
- sizing tokens_per_copy db_transactions_per_copy: the ledger's tokens per copy (prompt +
  completion, every call) and the transactions committed in the database per copy (every
  process; PostgreSQL's statistics, which lag by up to half a second).
- prefix_cache_ratio: cached prompt tokens / static-prefix tokens over the grading calls of
  copies 2..N (per model); the static prefix is the part of the prompt identical for every copy.
- progress p50_ms p95_ms: from `progress_send` (what a window sends: render the summary from the
  database, publish to the exam's group) to a logged-in websocket client receiving it.
- validate / render: a 200-page scanned PDF validated and rendered to the engine's JPEGs in a
  fresh process, through the PDF sandbox (a child process under limits) and, for comparison,
  the way it ran before it (in-process): overhead_ms, spawn_ms, the child's and the parent's
  peaks (tests/bench/render.py). The hostile corpus has its own target: `make bench-pdf`.
- review_grid_ms: the review page's server time for 35 × 10 and 300 × 20 grids graded through
  the engine (median of 5, with its query count; tests/bench/grid.py). `--only grid` runs it alone.
- export_zip_300 s peak_rss_mb queries: the annotated PDFs' zip of 300 copies built by a Celery
  worker, and the tables of the same class in this process (tests/bench/export.py).
  `--only export` runs it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from config.workers import AHEAD, PREPARE_AT_ONCE  # noqa: E402
from tests.bench.export import bench_export  # noqa: E402
from tests.bench.grid import bench_review_grid  # noqa: E402


def _env_setup(tmp: Path) -> None:
    namespace = hashlib.sha1(str(ROOT).encode(), usedforsecurity=False).hexdigest()[:6]
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["REDIS_PREFIX"] = f"corrigo-bench-{namespace}"
    os.environ["MEDIA_ROOT"] = str(tmp / "media")
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    os.environ["BENCH_DB_NAME"] = f"corrigo_bench_{namespace}"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _page_jpeg(label: str, number: int) -> bytes:
    """A distinct, scan-sized page (990 × 1400, what the engine sends)."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(f"{label}-{number}")  # noqa: S311
    image = Image.new("RGB", (990, 1400), (244, 244, 240))
    draw = ImageDraw.Draw(image)
    for line in range(30):
        y = 60 + line * 44
        x = 60
        while x < 900:
            width = rng.randint(15, 70)
            draw.line([(x, y), (x + width, y + rng.randint(-4, 4))], fill=(30, 30, 110), width=2)
            x += width + rng.randint(10, 25)
    draw.text((60, 20), f"{label} — page {number}", fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=75)
    return buffer.getvalue()


def _class_create(*, copies: int, pages: int):
    """The typical class (tests/support/typical.py, the one usage.tiers sizes FREE on), on MAX,
    its subject's pages rendered (uploaded minutes before the launch in production)."""
    from accounts.models import User
    from grading.services import subject_pages_get
    from tests.support.typical import typical_copies_add, typical_exam_create
    from usage.services import usage_plan_set
    from usage.tiers import Tier

    teacher = User.objects.create_user(email=f"bench-{time.time_ns()}@college.example", password="x")
    usage_plan_set(user=teacher, tier=Tier.MAX)
    exam = typical_exam_create(owner=teacher)
    typical_copies_add(exam, copies=copies, pages=pages, image=_page_jpeg)
    deadline = time.monotonic() + 120
    while subject_pages_get(exam=exam) is None:  # the render queue's task, enqueued on storing
        if time.monotonic() > deadline:
            raise TimeoutError("the subject's pages were not rendered")
        time.sleep(0.05)
    return teacher, exam


def _wait_finished(exam, timeout: float = 1800) -> float:
    """When the exam's job finished: its own finished_at (the worker's clock, this machine's),
    as a perf_counter reading. Looked for ten times a second: the bench's own queries run on
    the workers' cores, and the instant comes from the job, not from when it was seen."""
    from grading.models import GradingJob

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = GradingJob.objects.filter(exam=exam).order_by("-pk").values("status", "finished_at").first()
        if job is not None and job["status"] != GradingJob.Status.RUNNING:
            now, wall_now = time.perf_counter(), time.time()
            finished = job["finished_at"].timestamp() if job["finished_at"] else wall_now
            return now - max(wall_now - finished, 0.0)
        time.sleep(0.1)
    raise TimeoutError("the grading job did not finish")


def _copies_received(worker) -> int:
    """The copy tasks this grading process has received so far (its JSON log, at INFO: Celery's
    « Task grading.tasks.copy_grade_task[…] received »)."""
    return sum(1 for line in worker.log().splitlines() if "copy_grade_task[" in line and '] received"' in line)


def _load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load={one:.2f},{five:.2f}"


def _xacts() -> int:
    """Transactions committed in the bench database so far (every process's)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def _others_cpu() -> tuple[float, float]:
    """CPU seconds so far of (this process: the scripted provider's threads, which stand in for
    a remote provider, and the wait loop; the PostgreSQL backends serving the bench database)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    postgres = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):  # gone meanwhile
            postgres += _cpu_seconds(pid)
    times = os.times()
    return times.user + times.system, postgres


def _sampled(directory: Path) -> dict[str, float]:
    """The workers' CPU seconds by phase so far (tests/bench/sampler.py), summed over processes."""
    import json

    totals: dict[str, float] = {}
    for path in directory.glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except ValueError:  # being rewritten: the next read has it
            time.sleep(0.05)
            data = json.loads(path.read_text())
        for phase, seconds in data.items():
            totals[phase] = totals.get(phase, 0.0) + seconds
    return totals


def bench_grading(args, tmp: Path, server) -> list[str]:
    from tests.support.servers import celery_worker_start

    env = {
        "CORRIGO_DEMO_MODE": "false",
        "CORRIGO_LLM_TIMEOUT": "60",
        "CONN_MAX_AGE": "600",
        **{
            f"CORRIGO_LLM_{role}_{key}": value
            for role, model in (
                ("DETECTION", "openai/gpt-4o-mini"),
                ("GRADER_A", "openai/gpt-4o"),
                ("GRADER_B", "openai/gpt-4.1-mini"),
            )
            for key, value in (("MODEL", model), ("API_BASE", server.url), ("API_KEY", "sk-bench"))
        },
    }
    os.environ.update(env)
    from django.conf import settings

    settings.CORRIGO_LLM = {
        role.lower(): {"model": os.environ[f"CORRIGO_LLM_{role}_MODEL"], "api_base": server.url, "api_key": "sk-bench"}
        for role in ("DETECTION", "GRADER_A", "GRADER_B")
    }
    sampler_dir = tmp / "sampler"
    sampler_dir.mkdir()
    # As config.workers runs them: --threads copies calling at once, --ahead more prepared.
    slots_env = {"CORRIGO_LLM_CALL_SLOTS": str(2 * args.threads)} if args.ahead else {}
    # Copies a process prepares at once (services.prepare_gate); 0: all its threads together.
    slots_env["CORRIGO_PREPARE_AT_ONCE"] = str(args.prepare)
    workers = [
        celery_worker_start(
            tmp,
            name=f"bench{n}",
            concurrency=args.threads + args.ahead,
            pool="threads",
            extra_args=["-I", "tests.bench.sampler"],
            BENCH_SAMPLER_DIR=str(sampler_dir),
            **env,
            **slots_env,
        )
        for n in range(args.workers)
    ]
    lines: list[str] = []
    try:
        _warm_up(workers, args.threads + args.ahead)
        for copies in args.copies:
            runs = [_graded(args, copies, server, workers, sampler_dir) for _ in range(args.repeat)]
            if args.repeat > 1:
                runs.append([_median_line(copies, runs, latency=args.latency)])
            # The split by phase comes from a run of its own, with the sampler on (it perturbs).
            runs.append(_graded(args, copies, server, workers, sampler_dir, sampled=True))
            for line in (line for run in runs for line in run):
                print(line, flush=True)
                lines.append(line)
    except Exception:
        for worker in workers:
            print(worker.log()[-4000:], file=sys.stderr)
        raise
    finally:
        for worker in workers:
            worker.stop()
    return lines


def _warm_up(workers, threads: int) -> None:
    """Every worker imports litellm (seconds) and opens its connections before the timed runs,
    as long-running workers have: a class of two copies per thread, so that every task thread
    and every call thread (two per task) has opened its database connection (the first timed
    run paid 25–35 ms a copy more than the second, in 4 pairs at load 2–11, when the warm-up
    class was four copies a worker: half the call threads opened their connections in it)."""
    from django.db import transaction

    from grading import services

    teacher, exam = _class_create(copies=len(workers) * threads * 2, pages=1)
    with transaction.atomic():
        services.job_start(exam=exam, user=teacher)
    _wait_finished(exam, timeout=300)


# Issue 18's targets: wall/ideal at these class sizes with 32 provider calls at once of 1 s each
# on 2 cores (the time over the ideal is fixed a class: longer calls meet it more easily), and the
# worker CPU a copy (LLM waits excluded) at every size.
RATIO_TARGETS = {30: 1.10, 300: 1.20}
RATIO_TARGET_CONCURRENCY = 32
RATIO_TARGET_LATENCY = 1.0
CPU_MS_TARGET = 60.0


def _met(value: float, target: float) -> str:
    return "yes" if round(value, 2) <= target else "no"


def _median_line(copies: int, runs: list[list[str]], *, latency: float) -> str:
    """The median of the repeated runs' ratio and CPU per copy (the machine is noisy), and
    whether it meets the targets (the ratio's where one is set for this size, the runs'
    concurrency and the calls' latency)."""

    def figure(run: list[str], name: str) -> float:
        return float(next(part for line in run for part in line.split() if part.startswith(f"{name}=")).split("=")[1])

    ratio = statistics.median(figure(run, "ratio") for run in runs)
    cpu = statistics.median(figure(run, "cpu_ms_per_copy") for run in runs)
    loop = statistics.median(figure(run, "python_loop_ms") for run in runs)
    targets = f" cpu_target={CPU_MS_TARGET:.0f} cpu_met={_met(cpu, CPU_MS_TARGET)}"
    held = figure(runs[0], "concurrency") == RATIO_TARGET_CONCURRENCY and latency == RATIO_TARGET_LATENCY
    if (target := RATIO_TARGETS.get(copies)) is not None and held:
        targets = f" ratio_target={target:.2f} ratio_met={_met(ratio, target)}" + targets
    return (
        f"grading_median copies={copies} runs={len(runs)} ratio={ratio:.2f} cpu_ms_per_copy={cpu:.1f}"
        f" python_loop_ms={loop:.1f}{targets}"
    )


def _graded(args, copies: int, server, workers, sampler_dir: Path, *, sampled: bool = False) -> list[str]:
    """One timed class: the headline lines, or (`sampled`) the split of the CPU by phase alone."""
    from django.db import transaction

    from grading import services
    from grading.models import Copy, ModelAnswer
    from tests.support.llm_server import openai_units

    teacher, exam = _class_create(copies=copies, pages=args.pages)
    server.latency = args.latency
    server.requests.clear()
    server.max_in_flight = 0
    load_before = _load()
    xacts_before = _xacts()
    cpu_before = sum(_cpu_seconds(worker.process.pid) for worker in workers)
    received_before = [_copies_received(worker) for worker in workers]
    own_before, postgres_before = _others_cpu()
    switch = sampler_dir / "on"
    if sampled:
        switch.touch()
        time.sleep(0.3)  # every sampler has read its threads' clocks once
    phases_before = _sampled(sampler_dir)
    started = time.perf_counter()
    t0 = time.monotonic()
    with transaction.atomic():
        services.job_start(exam=exam, user=teacher)
    started_s = time.monotonic() - t0
    ended = _wait_finished(exam)
    time.sleep(0.6)  # the work a copy's end leaves (progress sent late) and the samplers' next write
    cpu = sum(_cpu_seconds(worker.process.pid) for worker in workers) - cpu_before
    split = [_copies_received(worker) - before for worker, before in zip(workers, received_before, strict=True)]
    own_after, postgres_after = _others_cpu()
    xacts = _xacts() - xacts_before
    phases_after = _sampled(sampler_dir)
    switch.unlink(missing_ok=True)
    phases = {name: phases_after.get(name, 0.0) - phases_before.get(name, 0.0) for name in phases_after}
    sampler = phases.pop("sampler", 0.0)
    if os.environ.get("BENCH_SAMPLER_DETAIL"):
        for name, seconds in sorted(phases.items(), key=lambda item: -item[1])[:40]:
            print(f"#   {seconds * 1000 / copies:6.1f} ms/copy  {name}", file=sys.stderr)
        merged: dict[str, float] = {}
        for name, seconds in phases.items():
            merged[name.split("|")[0]] = merged.get(name.split("|")[0], 0.0) + seconds
        phases = merged

    done = Copy.objects.filter(exam=exam, status=Copy.Status.DONE).count()
    if done != copies:
        log = workers[0].log()
        print(f"warning: {done}/{copies} copies done; worker log tail:\n{log[-2000:]}", file=sys.stderr)
    calls = len(server.requests)
    concurrency = args.workers * args.threads * 2
    verified = ModelAnswer.objects.filter(copy__exam=exam, phase="verification").exists()
    chain = 2 if verified else 1
    ideal = max(math.ceil(calls / concurrency), chain) * args.latency
    wall = ended - started
    grading_line = (
        f"grading copies={copies} workers={args.workers} threads={args.threads} ahead={args.ahead}"
        f" prepare={args.prepare} wall_s={wall:.2f}"
        f" ideal_s={ideal:.2f} ratio={wall / ideal:.2f} calls={calls} concurrency={concurrency}"
        f" max_in_flight={server.max_in_flight} split={','.join(map(str, split))}"
        f" {load_before} load_after={_load().removeprefix('load=')}"
    )
    # The samplers' own CPU is not the workers': left out of the figure and printed apart.
    worker_cpu = cpu - sampler
    # The shared cores' speed drifts within a bench (1.5–2× here): measured again after each run.
    cpu_line = (
        f"cpu_ms_per_copy={worker_cpu * 1000 / copies:.1f} copies={copies}"
        f" cpu_ms_per_page={worker_cpu * 1000 / (copies * args.pages):.1f} python_loop_ms={_loop_ms(3):.1f}"
        f" workers_rss_mb={','.join(f'{_rss_mb(worker.process.pid):.0f}' for worker in workers)}"
    )
    # What else the run cost on the same cores (PostgreSQL's backends of the bench database that
    # lived through the run: the workers' persistent connections; Redis is shared, left out).
    others_line = (
        f"cpu_ms_per_copy_beside copies={copies} provider_server={(own_after - own_before) * 1000 / copies:.1f}"
        f" postgres={(postgres_after - postgres_before) * 1000 / copies:.1f}"
    )
    attributed = sum(phases.values())
    split = " ".join(f"{name}={seconds * 1000 / copies:.1f}" for name, seconds in sorted(phases.items()))
    split_line = (
        f"cpu_phases_ms_per_copy copies={copies} {split} unattributed={(worker_cpu - attributed) * 1000 / copies:.1f}"
        f" sampled_run_cpu_ms_per_copy={worker_cpu * 1000 / copies:.1f} sampled_run_ratio={wall / ideal:.2f}"
        f" sampler_ms_per_copy={sampler * 1000 / copies:.1f}"
    )
    if sampled:
        return [split_line]

    # Prefix caching: per model, grading calls in arrival order; copies 2..N.
    odd = [r for r in server.requests if "messages" not in r.body]
    if odd:  # seen once in ~20 runs: told, left out of the prefix figure
        print(f"# {len(odd)} request(s) without messages: {sorted({r.path for r in odd})}", file=sys.stderr)
    grading_calls = [r for r in server.requests if "[TASK:verify]" not in r.text and r.usage and r not in odd]
    cached, static, common = 0, 0, 0
    for model in {r.model for r in grading_calls}:
        calls_of_model = sorted((r for r in grading_calls if r.model == model), key=lambda r: r.started)
        units = [openai_units(r.body["messages"]) for r in calls_of_model]
        common = len(units[0])
        for other in units[1:]:
            same = next((i for i, (a, b) in enumerate(zip(units[0], other, strict=False)) if a != b), common)
            common = min(common, same)
        for record in calls_of_model[1:]:
            cached += record.usage["prompt_tokens_details"]["cached_tokens"]
            static += common
    if os.environ.get("BENCH_TRACE"):
        from .trace import trace_print

        trace_print(requests=server.requests, workers=workers, t0=t0, started_s=started_s, finished_s=wall)
    cache_line = f"prefix_cache_ratio={cached / static if static else 0:.3f} copies={copies}"
    from django.db.models import Sum

    from usage.models import UsageRecord

    spent = UsageRecord.objects.filter(exam_id=exam.pk).aggregate(t=Sum("total_tokens"))["t"] or 0
    sizing_line = (
        f"sizing copies={copies} tokens_per_copy={spent // copies} db_transactions_per_copy={xacts / copies:.0f}"
    )
    print(f"# {done}/{copies} copies done, static prefix ≈ {common} tokens", file=sys.stderr)
    return [grading_line, cpu_line, others_line, cache_line, sizing_line]


def bench_progress(args, tmp: Path) -> str:
    import websockets
    from django.test import Client

    from grading.models import Exam
    from grading.services import progress_send
    from tests.support.servers import daphne_start

    exam = Exam.objects.filter(mode=Exam.Mode.DOUBLE).order_by("-pk").first()
    client = Client()
    client.force_login(exam.owner)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    daphne = daphne_start(tmp)
    samples: list[float] = []

    async def run() -> None:
        url = f"ws://127.0.0.1:{daphne.port}/ws/events/exam-{exam.pk}/"
        headers = {"Cookie": cookie, "Origin": "http://localhost"}
        async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
            await asyncio.sleep(0.3)
            for _ in range(args.samples):
                sent: list[float] = []

                def send(sent: list[float] = sent) -> None:
                    sent.append(time.perf_counter())
                    progress_send(exam=exam)

                await asyncio.gather(asyncio.to_thread(send), ws.recv())
                samples.append((time.perf_counter() - sent[0]) * 1000)

    try:
        asyncio.run(run())
    finally:
        daphne.stop()
    samples.sort()
    p95 = samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)]
    return f"progress p50_ms={statistics.median(samples):.1f} p95_ms={p95:.1f}"


def bench_render(tmp: Path, pages: int = 200) -> str:
    from tests.support.pdfs import scanned_pdf

    path = tmp / "class-scan.pdf"
    path.write_bytes(scanned_pdf(pages))
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tests.bench.render", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def _sizes(text: str) -> list[int]:
    return [int(part) for part in text.replace(",", "/").split("/") if part]


def main() -> None:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description="Corrigo grading engine benchmark")
    parser.add_argument("--copies", type=_sizes, default=[30, 120, 300], help="class sizes, e.g. 30/120/300")
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=cores, help="worker processes (default: the core count)")
    parser.add_argument("--threads", type=int, default=8, help="copies calling at once per worker process")
    parser.add_argument("--ahead", type=int, default=AHEAD, help="more copies per process, prepared ahead (0: none)")
    parser.add_argument(
        "--prepare", type=int, default=PREPARE_AT_ONCE, help="copies a process prepares at once (0: no bound)"
    )
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each class size (a median line when > 1)")
    parser.add_argument(
        "--only",
        choices=["grading", "grid", "export"],
        help="run only this part (grading: the classes; grid: the review grid's server time; export: the 300-copy zip)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="corrigo-bench-") as tmp_name:
        tmp = Path(tmp_name)
        _env_setup(tmp)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.conf import settings
        from django.db import connection

        from tests.support.llm_server import LLMServer

        connection.settings_dict["TEST"].update({"NAME": os.environ["BENCH_DB_NAME"], "MIGRATE": False})
        settings.CORRIGO_DEMO_MODE = False
        old_name = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        server = LLMServer().start()
        print(_machine_line(cores), flush=True)
        try:
            if args.only in (None, "grading"):
                bench_grading(args, tmp, server)
            if args.only is None:
                print(bench_progress(args, tmp), flush=True)
            if args.only in (None, "grid"):
                for line in bench_review_grid(server):
                    print(line, flush=True)
            if args.only in (None, "export"):
                for line in bench_export(server, tmp):
                    print(line, flush=True)
        finally:
            server.stop()
            _sessions_close(connection)
            connection.creation.destroy_test_db(old_name, verbosity=0)
        if args.only is None:
            print(bench_render(tmp), flush=True)


def _loop_ms(runs: int = 5) -> float:
    """How fast this machine runs Python on one core now, so that CPU figures measured on two
    machines (or minutes apart on a shared one) can be compared: the median of `runs` runs of a
    fixed loop (10⁶ squares summed)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        sum(i * i for i in range(1_000_000))
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _machine_line(cores: int) -> str:
    return f"machine cores={cores} python_loop_ms={_loop_ms():.1f} {_load()}"


def _sessions_close(connection) -> None:
    """Closes what still holds the bench database (helper threads' connections)."""
    name = connection.settings_dict["NAME"]
    connection.close()
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )


if __name__ == "__main__":
    main()
