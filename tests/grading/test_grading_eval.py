"""manage.py grading_eval: teacher-graded text answers graded again through the engine and the
scripted server over real HTTP, the printed agreement figures, the ledger rows, the cost cap at
its boundary, and the files refused before any call.

Rows are graded on threads, each with its own database connection: the tests commit
(transactional database) so those connections see the operator's account.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum
from django.utils import translation
from django.utils.formats import number_format

from accounts.models import User
from grading.engine.asking import Request
from grading.engine.prompts import grading_messages
from grading.services.estimate import request_worst_cost, role_ready
from grading.services.evaluation import OPERATOR_EMAIL, eval_context
from grading.services.evaluation_file import ERRORS_SHOWN, eval_file_read
from tests.support.counts import agreed
from usage.models import UsageRecord
from usage.selectors import price_card

from .helpers import from_model, grades_json

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "question,reference_answer,student_answer,score,max_score\n"


def _csv(tmp_path, text: str, name: str = "answers.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _answering(points: dict[str, float]):
    """The model's answer to each row, found by the student's answer in the request."""

    def content(text: str, model: str) -> str:
        typed = re.search(r"Typed answer \(no image\):\n(\S+)", text)
        assert typed, text[-500:]
        return grades_json([points[typed.group(1)]])

    return content


def _run(path, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("grading_eval", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _line(output: str, start: str) -> str:
    found = [line for line in output.splitlines() if line.startswith(start)]
    assert len(found) == 1, output
    return re.sub(r"\s+", " ", found[0])


def _ledger(run: str):
    return UsageRecord.objects.filter(idempotency_key__startswith=f"eval:{run}:")


def _run_id(output: str) -> str:
    return re.search(r"Évaluation (\w+) :", output).group(1)


def test_it_prints_the_agreement_of_one_model_with_the_teacher_and_records_every_call(llm_server, tmp_path, french):
    path = _csv(
        tmp_path,
        HEADER
        + "Q1,ref,rep-a,2,2\n"  # the model agrees
        + "Q2,ref,rep-b,0,2\n"  # agrees
        + "Q3,ref,rep-c,1.5,2\n"  # one step below the teacher
        + "Q4,ref,rep-d,1,2\n"  # two steps above
        + "Q5,ref,rep-e,0.5,2\n"  # agrees
        + "Q6,ref,rep-f,1,2\n",  # an unusable answer twice: the row fails
    )
    llm_server.script(fault="malformed", match="rep-f", times=2)
    llm_server.script(_answering({"rep-a": 2, "rep-b": 0, "rep-c": 1, "rep-d": 2, "rep-e": 0.5}), times=5)
    out, err = _run(path, "--concurrency", "3")

    run = _run_id(out)
    ledger = _ledger(run)
    # Five rows graded in one call each, the failed one in two (its repair included).
    assert ledger.count() == len(llm_server.requests) == 7
    assert sorted(ledger.values_list("phase", flat=True)) == ["grading"] * 6 + ["repair"]
    assert set(ledger.values_list("user__email", flat=True)) == {OPERATOR_EMAIL}
    tokens, cost = ledger.aggregate(t=Sum("total_tokens"))["t"], ledger.aggregate(c=Sum("total_cost"))["c"]
    assert tokens == sum(r.usage["total_tokens"] for r in llm_server.requests)
    # Teacher (steps of 0.5 from 0): 4 0 3 2 1, model: 4 0 2 4 1. Weighted disagreements
    # 1 + 4 = 5 over 5 pairs; chance: rows one each, columns 1 1 1 0 2 → 30 + 15 + 10 + 2·30
    # = 115; QWK = 1 − 5·5/115 = 0.7826. MAE (0.5 + 1) / 5 = 0.30; exact 3/5; within a step 4/5.
    shown = number_format(tokens, force_grouping=True)
    assert _line(out, "A · ") == re.sub(
        r"\s+", " ", f"A · openai/gpt-4o 5 0,783 0,30 60,0 % 80,0 % 7 {shown} {number_format(cost, 6)}"
    )
    assert _line(out, "Total") == re.sub(r"\s+", " ", f"Total 7 {shown} {number_format(cost, 6)}")
    assert "Notées : 5, en échec : 1, non lancées (plafond de coût) : 0." in out
    assert _line(out, "ligne 7 :").startswith("ligne 7 : Réponse inutilisable du modèle openai/gpt-4o")
    assert "[" + "#" * 30 + "] 6/6" in err
    assert f"appels enregistrés au compte {OPERATOR_EMAIL}" in err


def test_double_correction_reports_each_model_and_the_final_grade(llm_server, tmp_path, french):
    path = _csv(tmp_path, HEADER + "Q1,ref,rep-a,4,4\nQ2,ref,rep-b,2,4\n")
    # Both agree on rep-a; on rep-b they differ by 2 points (≥ 10 % of 4): a verification round,
    # where both settle on 2.
    a, b = from_model("openai/gpt-4o"), from_model("openai/gpt-4.1-mini")
    llm_server.script(grades_json([2]), match=lambda r: "[TASK:verify]" in r["text"], times=2)
    llm_server.script(_answering({"rep-a": 4, "rep-b": 1}), match=a, times=2)
    llm_server.script(_answering({"rep-a": 4, "rep-b": 3}), match=b, times=2)
    out, _err = _run(path, "--mode", "double", "--json", str(tmp_path / "report.json"))

    ledger = _ledger(_run_id(out))
    assert sorted(ledger.values_list("phase", flat=True)) == ["grading"] * 4 + ["verification"] * 2
    # Each model's figures are its first, independent grades; the final one is after verification.
    report = json.loads((tmp_path / "report.json").read_text())
    figures = {item["slot"]: item for item in report["models"]}
    assert (figures["a"]["exact"], figures["a"]["within_step"], figures["a"]["mae"]) == (0.5, 0.5, 0.5)
    assert (figures["b"]["exact"], figures["b"]["mae"]) == (0.5, 0.5)
    assert (figures["final"]["exact"], figures["final"]["mae"], figures["final"]["qwk"]) == (1.0, 0.0, 1.0)
    # Two grading calls and one verification each.
    assert (figures["a"]["calls"], figures["b"]["calls"], figures["final"]["calls"]) == (3, 3, 0)
    assert Decimal(report["spent_usd"]) == ledger.aggregate(c=Sum("total_cost"))["c"]
    assert [answer["points"] for answer in report["answers"]] == [
        {"a": "4.00", "b": "4.00", "final": "4.00"},
        {"a": "1.00", "b": "3.00", "final": "2.00"},
    ]
    assert _line(out, "Note finale") == "Note finale 2 1,000 0,00 100,0 % 100,0 %"


def test_the_cost_cap_launches_a_call_exactly_at_it_and_none_just_over(llm_server, tmp_path, settings):
    settings.CORRIGO_LLM_MAX_TOKENS = 300
    # Three rows of the same length: each call's worst case is the same W.
    path = _csv(tmp_path, HEADER + "".join(f"Q,ref,rep-{n},1,2\n" for n in "abc"))
    model = "openai/gpt-4o"
    row = eval_file_read(path=path)[0]
    request = Request(role_ready("grader_a"), grading_messages(eval_context(row), [("", row.student_answer)]))
    worst = request_worst_cost(request, card=price_card(model))

    def run(cap: Decimal) -> tuple[list[UsageRecord], dict]:
        llm_server.reset()
        llm_server.script(grades_json([1]), times=3)
        report_path = tmp_path / "report.json"
        _run(path, "--concurrency", "1", "--max-cost", str(cap), "--json", str(report_path))
        report = json.loads(report_path.read_text())
        records = list(_ledger(report["run"]).order_by("id"))
        assert len(llm_server.requests) == len(records)
        assert sum((r.total_cost for r in records), Decimal(0)) == Decimal(report["spent_usd"]) <= cap
        return records, report

    first, report = run(worst * 10)
    assert len(first) == 3 and report["capped"] is False
    spent_first = first[0].total_cost
    assert 0 < spent_first < worst

    # The second call is launched when what the first spent plus its worst case is the cap exactly.
    records, report = run(spent_first + worst)
    assert len(records) == 2 and report["rows"] == {"graded": 2, "failed": 0, "skipped": 1}
    records, report = run(spent_first + worst - Decimal("1e-10"))
    assert len(records) == 1 and report["rows"]["skipped"] == 2 and report["capped"] is True
    # The first call too: at its worst case exactly it is made, a hair under it nothing is.
    assert len(run(worst)[0]) == 1
    records, report = run(worst - Decimal("1e-10"))
    assert records == [] and report["rows"]["skipped"] == 3


def test_calls_go_to_the_account_given_and_the_operator_account_is_reused(llm_server, tmp_path, teacher, french):
    path = _csv(tmp_path, HEADER + "Q,ref,rep-a,1,2\n")
    llm_server.script(grades_json([1]), times=3)
    out, _err = _run(path, "--account", "OWNER@college.example")
    assert set(_ledger(_run_id(out)).values_list("user", flat=True)) == {teacher.pk}
    assert not User.objects.filter(email=OPERATOR_EMAIL).exists()

    first, _err = _run(path)
    second, _err = _run(path)
    operator = User.objects.get(email=OPERATOR_EMAIL)
    assert not operator.is_active and not operator.has_usable_password()
    assert set(_ledger(_run_id(first)).values_list("user", flat=True)) == {operator.pk}
    assert set(_ledger(_run_id(second)).values_list("user", flat=True)) == {operator.pk}
    with pytest.raises(CommandError, match="Aucun compte n'a l'adresse nobody@example.com"):
        _run(path, "--account", "nobody@example.com")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "Le fichier est vide."),
        ("question,student_answer,score\n", "ligne 1 : colonnes manquantes : reference_answer, max_score"),
        (HEADER + "Q,ref,rep,1,2\nQ,ref,rep,abc,2\n", "ligne 3 : score « abc » n'est pas un nombre."),
        (HEADER + "Q,ref,rep,2.5,2\n", "ligne 2 : score 2.5 hors de 0 à max_score (2)."),
        (HEADER + "Q,ref,rep,-0.5,2\n", "ligne 2 : score -0.5 hors de 0 à max_score (2)."),
        (HEADER + "Q,ref,rep,0,0\n", "ligne 2 : max_score doit être supérieur à 0"),
        (HEADER + "Q,ref,rep,1\n", "ligne 2 : 4 champs au lieu de 5."),
        (HEADER + ",ref,rep,1,2\n", "ligne 2 : la question est vide."),
        (HEADER + 'Q,ref,"une réponse\nsur deux lignes",1,2\nQ,,rep,1,2\n', "ligne 4 : la réponse attendue"),
        (HEADER, "Le fichier n'a aucune réponse après sa ligne d'en-tête."),
    ],
)
def test_a_bad_file_is_refused_naming_its_line_before_any_call(llm_server, tmp_path, french, content, message):
    path = _csv(tmp_path, content)
    with pytest.raises(CommandError) as refused:
        _run(path)
    assert message in str(refused.value)
    assert llm_server.requests == [] and not UsageRecord.objects.exists()


def test_a_file_not_in_utf8_is_refused(llm_server, tmp_path, french):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "Qé,ref,rep,1,2\n").encode("latin-1"))
    with pytest.raises(CommandError, match="n'est pas en UTF-8"):
        _run(path)
    assert llm_server.requests == []


def test_every_problem_of_a_file_is_listed_in_english_too(llm_server, tmp_path):
    path = _csv(tmp_path, HEADER + "Q,ref,rep,x,2\nQ,ref,rep,1,y\n")
    with translation.override("en"), pytest.raises(CommandError) as refused:
        _run(path)
    assert str(refused.value).splitlines() == [
        "File refused, no call was made:",
        "  line 2: score “x” is not a number.",
        "  line 3: max_score “y” is not a number.",
    ]


MORE = {
    "fr": ("… et {} autre problème.", "… et {} autres problèmes."),
    "en": ("… and {} more problem.", "… and {} more problems."),
}


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("more", [0, 1, 2, 1_000])
def test_the_problems_not_listed_are_counted_in_agreement(llm_server, tmp_path, language, more):
    path = _csv(tmp_path, HEADER + "Q,ref,rep,x,2\n" * (ERRORS_SHOWN + more))
    with translation.override(language), pytest.raises(CommandError) as refused:
        _run(path)
    lines = str(refused.value).splitlines()
    assert len(lines) == 1 + ERRORS_SHOWN + bool(more)  # the title, ten problems, then how many more
    if more:
        assert lines[-1] == "  " + agreed(more, language, MORE).format(more)
    assert llm_server.requests == []


ANSWERS = {"fr": ("réponse", "réponses"), "en": ("answer", "answers")}


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("rows", [1, 2])  # a file has one answer at least (none is refused above)
def test_the_answers_of_the_file_are_counted_in_agreement(llm_server, tmp_path, language, rows):
    path = _csv(tmp_path, HEADER + "".join(f"Q,ref,rep-{n},1,2\n" for n in range(rows)))
    llm_server.script(_answering({f"rep-{n}": 1 for n in range(rows)}), times=rows)
    with translation.override(language):
        out, err = _run(path)
    answers = f"{rows} {agreed(rows, language, ANSWERS)}"
    assert {"fr": f"{answers} ; appels enregistrés", "en": f"{answers}; calls recorded"}[language] in err
    assert f": {answers}, mode " in out


def test_a_spreadsheet_file_with_semicolons_and_decimal_commas_is_read(tmp_path):
    path = _csv(tmp_path, "\ufeffQuestion;Reference_answer;Student_answer;Score;Max_score;id\nQ;ref;rep;1,5;2;7\n")
    (row,) = eval_file_read(path=path)
    assert (row.line, row.score, row.max_score, row.student_answer) == (2, Decimal("1.5"), Decimal(2), "rep")


def test_no_more_rows_are_graded_at_once_than_the_concurrency(llm_server, tmp_path):
    path = _csv(tmp_path, HEADER + "".join(f"Q,ref,rep-{n},1,2\n" for n in range(8)))
    llm_server.script(grades_json([1]), times=8, latency=0.2)
    llm_server.max_in_flight = 0
    _run(path, "--concurrency", "2")
    assert len(llm_server.requests) == 8
    assert llm_server.max_in_flight <= 2


@pytest.mark.parametrize("concurrency", ["0", "33"])
def test_a_concurrency_out_of_bounds_is_refused(llm_server, tmp_path, french, concurrency):
    path = _csv(tmp_path, HEADER + "Q,ref,rep,1,2\n")
    with pytest.raises(CommandError, match="--concurrency doit être entre 1 et 32."):
        _run(path, "--concurrency", concurrency)
    assert llm_server.requests == []
