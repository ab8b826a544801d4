"""Providers' rate limits: the shared limiter in Redis (core.ratelimit) at exactly its limits and
one over, across processes, and the gateway honouring a 429's Retry-After so that a copy waits
for the provider instead of failing (scripted server over real HTTP)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings

from core.ratelimit import Limits, ratelimit_block, ratelimit_settle, ratelimit_try
from grading import services
from grading.engine.config import RoleConfig
from grading.engine.errors import TransientLLMError
from grading.engine.llm import llm_complete, retry_after_seconds
from grading.models import Copy, GradingJob
from tests.factories import copy_with_pages, exam_with_bareme
from tests.support.deadlines import scaled
from tests.support.servers import service_env

from .helpers import grades_json

MESSAGES = [{"role": "user", "content": "Bonjour"}]


def _key() -> str:
    """A model of its own per test: the limiter's state lives in Redis for a minute."""
    return f"openai/limited-{uuid.uuid4().hex[:8]}"


def test_exactly_the_requests_per_minute_pass_at_once_and_one_more_waits():
    key, limits = _key(), Limits(requests=3)
    assert [ratelimit_try(key, limits=limits, tokens=0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = ratelimit_try(key, limits=limits, tokens=0)
    assert 19.0 < wait <= 20.0  # the next one frees 60 s / 3 after the first
    # A refused request takes nothing: it is still refused, for the same reason.
    assert 19.0 < ratelimit_try(key, limits=limits, tokens=0) <= 20.0


def test_exactly_the_tokens_per_minute_pass_and_one_token_more_waits():
    key, limits = _key(), Limits(tokens=1000)
    assert ratelimit_try(key, limits=limits, tokens=600) == 0.0
    assert ratelimit_try(key, limits=limits, tokens=400) == 0.0  # exactly 1 000 in the minute
    wait = ratelimit_try(key, limits=limits, tokens=1)
    assert 0.0 < wait <= 0.06  # one token frees 60 s / 1 000 later
    # The answer's real count gives back what the estimate took too much.
    ratelimit_settle(key, limits=limits, delta_tokens=-400)
    assert ratelimit_try(key, limits=limits, tokens=400) == 0.0
    assert ratelimit_try(key, limits=limits, tokens=1) > 0.0


def test_a_request_needs_room_in_both_limits():
    key, limits = _key(), Limits(requests=10, tokens=100)
    assert ratelimit_try(key, limits=limits, tokens=100) == 0.0
    assert ratelimit_try(key, limits=limits, tokens=1) > 0.0  # requests left, tokens not
    assert ratelimit_try(key, limits=limits, tokens=0) == 0.0  # the second request of ten


CONTEND = """
import sys, django
django.setup()
from core.ratelimit import Limits, ratelimit_try
import time
key, limit, tries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
first = time.time()
granted = sum(ratelimit_try(key, limits=Limits(requests=limit), tokens=0) == 0.0 for _ in range(tries))
print(granted, first, time.time())
"""


def test_processes_share_the_limit_and_never_take_more_than_it_together():
    key = _key()
    env = service_env()
    processes = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", CONTEND, key, "25", "20"],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    answers = [process.communicate(timeout=scaled(60))[0].split() for process in processes]
    granted = sum(int(answer[0]) for answer in answers)
    # 60 tries of 3 processes for 25 requests a minute: 25, plus what the bucket gave back while
    # the tries ran (one request every 2.4 s; the processes start apart on a loaded machine).
    elapsed = max(float(a[2]) for a in answers) - min(float(a[1]) for a in answers)
    assert 25 <= granted <= 25 + int(elapsed * 25 / 60), (granted, elapsed)


def test_a_block_holds_for_every_caller_until_it_ends():
    key = _key()
    ratelimit_block(key, seconds=30)
    assert 29.0 < ratelimit_try(key, limits=Limits(), tokens=0) <= 30.0
    ratelimit_block(key, seconds=5)  # a shorter block does not shorten the longer one
    assert 29.0 < ratelimit_try(key, limits=Limits(), tokens=0) <= 30.0


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_in_seconds_or_milliseconds(headers, seconds):
    assert retry_after_seconds(headers) == seconds


def test_retry_after_as_an_http_date():
    from email.utils import formatdate

    assert 8.0 < retry_after_seconds({"retry-after": formatdate(time.time() + 10, usegmt=True)}) <= 10.0


def test_a_429_is_asked_again_after_its_retry_after(llm_server):
    config = RoleConfig(role="grader_a", model=_key(), api_base=llm_server.url, api_key="sk-test")
    llm_server.script(fault="429", retry_after="2")

    result = llm_complete(config=config, messages=MESSAGES)

    assert result.content
    assert [r.fault for r in llm_server.requests] == ["429", None]
    first, second = llm_server.requests
    assert second.started - first.ended >= 2.0  # not before the provider said


def test_a_429_that_would_wait_past_the_allowed_wait_is_a_transient_error(llm_server, settings):
    settings.CORRIGO_RATE_LIMIT_MAX_WAIT_S = 10
    config = RoleConfig(role="grader_a", model=_key(), api_base=llm_server.url, api_key="sk-test")
    llm_server.script(fault="429", retry_after="11")
    with pytest.raises(TransientLLMError):
        llm_complete(config=config, messages=MESSAGES)
    assert len(llm_server.requests) == 1


def test_a_model_over_its_limit_waits_for_room_instead_of_calling(llm_server, settings):
    model = _key()
    settings.CORRIGO_RATE_LIMITS = {model: (2, 0)}
    settings.CORRIGO_RATE_LIMIT_MAX_WAIT_S = 5
    config = RoleConfig(role="grader_a", model=model, api_base=llm_server.url, api_key="sk-test")
    llm_complete(config=config, messages=MESSAGES)
    llm_complete(config=config, messages=MESSAGES)
    # The third request of the minute would wait 30 s, more than allowed: it is not sent.
    with pytest.raises(TransientLLMError):
        llm_complete(config=config, messages=MESSAGES)
    assert len(llm_server.requests) == 2


@pytest.mark.django_db
@pytest.mark.usefixtures("french")
def test_a_copy_waits_through_more_429s_than_its_retries_and_is_graded(
    llm_server, eager_celery, teacher, django_capture_on_commit_callbacks
):
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    copy = copy_with_pages(exam, pages=1)
    # More refusals than the task's retry budget (6 retries): they are waits, not failures.
    llm_server.script(fault="429", retry_after="0.1", times=9)
    llm_server.script(grades_json([1, 2]))

    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_start(exam=exam, user=teacher)

    copy.refresh_from_db()
    assert copy.status == Copy.Status.DONE, copy.failure_reason
    assert [r.fault for r in llm_server.requests] == ["429"] * 9 + [None]
    assert GradingJob.objects.get(pk=job.pk).status == GradingJob.Status.FINISHED
