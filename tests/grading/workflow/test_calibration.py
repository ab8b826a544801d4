"""The calibration round through its views, the engine and the scripted server: the teacher
picks copies (or lets Corrigo spread them over the class), grades them blind, the AI grades
the same copies in a metered job, and the figures compare both; the teacher's grades stay the
final ones, also through the bulk run, a partial launch and a second round."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from grading import selectors, services
from grading.errors import WorkflowError
from grading.models import Calibration, CalibrationGrade, Copy, Exam, Grade, GradeEdit, GradingJob
from grading.services.estimate import reservation_for
from tests.factories import allowance_leave, copy_with_pages, exam_with_bareme
from tests.grading.helpers import grades_json
from tests.support.counts import tokens
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db

NAMES = ["Abel", "Basile", "Chloé", "Diane", "Emma", "Félix", "Gaspard", "Hugo", "Inès", "Jade"]


def _text(response) -> str:
    """The page's words, tags left out."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


@pytest.fixture
def exam(teacher):
    # Two questions out of 4 and 6, step 0.5; ten copies in upload order.
    exam = exam_with_bareme(owner=teacher, questions=2, title="Fractions")
    for name in NAMES:
        copy_with_pages(exam, pages=1, label=name, text=f"copie de {name}")
    return exam


def _script(llm_server, points: dict[str, list[float]]) -> None:
    for name, values in points.items():
        llm_server.script(
            grades_json(
                values,
                readings=[f"LECTURE-IA {name} q{n}" for n in (1, 2)],
                reasonings=[f"RAISON-IA {name} q{n}" for n in (1, 2)],
            ),
            match=f"copie de {name}",
        )


def _grades_form(calibration: Calibration, points: dict[str, list[str]]) -> dict[str, str]:
    questions = list(calibration.exam.questions.all())
    form = {}
    for copy in calibration.copies.all():
        for question, value in zip(questions, points[copy.student_label], strict=True):
            form[f"p-{copy.pk}-{question.pk}"] = value
    return form


def _submit(client, exam, points, capture):
    calibration = Calibration.objects.get(exam=exam)
    with capture(execute=True):
        return client.post(reverse("calibration_submit", args=[exam.pk]), _grades_form(calibration, points))


def test_corrigo_spreads_the_default_three_copies_over_the_class(owner_client, exam, llm_server):
    page = owner_client.get(reverse("exam_detail", args=[exam.pk]))
    assert "Avant de tout corriger : un tour de calibration (facultatif)" in _text(page)
    assert 'name="count" value="3"' in page.text
    response = owner_client.post(reverse("calibration_create", args=[exam.pk]), {"count": "3"})
    assert response.status_code == 302 and response.url == reverse("calibration_detail", args=[exam.pk])
    calibration = Calibration.objects.get(exam=exam)
    # The middle of each third of the class: the 2nd, 6th and 9th of ten.
    assert sorted(calibration.copies.values_list("student_label", flat=True)) == ["Basile", "Félix", "Inès"]
    assert calibration.status == Calibration.Status.TEACHER


def test_the_teacher_may_tick_the_copies(owner_client, exam, llm_server):
    ids = list(exam.copies.filter(student_label__in=["Abel", "Jade"]).values_list("pk", flat=True))
    owner_client.post(reverse("calibration_create", args=[exam.pk]), {"count": "3", "copy": ids})
    calibration = Calibration.objects.get(exam=exam)
    assert sorted(calibration.copies.values_list("student_label", flat=True)) == ["Abel", "Jade"]


@pytest.mark.parametrize(("count", "created"), [("0", False), ("1", True), ("10", True), ("11", False), ("x", False)])
def test_the_number_of_copies_is_between_one_and_the_copies_ready(owner_client, exam, llm_server, count, created):
    response = owner_client.post(reverse("calibration_create", args=[exam.pk]), {"count": count}, follow=True)
    assert Calibration.objects.filter(exam=exam).exists() is created
    if not created:
        text = _text(response)
        assert "Choisissez entre 1 et 10 copies." in text or "Saisissez un nombre de copies, par exemple 3." in text


def test_blind_no_ai_grade_exists_or_shows_until_the_teacher_submits(owner_client, exam, llm_server, teacher):
    # A run started and cancelled before any copy was graded: cancelled copies, never graded.
    owner_client.post(reverse("exam_start", args=[exam.pk]))
    owner_client.post(reverse("exam_cancel", args=[exam.pk]))
    owner_client.post(reverse("calibration_create", args=[exam.pk]), {"count": "3"})
    calibration = Calibration.objects.get(exam=exam)
    _script(llm_server, {name: [1, 1] for name in NAMES})

    page = owner_client.get(reverse("calibration_detail", args=[exam.pk]))
    assert page.text.count('inputmode="decimal"') == 3 * 2
    assert "LECTURE-IA" not in page.text and "RAISON-IA" not in page.text
    assert "Ensuite, l'IA corrige ces 3 copies : coût estimé" in _text(page)
    # Set aside: the bulk run's estimate leaves them out, a start does not take them, and
    # « Corriger à nouveau » is refused.
    detail = owner_client.get(reverse("exam_detail", args=[exam.pk]))
    assert detail.context["estimate"].copies == 7
    assert "3 copies attendent vos notes" in _text(detail)
    assert detail.context["steps"].grading.detail == "7 copies prêtes à corriger. 3 mises de côté pour la calibration."
    job = services.job_start(exam=exam, user=teacher)  # its tasks are not run: what it takes is the point
    held = Copy.objects.filter(calibrations=calibration)
    assert job.total_copies == 7 and not held.filter(job=job).exists()
    assert set(held.values_list("status", flat=True)) == {Copy.Status.CANCELLED}
    with pytest.raises(WorkflowError, match="attend vos notes de calibration"):
        services.copy_rerun(copy=held.get(student_label="Basile"))
    assert not Grade.objects.filter(copy__in=held).exists()
    assert llm_server.requests == []


def test_wrong_or_missing_grades_store_nothing_and_keep_what_was_typed(
    owner_client, exam, llm_server, django_capture_on_commit_callbacks
):
    owner_client.post(reverse("calibration_create", args=[exam.pk]), {"count": "2"})
    points = {"Chloé": ["4,5", "3"], "Hugo": ["1,25", ""]}  # over 4, off the 0.5 step, missing
    response = _submit(owner_client, exam, points, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    text = _text(response)
    assert "3 notes sont à corriger : rien n'a été enregistré." in text
    assert "La note doit être entre 0 et 4." in text
    assert "La note doit être un multiple de 0,5." in text
    assert 'value="4,5"' in response.text and 'value="1,25"' in response.text
    assert not CalibrationGrade.objects.exists() and not GradingJob.objects.exists()
    assert Calibration.objects.get(exam=exam).status == Calibration.Status.TEACHER
    assert llm_server.requests == []


def test_a_round_the_allowance_cannot_take_stores_nothing(
    owner_client, teacher, exam, llm_server, django_capture_on_commit_callbacks
):
    owner_client.post(reverse("calibration_create", args=[exam.pk]), {"count": "2"})
    calibration = Calibration.objects.get(exam=exam)
    allowance_leave(teacher, services.calibration_estimate(calibration=calibration).reservation - 1)
    response = _submit(
        owner_client, exam, {"Chloé": ["2", "3"], "Hugo": ["1", "5"]}, django_capture_on_commit_callbacks
    )
    assert response.status_code == 200 and "Allocation insuffisante" in _text(response)
    assert not CalibrationGrade.objects.exists() and not GradingJob.objects.exists()
    assert 'value="5"' in response.text


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("left", [0, 1, 2, 1_234])
def test_the_tokens_left_under_the_round_agree_with_their_count(
    owner_client, teacher, exam, llm_server, language, left
):
    owner_client.post(reverse("calibration_create", args=[exam.pk]), {"count": "2"})
    allowance_leave(teacher, left)
    teacher.language = language
    teacher.save(update_fields=["language"])
    page = html.unescape(owner_client.get(reverse("calibration_detail", args=[exam.pk])).text)
    expected = {"fr": f"Il vous reste {tokens(left, language)}.", "en": f"You have {tokens(left, language)} left."}
    assert expected[language] in page


def test_the_round_compares_the_teachers_grades_with_the_ais(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    owner_client.post(reverse("calibration_create", args=[exam.pk]), {"count": "3"})
    # Basile: the same; Félix: one step off on q1 (within), Inès: 1.5 points off on q2 (three steps).
    _script(llm_server, {"Basile": [2, 3], "Félix": [3.5, 6], "Inès": [0, 4.5]})
    teacher_points = {"Basile": ["2", "3"], "Félix": ["3", "6"], "Inès": ["0", "3"]}
    response = _submit(owner_client, exam, teacher_points, django_capture_on_commit_callbacks)
    assert response.status_code == 302

    # A real metered job: one call per copy, each in the ledger.
    calibration = Calibration.objects.get(exam=exam)
    assert calibration.status == Calibration.Status.AI and calibration.rounds == 1
    assert calibration.job.status == GradingJob.Status.FINISHED and calibration.job.total_copies == 3
    assert len(llm_server.requests) == 3 == UsageRecord.objects.filter(exam=exam).count()

    page = owner_client.get(reverse("calibration_detail", args=[exam.pk]))
    results = page.context["results"]
    assert results.compared == 3 and results.overall.n == 6
    assert results.overall.exact == pytest.approx(4 / 6)
    assert results.overall.within_step == pytest.approx(5 / 6)
    assert results.overall.mae == pytest.approx(2 / 6)  # (0.5 + 1.5) / 6
    q1, q2 = results.questions
    assert (q1.figures.exact, q1.figures.within_step, q1.figures.mae) == (
        pytest.approx(2 / 3),
        1.0,
        pytest.approx(0.5 / 3),
    )
    assert (q2.figures.exact, q2.figures.within_step, q2.figures.mae) == (
        pytest.approx(2 / 3),
        pytest.approx(2 / 3),
        0.5,
    )
    assert results.indicative and results.totals_qwk is not None
    assert [(p.copy.student_label, p.question.order, p.teacher, p.ai) for p in results.gaps] == [
        ("Inès", 1, Decimal("3"), Decimal("4.5")),
        ("Félix", 0, Decimal("3"), Decimal("3.5")),
    ]
    text = _text(page)
    assert "Accord exact 67 %" in text and "À un pas d'arrondi près (± 0,5) 83 %" in text
    assert "Écart moyen 0,33 point Kappa" in text  # below 2: singular in French
    # Each question's mean gap with two decimals, as every mean is written: 0,17 and 0,50.
    assert re.search(r"1\. \S+ \S+ 67 % 100 % 0,17 2\. \S+ \S+ 67 % 67 % 0,50 ", text), text
    assert "indicatif : 3 copies seulement (moins de 5)" in text
    assert "LECTURE-IA Inès q2" in text and "RAISON-IA Inès q2" in text

    # The teacher's grades are the final ones, audited over the AI's.
    ines = exam.copies.get(student_label="Inès").grades.get(question__order=1)
    assert (ines.points, ines.ai_points, ines.edited) == (Decimal("3"), Decimal("4.5"), True)
    edit = ines.edits.get()
    assert (edit.action, edit.before, edit.after, edit.user) == (GradeEdit.Action.CALIBRATION, "4.50", "3.00", teacher)
    basile = exam.copies.get(student_label="Basile").grades.get(question__order=0)
    assert (basile.points, basile.edited, basile.edits.count()) == (Decimal("2"), False, 0)
    # And they count in the exam's « accord IA / enseignant »: 2 of 6 changed.
    assert selectors.exam_agreement(exam=exam).overall.changed == 2


@pytest.mark.parametrize(("copies", "indicative"), [(4, True), (5, False)])
def test_qwk_on_the_totals_is_indicative_below_five_copies(
    owner_client, exam, llm_server, eager_celery, django_capture_on_commit_callbacks, copies, indicative
):
    owner_client.post(reverse("calibration_create", args=[exam.pk]), {"count": str(copies)})
    calibration = Calibration.objects.get(exam=exam)
    names = list(calibration.copies.values_list("student_label", flat=True))
    _script(llm_server, {name: [n % 5, 6 - n] for n, name in enumerate(names)})
    _submit(
        owner_client,
        exam,
        {n: [str(i % 5), str(6 - i)] for i, n in enumerate(names)},
        django_capture_on_commit_callbacks,
    )
    page = owner_client.get(reverse("calibration_detail", args=[exam.pk]))
    results = page.context["results"]
    assert results.compared == copies and results.indicative is indicative
    assert results.totals_qwk == 1.0 and results.gaps == []
    assert ("indicatif" in _text(page)) is indicative
    assert "L'IA a donné exactement vos notes." in _text(page)


def test_the_bulk_run_and_a_second_round_keep_the_teachers_grades(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    owner_client.post(reverse("calibration_create", args=[exam.pk]), {"count": "3"})
    _script(llm_server, {"Basile": [2, 3], "Félix": [3.5, 6], "Inès": [0, 4.5]})
    _submit(
        owner_client,
        exam,
        {"Basile": ["2", "3"], "Félix": ["3", "6"], "Inès": ["0", "3"]},
        django_capture_on_commit_callbacks,
    )
    calibrated = set(Calibration.objects.get(exam=exam).copies.values_list("pk", flat=True))

    # Criteria adjusted, then a second round: estimated, metered, the teacher's grades kept.
    question = exam.questions.get(order=1)
    owner_client.post(
        reverse("calibration_criteria", args=[exam.pk]), {f"criteria-{question.pk}": "Simplifier la fraction."}
    )
    question.refresh_from_db()
    assert question.criteria == "Simplifier la fraction."
    page = owner_client.get(reverse("calibration_detail", args=[exam.pk]))
    assert "coût estimé" in _text(page) and page.context["estimate"].copies == 3
    _script(llm_server, {"Basile": [2, 2.5], "Félix": [3, 6], "Inès": [0, 3]})
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("calibration_rerun", args=[exam.pk]))
    assert Calibration.objects.get(exam=exam).rounds == 2
    assert UsageRecord.objects.filter(exam=exam).count() == 6
    assert "Simplifier la fraction." in llm_server.requests[-1].text
    basile = exam.copies.get(student_label="Basile").grades.get(question__order=1)
    assert (basile.points, basile.ai_points) == (Decimal("3"), Decimal("2.5"))  # the teacher's 3 stays
    results = owner_client.get(reverse("calibration_detail", args=[exam.pk])).context["results"]
    assert results.overall.exact == pytest.approx(5 / 6)

    # The bulk run, partial: the allowance takes 4 of the 7 others; the calibration copies stay as they are.
    others = exam.copies.exclude(pk__in=calibrated).order_by("id")
    estimate = services.job_estimate(exam=exam)
    assert estimate.copies == 7 and {line.copy_id for line in estimate.lines}.isdisjoint(calibrated)
    allowance_leave(teacher, reservation_for(estimate.lines[:4]))
    _script(llm_server, {copy.student_label: [1, 1] for copy in others})
    before, jobs_before = len(llm_server.requests), set(GradingJob.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("exam_start", args=[exam.pk]), {"partial": "1"})
    bulk = list(GradingJob.objects.exclude(pk__in=jobs_before).order_by("pk").values_list("total_copies", flat=True))
    # 4 fit; when their job ended, what it held and did not spend took more (services.deferred).
    assert bulk[0] == 4 and len(llm_server.requests) - before == sum(bulk) < 7
    assert exam.copies.filter(status=Copy.Status.DEFERRED).count() == 7 - sum(bulk)
    assert not exam.copies.filter(pk__in=calibrated, status=Copy.Status.DEFERRED).exists()
    finals = {
        (grade.copy.student_label, grade.question.order): grade.points
        for grade in Grade.objects.filter(copy__in=calibrated).select_related("copy", "question")
    }
    assert finals == {
        ("Basile", 0): Decimal("2"),
        ("Basile", 1): Decimal("3"),
        ("Félix", 0): Decimal("3"),
        ("Félix", 1): Decimal("6"),
        ("Inès", 0): Decimal("0"),
        ("Inès", 1): Decimal("3"),
    }


def test_a_start_is_blocked_while_every_ready_copy_waits_for_the_teachers_grades(owner_client, teacher, llm_server):
    exam = exam_with_bareme(owner=teacher, questions=1)
    for name in ("Léa", "Hugo"):
        copy_with_pages(exam, pages=1, label=name)
    owner_client.post(reverse("calibration_create", args=[exam.pk]), {"count": "2"})
    page = owner_client.get(reverse("exam_detail", args=[exam.pk]))
    assert page.context["steps"].grading.state == "blocked"
    assert "Les copies prêtes attendent vos notes de calibration." in _text(page)
    assert 'data-testid="start-blocked"' in page.text and 'name="copy" value=' not in page.text


def test_a_round_not_graded_yet_can_be_given_up(owner_client, exam, llm_server):
    owner_client.post(reverse("calibration_create", args=[exam.pk]), {"count": "3"})
    assert owner_client.get(reverse("exam_detail", args=[exam.pk])).context["estimate"].copies == 7
    owner_client.post(reverse("calibration_delete", args=[exam.pk]))
    assert not Calibration.objects.exists()
    assert owner_client.get(reverse("exam_detail", args=[exam.pk])).context["estimate"].copies == 10


def test_in_demo_mode_a_round_on_the_demo_class_then_the_bulk_run(
    owner_client, llm_server, settings, eager_celery, django_capture_on_commit_callbacks
):
    """What `make run` shows: the demonstration class, three copies graded by the teacher, the
    demo grader on the same copies, the figures, then the bulk run of the five others."""
    settings.CORRIGO_DEMO_MODE = True
    settings.CORRIGO_DEMO_LLM_URL = llm_server.url
    settings.CORRIGO_LLM = {}
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("demo_class"))
    exam = Exam.objects.get()
    owner_client.post(reverse("calibration_create", args=[exam.pk]))  # the default: three copies
    calibration = Calibration.objects.get(exam=exam)
    questions = list(exam.questions.all())
    form = {f"p-{copy.pk}-{question.pk}": "2" for copy in calibration.copies.all() for question in questions}
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("calibration_submit", args=[exam.pk]), form)
    page = owner_client.get(reverse("calibration_detail", args=[exam.pk]))
    results = page.context["results"]
    assert results.compared == 3 and results.overall.n == 3 * len(questions) and results.indicative
    assert "Accord exact" in _text(page) and "Lancer la correction des 5 autres copies" in _text(page)
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("exam_start", args=[exam.pk]))
    assert set(exam.copies.values_list("status", flat=True)) == {Copy.Status.DONE}
    kept = Grade.objects.filter(copy__in=calibration.copies.all())
    assert kept.count() == 3 * len(questions) and set(kept.values_list("points", flat=True)) == {Decimal("2")}


def test_the_figures_read_in_english(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    owner_client.post(reverse("calibration_create", args=[exam.pk]), {"count": "3"})
    _script(llm_server, {"Basile": [2, 3], "Félix": [3.5, 6], "Inès": [0, 4.5]})
    _submit(
        owner_client,
        exam,
        {"Basile": ["2", "3"], "Félix": ["3", "6"], "Inès": ["0", "3"]},
        django_capture_on_commit_callbacks,
    )
    teacher.language = "en"
    teacher.save(update_fields=["language"])
    text = _text(owner_client.get(reverse("calibration_detail", args=[exam.pk])))
    assert "Exact agreement 67 %" in text and "Within one rounding step (± 0.5) 83 %" in text
    assert "Mean difference 0.33 points" in text
    assert "indicative: only 3 copies (fewer than 5)" in text
    assert "Grade the 7 other copies" in text
    page = _text(owner_client.get(reverse("exam_detail", args=[exam.pk])))
    assert "AI / teacher agreement" in page and "67 % of grades left as the AI gave them (4 of 6 AI grades)." in page
