"""The scripted LLM server (real HTTP) and settings pointing every role at it."""

from __future__ import annotations

import pytest

from tests.support.deadlines import scaled
from tests.support.llm_server import LLMServer

MODELS = {"detection": "openai/gpt-4o-mini", "grader_a": "openai/gpt-4o", "grader_b": "openai/gpt-4.1-mini"}


def roles_settings(server: LLMServer, **models: str) -> dict:
    chosen = {**MODELS, **models}
    return {
        role: {
            "model": model,
            "api_base": server.anthropic_url if model.startswith("anthropic/") else server.url,
            "api_key": "sk-test",
        }
        for role, model in chosen.items()
    }


def roles_env(server: LLMServer) -> dict[str, str]:
    """The same configuration as environment variables, for worker subprocesses."""
    # A worker on a loaded machine may take longer than 3 s to get an answer it was sent in
    # milliseconds: the timeout is scaled like the tests' deadlines.
    env = {"CORRIGO_DEMO_MODE": "false", "CORRIGO_LLM_TIMEOUT": f"{scaled(3):.1f}", "CORRIGO_RETRY_BASE_S": "0.05"}
    for role, conf in roles_settings(server).items():
        prefix = f"CORRIGO_LLM_{role.upper()}"
        env |= {
            f"{prefix}_MODEL": conf["model"],
            f"{prefix}_API_BASE": conf["api_base"],
            f"{prefix}_API_KEY": "sk-test",
        }
    return env


@pytest.fixture(scope="session")
def _llm_server_process():
    server = LLMServer(timeout_sleep=5).start()
    yield server
    server.stop()


@pytest.fixture
def llm_server(_llm_server_process, settings):
    """A fresh script and cache on the shared server; every role points at it."""
    server = _llm_server_process
    server.reset()
    server.latency = 0.0
    settings.CORRIGO_DEMO_MODE = False
    settings.CORRIGO_LLM = roles_settings(server)
    settings.CORRIGO_LLM_TIMEOUT = 1.5
    settings.CORRIGO_RETRY_BASE_S = 0
    yield server
    server.reset()


@pytest.fixture
def eager_celery():
    """Tasks run in the calling process (retries included), enqueued on commit."""
    from config.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    # Not propagating: eager retries are replayed by apply() only when the Retry is not raised.
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def french():
    """Messages in French, whatever language an earlier test left active in this thread."""
    from django.utils import translation

    with translation.override("fr"):
        yield


@pytest.fixture
def grade_exam(owner_client, llm_server, eager_celery, django_capture_on_commit_callbacks):
    """Grades an exam's copies through the start view, the engine and the scripted server.

    `points` maps each student to the points its grader gives (one per question); in double
    mode both graders answer the same unless `points_b` says otherwise for that student.
    `answer`: grades_json's other arguments (readings, places…), replaced for a student by
    `each[student]`."""
    from django.urls import reverse

    from tests.factories import copy_with_pages

    from .helpers import from_model, grades_json

    def grade(
        exam,
        points: dict[str, list[float]],
        *,
        points_b: dict[str, list[float]] | None = None,
        each: dict[str, dict] | None = None,
        **answer,
    ):
        for label in points:
            copy_with_pages(exam, pages=1, label=label, text=f"copie de {label}")
        for label, values in points.items():
            mark = f"copie de {label}"
            given_answer = answer | (each or {}).get(label, {})
            if exam.mode == "double":
                given_b = (points_b or {}).get(label, values)
                for model, given in ((MODELS["grader_a"], values), (MODELS["grader_b"], given_b)):
                    is_model = from_model(model)
                    llm_server.script(
                        grades_json(given, **given_answer),
                        match=lambda r, m=mark, is_model=is_model: is_model(r) and m in r["text"],
                        times=2,  # the verification round, when the graders disagree, asks again
                    )
            else:
                llm_server.script(grades_json(values, **given_answer), match=mark)
        with django_capture_on_commit_callbacks(execute=True):
            owner_client.post(reverse("exam_start", args=[exam.pk]))
        exam.refresh_from_db()
        return exam

    return grade
