"""A school's teacher is offered no plan anywhere (issue 16, item 4): the exam page, the usage
bar, the pricing page and the emails say « offert par <école> » and, at the limit, « Contactez
l'administrateur de votre établissement » with the admin's email — never a checkout, « Passer à
une offre supérieure » or « Voir les offres ». Through the real views, the engine and the
scripted LLM server; a teacher without a school still sees the plans (the contrast)."""

from __future__ import annotations

import html

import pytest
from django.core import mail
from django.urls import reverse

from grading.models import Copy
from grading.services.holds import quota_message
from tests.factories import copy_with_pages, exam_with_bareme
from tests.grading.helpers import room_for

pytestmark = pytest.mark.django_db

UPSELLS = (
    "Passer à une offre supérieure",
    "Voir les offres",
    "Upgrade your plan",
    "See the plans",
    "/billing/checkout/",
)


@pytest.fixture
def exam(teacher):
    exam = exam_with_bareme(owner=teacher, questions=2, title="Contrôle de fractions")
    for name in ("Ada", "Béa", "Cid", "Dan", "Eve"):
        copy_with_pages(exam, pages=1, label=name)
    return exam


def _pool_leaves(school, exam, copies: int) -> None:
    """The operator sets the school's pool to what `copies` copies of the exam take, exactly."""
    school.allowance_tokens = room_for(exam, copies)
    school.save(update_fields=["allowance_tokens"])


def _page(client, teacher, url, language="fr", method="get", data=None) -> str:
    teacher.language = language
    teacher.save(update_fields=["language"])
    response = getattr(client, method)(url, data or {})
    return html.unescape(response.content.decode())


@pytest.mark.parametrize(
    ("language", "note", "contact"),
    [
        (
            "fr",
            "L'allocation de Lycée Victor-Hugo permet de corriger 2 copies sur 5 : les 3 autres attendront",
            "Contactez l'administrateur de votre établissement",
        ),
        (
            "en",
            "Lycée Victor-Hugo's allowance can grade 2 copies out of 5: the 3 others will wait in line",
            "Contact your school's administrator",
        ),
    ],
)
def test_the_exam_page_at_the_limit_sends_a_school_teacher_to_the_schools_admin(
    owner_client, school, school_teacher, exam, llm_server, language, note, contact
):
    _pool_leaves(school, exam, 2)
    page = _page(owner_client, school_teacher, reverse("exam_detail", args=[exam.pk]), language)
    assert note in page
    assert contact in page and "mailto:direction@lycee-hugo.example" in page
    assert "Offert par Lycée Victor-Hugo" in page or "Offered by Lycée Victor-Hugo" in page  # the bar
    for upsell in UPSELLS:
        assert upsell not in page

    # A start that does not fit: the refusal names the admin, not a plan.
    page = _page(owner_client, school_teacher, reverse("exam_start", args=[exam.pk]), language, "post")
    assert 'data-testid="quota-error"' in page
    assert contact in page
    for upsell in UPSELLS:
        assert upsell not in page


def test_a_teacher_without_a_school_is_still_offered_the_plans(owner_client, teacher, exam, llm_server, settings):
    from tests.factories import allowance_leave

    settings.BILLING_ENABLED = True
    allowance_leave(teacher, room_for(exam, 2))
    page = _page(owner_client, teacher, reverse("exam_start", args=[exam.pk]), "fr", "post")
    assert "Passer à une offre supérieure" in page and "Voir les offres" in page
    assert "Contactez l'administrateur" not in page


def test_the_waiting_copies_and_the_email_name_the_school_never_a_plan(
    owner_client,
    school,
    school_teacher,
    exam,
    llm_server,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    _pool_leaves(school, exam, 2)
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("exam_start", args=[exam.pk]), {"partial": "1"})
    assert exam.copies.filter(status=Copy.Status.DEFERRED).count() == 3
    page = _page(owner_client, school_teacher, reverse("exam_detail", args=[exam.pk]))
    assert "3 copies attendent que l'allocation de Lycée Victor-Hugo le permette" in page
    assert "changement d'offre" not in page
    for upsell in UPSELLS:
        assert upsell not in page
    page = _page(owner_client, school_teacher, reverse("exam_detail", args=[exam.pk]), "en")
    assert "3 copies are waiting for Lycée Victor-Hugo's allowance" in page

    [finished] = [m for m in mail.outbox if "Correction terminée" in m.subject]
    assert "3 copies attendent que l'allocation de Lycée Victor-Hugo le permette" in finished.body
    assert "offre" not in finished.body.replace("offert", "")


def test_a_copy_stopped_by_the_schools_pool_names_its_admin(school_teacher, teacher, settings):
    from django.utils import translation

    with translation.override("fr"):
        assert quota_message(school_teacher) == (
            "Allocation de Lycée Victor-Hugo épuisée : contactez l'administrateur de votre établissement "
            "(direction@lycee-hugo.example), puis relancez la copie."
        )


def test_the_invoices_page_offers_a_school_teacher_no_plan(client, school_teacher, settings):
    settings.BILLING_ENABLED = True
    client.force_login(school_teacher)
    page = html.unescape(client.get(reverse("billing_invoices")).content.decode())
    assert "Choisir une offre" not in page


@pytest.mark.parametrize(
    ("language", "note"),
    [
        ("fr", "L'allocation de Lycée Victor-Hugo permet de corriger 1 copie sur 5 : les 4 autres attendront"),
        ("en", "Lycée Victor-Hugo's allowance can grade 1 copy out of 5: the 4 others will wait in line"),
    ],
)
def test_room_for_exactly_one_copy_says_one_copy(
    owner_client, school, school_teacher, exam, llm_server, language, note
):
    _pool_leaves(school, exam, 1)
    page = _page(owner_client, school_teacher, reverse("exam_detail", args=[exam.pk]), language)
    assert note in page
    assert "Corriger la copie possible" in page or "Grade the possible copy" in page


def test_room_for_exactly_one_copy_of_ones_own_allowance_says_one_copy(owner_client, teacher, exam, llm_server):
    from tests.factories import allowance_leave

    allowance_leave(teacher, room_for(exam, 2))
    page = _page(owner_client, teacher, reverse("exam_detail", args=[exam.pk]))
    assert "Votre allocation permet de corriger 2 copies sur 5 : les 3 autres attendront" in page
    allowance_leave(teacher, room_for(exam, 1))
    page = _page(owner_client, teacher, reverse("exam_detail", args=[exam.pk]))
    assert "Votre allocation permet de corriger 1 copie sur 5 : les 4 autres attendront" in page
