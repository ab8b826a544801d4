"""The review grid's server time: an exam of N copies × Q questions graded through the engine
(in-process, eager tasks, the scripted server's demo answers), then its review page asked
through Django's test client (request → view → selectors → template → response).

Prints `review_grid_ms=<median> copies=N questions=Q queries=<count> runs=<n>` per size.
"""

from __future__ import annotations

import statistics
import time
from decimal import Decimal

SIZES = ((35, 10), (300, 20))
RUNS = 5


def _graded_exam(*, copies: int, questions: int):
    from django.core.files.base import ContentFile
    from django.db import transaction

    from accounts.models import User
    from config.celery import app
    from grading import services
    from grading.models import Copy, Exam, Page, Question
    from tests.factories import jpeg_bytes
    from usage.services import usage_plan_set
    from usage.tiers import Tier

    teacher = User.objects.create_user(email=f"grid-{time.time_ns()}@college.example", password="x")
    usage_plan_set(user=teacher, tier=Tier.MAX)
    exam = Exam.objects.create(owner=teacher, title=f"Grille {copies} × {questions}", rounding_step=Decimal("0.25"))
    for order in range(questions):
        Question.objects.create(
            exam=exam,
            order=order,
            label=f"Exercice {order + 1}",
            max_points=Decimal(2 + order % 5),
            criteria="Méthode, résultat exact, justification.",
        )
    image = jpeg_bytes("copie")
    for number in range(1, copies + 1):
        copy = Copy.objects.create(exam=exam, student_label=f"Élève {number:03d}")
        page = Page(copy=copy, index=1, width=200, height=280, text=f"copie {number}")
        page.image.save("p.jpg", ContentFile(image), save=False)
        page.save()
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with transaction.atomic():
            services.job_start(exam=exam, user=teacher)
    finally:
        app.conf.task_always_eager = previous
    done = exam.copies.filter(status=Copy.Status.DONE).count()
    if done != copies:
        raise RuntimeError(f"{done}/{copies} copies graded")
    return teacher, exam


def bench_review_grid(server, sizes=SIZES, runs: int = RUNS) -> list[str]:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    settings.CORRIGO_LLM = {
        role: {"model": model, "api_base": server.url, "api_key": "sk-bench"}
        for role, model in (
            ("detection", "openai/gpt-4o-mini"),
            ("grader_a", "openai/gpt-4o"),
            ("grader_b", "openai/gpt-4.1-mini"),
        )
    }
    server.latency = 0.0
    lines = []
    for copies, questions in sizes:
        teacher, exam = _graded_exam(copies=copies, questions=questions)
        client = Client(HTTP_HOST="localhost")
        client.force_login(teacher)
        url = reverse("exam_review", args=[exam.pk])
        client.get(url)  # warm: templates loaded and compiled, translations read
        samples = []
        for _ in range(runs):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                samples.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"review page answered {response.status_code}")
        lines.append(
            f"review_grid_ms={statistics.median(samples):.0f} copies={copies} questions={questions}"
            f" queries={len(queries)} runs={runs} min_ms={min(samples):.0f}"
        )
    return lines
