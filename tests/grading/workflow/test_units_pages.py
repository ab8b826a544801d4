"""Teachers read their usage in copies and money in euros (issue 16, item 1), in French and in
English, on every page that shows it: the exam's cost after grading, the dashboard, the copy's
regrade estimate, the live progress and the job-finished email. The exam is graded through
the engine and the scripted server; the euros are the ledger's dollars at USD_EUR_RATE."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import translation

from grading.selectors import progress_html
from tests.factories import copy_with_pages, exam_with_bareme
from usage.selectors import usage_exam_cost

from .classes import class_imported, copies_graded, copies_uploaded_read, exam_for_class

pytestmark = pytest.mark.django_db


@pytest.fixture
def graded(teacher, grade_exam, settings):
    settings.USD_EUR_RATE = Decimal("0.5")  # the operator's rate, easy to check by hand
    exam = exam_with_bareme(owner=teacher, questions=2, title="Contrôle de fractions")
    return grade_exam(exam, {"Léa": [1, 2], "Hugo": [3, 4]})


def _as(client, teacher, language: str, url: str) -> str:
    teacher.language = language
    teacher.save(update_fields=["language"])
    return html.unescape(client.get(url).content.decode())


def _euros(usd: Decimal, language: str, digits: int = 2) -> str:
    """The amount as the pages write it: below half the last digit shown, « < 0,01 € »."""
    euros, last = usd * Decimal("0.5"), Decimal(1).scaleb(-digits)
    below = 0 < euros < last / 2
    amount = f"{last if below else euros:.{digits}f}"
    text = f"{amount.replace('.', ',')}\xa0€" if language == "fr" else f"€{amount}"
    return f"<\xa0{text}" if below else text


def test_the_exams_cost_reads_in_euros_per_copy_with_tokens_beside(owner_client, teacher, graded):
    cost = usage_exam_cost(exam_id=graded.pk)
    total, tokens = cost["total"]["total_cost"], cost["total"]["total_tokens"]
    assert cost["copies"] == 2 and total > 0
    url = reverse("exam_detail", args=[graded.pk])
    page = _as(owner_client, teacher, "fr", url)
    per_copy_fr = f"{_euros(total, 'fr')} pour 2 copies, soit {_euros(total / 2, 'fr')} par copie."
    assert per_copy_fr in page
    assert f"≈ {tokens // 2:,} jetons par copie".replace(",", "\u202f") in page or (
        f"≈ {tokens // 2:,} jetons par copie".replace(",", "\xa0") in page
    )
    assert _euros(total, "fr", 4) in page  # the table, per phase and in total
    assert " $" not in page
    page = _as(owner_client, teacher, "en", url)
    assert f"{_euros(total, 'en')} for 2 copies, i.e. {_euros(total / 2, 'en')} per copy." in page
    assert f"≈ {tokens // 2:,} tokens per copy" in page
    assert "$" not in page.replace("$(", "")


def test_the_dashboard_and_the_regrade_estimate_read_in_euros(owner_client, teacher, graded):
    total = usage_exam_cost(exam_id=graded.pk)["total"]["total_cost"]
    assert _euros(total, "fr") in _as(owner_client, teacher, "fr", reverse("dashboard"))
    assert _euros(total, "en") in _as(owner_client, teacher, "en", reverse("dashboard"))
    copy = graded.copies.get(student_label="Léa")
    page = _as(owner_client, teacher, "fr", reverse("copy_detail", args=[copy.pk]))
    assert "\xa0€ (≈ " in page and " jetons)" in page
    page = _as(owner_client, teacher, "en", reverse("copy_detail", args=[copy.pk]))
    assert "(≈ " in page and " tokens)" in page and "€" in page


def test_the_progress_and_the_email_read_in_euros_and_count_the_waiting_copies(teacher, graded):
    total = usage_exam_cost(exam_id=graded.pk)["total"]["total_cost"]
    (sent,) = mail.outbox
    assert f"Coût total de cet examen : {_euros(total, 'fr')}." in sent.body
    waiting = copy_with_pages(graded, pages=1, label="Zoé")
    waiting.status = "deferred"
    waiting.save(update_fields=["status"])
    for language, cost, deferred in (
        ("fr", _euros(total, "fr", 4), "Sur les 3 copies de l'examen : 2 corrigées, 1 en attente d'allocation."),
        ("en", _euros(total, "en", 4), "Of the exam's 3 copies: 2 graded, 1 waiting for allowance."),
    ):
        graded.owner.language = language  # the fragment pushed by a worker speaks the owner's
        graded.owner.save(update_fields=["language"])
        fragment = html.unescape(progress_html(exam=graded, oob=False))
        assert f'<span class="progress-cost">{cost}</span>' in fragment
        assert deferred in fragment


def test_the_job_finished_email_speaks_english_with_euros(teacher, grade_exam, settings):
    settings.USD_EUR_RATE = Decimal("0.5")
    teacher.language = "en"
    teacher.save(update_fields=["language"])
    exam = grade_exam(exam_with_bareme(owner=teacher, questions=1, title="Fractions"), {"Léa": [1]})
    total = usage_exam_cost(exam_id=exam.pk)["total"]["total_cost"]
    (sent,) = mail.outbox
    with translation.override("en"):
        assert f"Total cost of this exam: {_euros(total, 'en')}." in sent.body


def test_a_cost_too_small_for_cents_reads_below_a_cent_never_zero(owner_client, teacher, graded, settings):
    # A copy graded by a cheap model costs a fraction of a cent: « 0,00 € par copie » beside a
    # table of non-zero figures read as if grading were free.
    total = usage_exam_cost(exam_id=graded.pk)["total"]["total_cost"]
    settings.USD_EUR_RATE = Decimal("0.004") / total  # the whole exam: 0.004 €, 0.002 € a copy
    url = reverse("exam_detail", args=[graded.pk])
    page = _as(owner_client, teacher, "fr", url)
    assert "<\xa00,01\xa0€ pour 2 copies, soit <\xa00,01\xa0€ par copie." in page
    assert "0,0040\xa0€" in page  # the table's four decimals show it
    assert "0,00\xa0€" not in page
    assert "< €0.01 for 2 copies, i.e. < €0.01 per copy." in _as(owner_client, teacher, "en", url).replace("\xa0", " ")
    settings.USD_EUR_RATE = Decimal("0.012") / total  # half a cent a copy: a cent
    assert "0,01\xa0€ pour 2 copies, soit 0,01\xa0€ par copie." in _as(owner_client, teacher, "fr", url)


def test_the_cost_per_copy_counts_the_graded_copies_not_the_names_read(owner_client, teacher, llm_server, eager_tasks):
    # Reading each copy's name is a call of its own: before grading, « 0,01 € pour 2 copies,
    # soit … par copie » priced a grading that had not happened.
    exam = exam_for_class(owner_client, class_imported(owner_client, roster="DUBOIS Chloé\nMARTIN Lucas\n"))
    copies_uploaded_read(
        owner_client, exam, {"a.pdf": ("Chloé Dubois", "COPIE-A"), "b.pdf": ("Lucas Martin", "COPIE-B")}
    )
    assert usage_exam_cost(exam_id=exam.pk)["phases"].keys() == {"detection"}
    url = reverse("exam_detail", args=[exam.pk])
    page = _as(owner_client, teacher, "fr", url)
    assert "Coût de la correction" in page and "par copie" not in page  # the calls' table only
    copies_graded(exam, teacher, llm_server, {"COPIE-A": [3, 5], "COPIE-B": [2, 4]})
    # A latecomer's copy, its name read: not graded, not counted.
    copies_uploaded_read(owner_client, exam, {"c.pdf": ("Chloé Dubois", "COPIE-C")})
    assert usage_exam_cost(exam_id=exam.pk)["copies"] == 2
    assert " pour 2 copies, soit " in _as(owner_client, teacher, "fr", url)
