"""FREE is sized to one class (usage.tiers' docstring): the estimator's figures it was derived
from, the start rule at the boundary, and a class graded on it through the engine."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from grading.models import Copy, ModelAnswer
from grading.services import job_estimate, job_start
from grading.services.estimate import IMAGE_TOKENS, IMAGE_TOKENS_DEFAULT
from tests.grading.conftest import roles_settings
from tests.support.llm_server import IMAGE_TOKENS as SCRIPTED_IMAGE_TOKENS
from tests.support.typical import typical_copies_add, typical_exam_create
from usage.models import UsageRecord
from usage.selectors import usage_summary
from usage.tiers import (
    CLASS_COPIES,
    CLASS_TOKENS,
    FREE_TOKENS,
    MEASURED_COPY_TOKENS,
    TIER_LIMITS,
    TYPICAL_COPY_TOKENS,
    TYPICAL_COPY_WORST,
    Tier,
    copies_in,
    typical_copies_in,
)

pytestmark = pytest.mark.django_db

E, W = TYPICAL_COPY_TOKENS, TYPICAL_COPY_WORST


@pytest.fixture
def production_models(llm_server, settings):
    """The production defaults' providers (gpt-4o and Claude count images differently)."""
    settings.CORRIGO_LLM = roles_settings(llm_server, grader_b="anthropic/claude-sonnet-4-5")
    settings.CORRIGO_LLM_MAX_TOKENS = 4000
    return llm_server


def test_the_typical_copy_figures_are_the_estimators(teacher, production_models):
    exam = typical_exam_create(owner=teacher)
    typical_copies_add(exam, copies=2)
    estimate = job_estimate(exam=exam)
    assert {line.tokens for line in estimate.lines} == {TYPICAL_COPY_TOKENS}
    assert {line.worst for line in estimate.lines} == {TYPICAL_COPY_WORST}


def test_free_is_the_class_figure_rounded_up_to_the_thousand():
    assert CLASS_TOKENS == (CLASS_COPIES - 1) * MEASURED_COPY_TOKENS + W  # the larger per-copy figure
    assert CLASS_TOKENS <= FREE_TOKENS < CLASS_TOKENS + 1000
    assert TIER_LIMITS[Tier.FREE] == FREE_TOKENS
    assert [TIER_LIMITS[tier] // FREE_TOKENS for tier in (Tier.ESSENTIEL, Tier.PRO, Tier.MAX)] == [1, 5, 20]


def test_a_class_in_which_every_copy_is_verified_fits_exactly_and_the_31st_does_not():
    assert copies_in(FREE_TOKENS, tokens=MEASURED_COPY_TOKENS, worst=W) == CLASS_COPIES
    assert copies_in(CLASS_TOKENS, tokens=MEASURED_COPY_TOKENS, worst=W) == 30  # exactly at the figure
    assert copies_in(CLASS_TOKENS - 1, tokens=MEASURED_COPY_TOKENS, worst=W) == 29  # one token short
    assert copies_in(CLASS_TOKENS + MEASURED_COPY_TOKENS, tokens=MEASURED_COPY_TOKENS, worst=W) == 31


def test_by_the_estimator_free_starts_45_typical_copies_and_leaves_the_46th_for_later(
    teacher, production_models, django_capture_on_commit_callbacks
):
    exam = typical_exam_create(owner=teacher)
    typical_copies_add(exam, copies=46)
    estimate = job_estimate(exam=exam)
    assert usage_summary(user=teacher).remaining == FREE_TOKENS
    assert estimate.fitting(FREE_TOKENS) == typical_copies_in(FREE_TOKENS) == 45
    # The start rule at its boundary: n copies need n × estimate + one margin up to the worst case.
    exactly_30 = 29 * E + W
    assert (estimate.fitting(exactly_30 - 1), estimate.fitting(exactly_30), estimate.fitting(exactly_30 + E)) == (
        29,
        30,
        31,
    )
    job = job_start(exam=exam, user=teacher, partial=True)
    assert job.total_copies == 45
    assert job.estimated_tokens == 45 * E + (W - E) <= FREE_TOKENS
    assert list(exam.copies.filter(status=Copy.Status.DEFERRED).values_list("student_label", flat=True)) == ["Élève 46"]


@pytest.mark.django_db(transaction=True)
def test_a_class_of_30_is_graded_on_free_every_copy_verified_as_measured(teacher, production_models, eager_celery):
    """The measurement behind MEASURED_COPY_TOKENS, reproduced through the engine: every copy of
    the class done on a fresh FREE account, (nearly) each through the verification round, and
    what a copy spends, recounted at the providers' image counts, within 1 % of the figure."""
    exam = typical_exam_create(owner=teacher)
    typical_copies_add(exam, copies=CLASS_COPIES)
    job = job_start(exam=exam, user=teacher)
    assert job.total_copies == CLASS_COPIES
    assert exam.copies.filter(status=Copy.Status.DONE).count() == CLASS_COPIES
    verified = set(ModelAnswer.objects.filter(copy__exam=exam, phase="verification").values_list("copy_id", flat=True))
    assert len(verified) >= CLASS_COPIES - 1  # the scripted graders disagree on (nearly) every copy
    spent = UsageRecord.objects.filter(exam_id=exam.pk).aggregate(t=Sum("total_tokens"))["t"]
    assert spent <= FREE_TOKENS and usage_summary(user=teacher).tokens_used == spent
    # Each call sent the copy's pages and the subject's; the scripted server counts 765 an image.
    recount = 0
    for request in production_models.requests:
        images = sum(_is_image(part) for message in request.body.get("messages", []) for part in _parts(message))
        provider = IMAGE_TOKENS["anthropic"] if request.path.endswith("/messages") else IMAGE_TOKENS_DEFAULT
        recount += images * (provider - SCRIPTED_IMAGE_TOKENS)
    per_copy = (spent + recount) / CLASS_COPIES
    assert abs(per_copy - MEASURED_COPY_TOKENS) <= MEASURED_COPY_TOKENS / 100


def _parts(message: dict) -> list:
    content = message.get("content")
    return content if isinstance(content, list) else []


def _is_image(part) -> bool:
    return isinstance(part, dict) and part.get("type") in ("image_url", "image")
