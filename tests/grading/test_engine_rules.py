"""The engine's grading rules at their boundaries: pure functions, no database, no network.

`grade_copy` takes the round of calls as a function (`run`); here it answers from a table,
each answer parsed by the production parser (reply_parse + parse_copy_grades), so the engine
decides exactly as it does behind the scripted server (tests/grading/test_grading_rules.py
pins the same rules through real HTTP and the database).
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import partial

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from grading.engine.asking import Reply, Request, reply_parse
from grading.engine.config import RoleConfig
from grading.engine.errors import InvalidAnswer
from grading.engine.grader import (
    DISAGREEMENT_SHARE,
    READING_MIN_CHARS,
    grade_copy,
    points_differ,
    readings_differ,
)
from grading.engine.llm import LLMResult
from grading.engine.prompts import ExamContext, copy_message
from grading.engine.schema import normalise_points, parse_copy_grades

D = Decimal
STEPS = [D("0.25"), D("0.5"), D("1")]


# --- points_differ: a gap of 10 % of the question's maximum or more is a disagreement ------


@pytest.mark.parametrize(
    ("first", "second", "maximum", "differ"),
    [
        (2, 2.4, D(4), True),  # exactly 10 % of 4
        (2.4, 2, D(4), True),  # the order does not matter
        (2, 2.39, D(4), False),  # just under
        (2, 2.41, D(4), True),  # just over
        (3.1, 2.7, D(4), True),  # 0.4 in floats (0.40000000000000036): compared as decimals
        (0, 2, D(20), True),  # exactly 10 % of 20
        (0, 1.99, D(20), False),
        (5, 5, D(10), False),
        (0, 0.1, D(1), True),  # exactly 10 % of 1
        (0, 0.09, D(1), False),
        (1, 1.5, D(5), True),  # exactly 0.5 on a /5 question
        (1, 1.49, D(5), False),
    ],
)
def test_points_differ_from_exactly_a_tenth_of_the_maximum(first, second, maximum, differ):
    assert points_differ(first, second, maximum) is differ


def test_the_disagreement_share_is_ten_percent():
    assert D("0.10") == DISAGREEMENT_SHARE


@given(
    first=st.decimals(min_value=0, max_value=100, places=2),
    second=st.decimals(min_value=0, max_value=100, places=2),
    maximum=st.decimals(min_value=D("0.25"), max_value=100, places=2),
)
def test_points_differ_is_symmetric_and_exactly_a_tenth(first, second, maximum):
    differ = points_differ(float(first), float(second), maximum)
    assert differ is points_differ(float(second), float(first), maximum)
    assert differ is (abs(first - second) >= maximum / 10)


# --- readings_differ: long readings that share little differ; short ones never do ----------

LONG_A = "Le triangle ABC est rectangle en B car AC² = AB² + BC²."
LONG_B = "Aucune réponse lisible, la page est presque blanche ici."


@pytest.mark.parametrize(
    ("first", "second", "differ"),
    [
        (LONG_A, LONG_B, True),
        (LONG_A, LONG_A, False),
        (LONG_A, "  " + LONG_A.upper().replace(" ", "\n  ") + " ", False),  # case and spacing ignored
        (LONG_A, LONG_A.replace("rectangle", "isocèle"), False),  # one word apart: similar
        ("x" * (READING_MIN_CHARS - 1), "y" * 40, False),  # 19 characters: too short to compare
        ("y" * 40, "x" * (READING_MIN_CHARS - 1), False),
        ("x" * READING_MIN_CHARS, "y" * 40, True),  # exactly 20: compared
        ("y" * 40, "x" * READING_MIN_CHARS, True),
        ("   " + "x" * (READING_MIN_CHARS - 1) + "   ", "y" * 40, False),  # spaces around do not count
    ],
)
def test_readings_differ_only_when_both_are_long_enough_and_unlike(first, second, differ):
    assert readings_differ(first, second) is differ


def test_readings_apart_only_by_their_spacing_do_not_differ():
    # Uncollapsed, 200 spaces would bring the ratio to 0.23, under the threshold.
    assert readings_differ("le triangle" + " " * 200 + "est rectangle en b", "le triangle est rectangle en b") is False


def test_readings_at_the_similarity_threshold():
    # SequenceMatcher ratio = 2 * matches / (len a + len b): 40 + 40 characters sharing 14 → 0.35.
    shared = "m" * 14
    at_threshold = shared + "a" * 26, shared + "b" * 26
    under = shared[:-1] + "a" * 27, shared[:-1] + "b" * 27
    assert readings_differ(*at_threshold) is False  # 0.35 is not "below 0.35"
    assert readings_differ(*under) is True  # 0.325


# --- normalise_points: clamped to [0, max], rounded half up to the step, never above max -----


@pytest.mark.parametrize(
    ("points", "maximum", "step", "expected"),
    [
        (-1, D(4), D("0.5"), D("0")),  # negative: clamped to 0
        (-0.01, D(4), D("0.25"), D("0")),
        (0, D(4), D("0.5"), D("0")),
        (4.01, D(4), D("0.5"), D("4")),  # above the maximum: the maximum
        (12, D(8), D("1"), D("8")),
        (4, D(4), D("0.25"), D("4")),
        # step 0.25: half-way values go up
        (1.125, D(4), D("0.25"), D("1.25")),
        (1.124, D(4), D("0.25"), D("1")),
        (1.126, D(4), D("0.25"), D("1.25")),
        (1.375, D(4), D("0.25"), D("1.5")),
        # step 0.5
        (2.25, D(4), D("0.5"), D("2.5")),
        (2.24, D(4), D("0.5"), D("2")),
        (2.75, D(4), D("0.5"), D("3")),
        (0.25, D(4), D("0.5"), D("0.5")),
        (0.24, D(4), D("0.5"), D("0")),
        # step 1
        (2.5, D(4), D("1"), D("3")),
        (2.49, D(4), D("1"), D("2")),
        (3.5, D(4), D("1"), D("4")),
        (0.5, D(4), D("1"), D("1")),
        # a maximum that is not a multiple of the step: rounding never goes above it
        (2.3, D("2.3"), D("0.5"), D("2")),
        (2.26, D("2.3"), D("0.5"), D("2")),
        (1.75, D("2.3"), D("0.5"), D("2")),
        (0.3, D("0.3"), D("1"), D("0")),
        (2.9, D("2.9"), D("1"), D("2")),
        (1.5, D("1.5"), D("1"), D("1")),
        # no step: two decimals
        (2.345, D(4), D("0"), D("2.34")),
        (2.5, D(4), D("0"), D("2.5")),
        (-3, D(4), D("0"), D("0")),
        (9, D(4), D("0"), D("4")),
    ],
)
def test_normalise_points_table(points, maximum, step, expected):
    result = normalise_points(points, maximum=maximum, step=step)
    assert result == expected
    assert result.as_tuple().exponent == -2  # stored with two decimals, like Grade.points


def test_normalise_points_takes_decimals_and_floats_alike():
    assert normalise_points(D("1.125"), maximum=D(4), step=D("0.25")) == D("1.25")
    assert normalise_points(0.1 + 0.2, maximum=D(4), step=D("0.25")) == D("0.25")


@given(
    points=st.one_of(
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
        st.decimals(min_value=-100, max_value=100, places=3),
    ),
    maximum=st.decimals(min_value=D("0.25"), max_value=100, places=2),
    step=st.sampled_from(STEPS),
)
@example(points=2.3, maximum=D("2.3"), step=D("0.5"))
@example(points=-0.0, maximum=D("0.25"), step=D("0.5"))
def test_a_normalised_grade_is_within_zero_and_max_and_a_multiple_of_the_step(points, maximum, step):
    result = normalise_points(points, maximum=maximum, step=step)
    assert D(0) <= result <= maximum
    assert result % step == 0
    # The nearest such multiple (half up) of the clamped value, never more than one step off.
    clamped = min(max(D(str(points)), D(0)), maximum)
    assert abs(result - clamped) <= step


# --- grade_copy: single and double correction, one verification round ------------------------

QUESTIONS = (
    {"id": "q1", "label": "Q1", "max": "4", "criteria": ""},
    {"id": "q2", "label": "Q2", "max": "10", "criteria": ""},
)
CTX = ExamContext(
    exam_id=1,
    title="Contrôle",
    subject="Maths",
    level="4e",
    language="fr",
    instructions="",
    questions=QUESTIONS,
    subject_pages=(),
)
CONFIG_A = RoleConfig(role="grader_a", model="openai/gpt-4o")
CONFIG_B = RoleConfig(role="grader_b", model="openai/gpt-4.1-mini")
DOUBLE = {"a": CONFIG_A, "b": CONFIG_B}


def answer(grades: dict[str, tuple], *, flag: str = "") -> str:
    """{qid: (points, confidence[, reading])} as a model's JSON answer."""
    questions = []
    for qid, (points, confidence, *reading) in grades.items():
        text = reading[0] if reading else f"Lecture de {qid} : x = 3, donc l'aire vaut 12 cm²."
        questions.append(
            {
                "id": qid,
                "points": points,
                "reading": text,
                "reasoning": f"raisonnement {qid} {points} {confidence}",
                "feedback": f"conseil {qid} {points} {confidence}",
                "confidence": confidence,
            }
        )
    return json.dumps({"questions": questions, "manipulation": {"flag": bool(flag), "reason": flag}})


class Script:
    """The rounds of calls, answered from {(phase, slot): raw}; records what was asked."""

    def __init__(self, answers: dict[tuple[str, str], str]):
        self.answers = answers
        self.asked: list[tuple[str, str, list[str]]] = []

    def __call__(self, phase: str, requests: dict[str, Request], repair: bool) -> dict[str, Reply]:
        replies = {}
        for slot, request in requests.items():
            self.asked.append((phase, slot, list(request.expected)))
            result = LLMResult(
                content=self.answers[(phase, slot)],
                finish_reason="stop",
                model=request.config.model,
                prompt_tokens=10,
                completion_tokens=10,
                cached_read_tokens=0,
                cache_write_tokens=0,
                litellm_cost=None,
                seconds=0.0,
            )
            replies[slot] = reply_parse(result, partial(parse_copy_grades, expected_ids=request.expected))
        return replies


def graded(answers: dict, *, step=D("0.5"), configs=DOUBLE):
    script = Script(answers)
    verifications = []
    outcome = grade_copy(
        ctx=CTX, pages=[], step=step, configs=configs, run=script, on_verification=lambda: verifications.append(1)
    )
    return outcome, script, verifications


def by_qid(outcome):
    return {q.qid: q for q in outcome.questions}


def test_single_correction_normalises_the_one_graders_points():
    outcome, script, verifications = graded(
        {("grading", "a"): answer({"q1": (-1, 0.9), "q2": (7.25, 0.4)})}, configs={"a": CONFIG_A}
    )
    q1, q2 = by_qid(outcome).values()
    assert (q1.points, q2.points) == (D("0"), D("7.5"))
    assert (q1.maximum, q2.maximum) == (D(4), D(10))
    assert {q.resolution for q in outcome.questions} == {"single"}
    assert not any(q.disagreement for q in outcome.questions)
    assert q2.feedback == "conseil q2 7.25 0.4" and q2.confidence == 0.4
    assert script.asked == [("grading", "a", ["q1", "q2"])]
    assert verifications == [] and outcome.verified is False


@pytest.mark.parametrize(
    ("b_q1", "disputed"),
    [
        (2.4, True),  # exactly 10 % of /4
        (2.39, False),
        (2.41, True),
        (1.6, True),  # the other way, exactly
        (1.61, False),
    ],
)
def test_a_gap_of_exactly_a_tenth_of_the_maximum_sends_the_question_to_verification(b_q1, disputed):
    answers = {
        ("grading", "a"): answer({"q1": (2, 0.9), "q2": (5, 0.9)}),
        ("grading", "b"): answer({"q1": (b_q1, 0.8), "q2": (5, 0.8)}),
        ("verification", "a"): answer({"q1": (2, 0.9)}),
        ("verification", "b"): answer({"q1": (2, 0.9)}),
    }
    outcome, script, verifications = graded(answers)
    q1 = by_qid(outcome)["q1"]
    if disputed:
        assert ("verification", "a", ["q1"]) in script.asked and ("verification", "b", ["q1"]) in script.asked
        assert verifications == [1] and outcome.verified is True
        assert q1.resolution == "verified" and q1.audit["disputed_because"] == "points"
    else:
        assert [phase for phase, _slot, _ids in script.asked] == ["grading", "grading"]
        assert verifications == [] and outcome.verified is False
        assert q1.resolution == "agreed"
    assert by_qid(outcome)["q2"].resolution == "agreed"
    assert q1.audit["threshold"] == "0.40"


@pytest.mark.parametrize(
    ("va", "vb", "resolution", "disagreement", "points"),
    [
        (3, 3, "verified", False, D("3")),
        (3, 3.39, "verified", False, D("3")),  # mean 3.195 → 3
        (3, 3.4, "averaged", True, D("3")),  # still exactly 10 % apart: averaged, flagged; mean 3.2
        (3.4, 3, "averaged", True, D("3")),
        (1, 4, "averaged", True, D("2.5")),
        (0, 4, "averaged", True, D("2")),
        (3.5, 4, "averaged", True, D("4")),  # mean 3.75 half up on the 0.5 step
        (3.5, 3.75, "verified", False, D("3.5")),  # 0.25 apart: agreed after verification; 3.625 → 3.5
    ],
)
def test_after_verification_only_the_verified_points_decide(va, vb, resolution, disagreement, points):
    answers = {
        # First round far apart (1 vs 4): disputed whatever happens next.
        ("grading", "a"): answer({"q1": (1, 0.9), "q2": (5, 0.9)}),
        ("grading", "b"): answer({"q1": (4, 0.9), "q2": (5, 0.9)}),
        ("verification", "a"): answer({"q1": (va, 0.6)}),
        ("verification", "b"): answer({"q1": (vb, 0.7)}),
    }
    outcome, _script, _verifications = graded(answers)
    q1 = by_qid(outcome)["q1"]
    assert (q1.resolution, q1.disagreement, q1.points) == (resolution, disagreement, points)
    assert q1.audit["a"]["verification"]["points"] == va and q1.audit["b"]["verification"]["points"] == vb
    assert q1.audit["a"]["grading"]["points"] == 1 and q1.audit["final"] == str(points.quantize(D("0.01")))
    assert q1.confidence == 0.65


def test_the_verified_questions_converging_from_far_apart_are_not_flagged():
    # First round 0 vs 10 on /10; verified 6 and 6.5 (5 % apart): the first gap no longer counts.
    answers = {
        ("grading", "a"): answer({"q1": (2, 0.9), "q2": (0, 0.9)}),
        ("grading", "b"): answer({"q1": (2, 0.9), "q2": (10, 0.9)}),
        ("verification", "a"): answer({"q2": (6, 0.9)}),
        ("verification", "b"): answer({"q2": (6.5, 0.9)}),
    }
    outcome, script, _verifications = graded(answers, step=D("0.25"))
    q2 = by_qid(outcome)["q2"]
    assert (q2.resolution, q2.disagreement, q2.points) == ("verified", False, D("6.25"))
    assert ("verification", "a", ["q2"]) in script.asked


@pytest.mark.parametrize("step", STEPS)
def test_the_mean_is_taken_from_both_verified_answers(step):
    answers = {
        ("grading", "a"): answer({"q1": (0, 0.9), "q2": (0, 0.9)}),
        ("grading", "b"): answer({"q1": (4, 0.9), "q2": (10, 0.9)}),
        # Verified: q1 1 and 2 → 1.5; q2 6 and 9 → 7.5 — neither first-round figure is involved.
        ("verification", "a"): answer({"q1": (1, 0.9), "q2": (6, 0.9)}),
        ("verification", "b"): answer({"q1": (2, 0.9), "q2": (9, 0.9)}),
    }
    outcome, _script, _verifications = graded(answers, step=step)
    q1, q2 = by_qid(outcome)["q1"], by_qid(outcome)["q2"]
    assert q1.points == normalise_points(D("1.5"), maximum=D(4), step=step)
    assert q2.points == normalise_points(D("7.5"), maximum=D(10), step=step)
    assert (q1.points, q2.points) == {
        D("0.25"): (D("1.5"), D("7.5")),
        D("0.5"): (D("1.5"), D("7.5")),
        D("1"): (D("2"), D("8")),
    }[step]


def test_agreed_questions_take_the_mean_of_the_first_round():
    answers = {
        ("grading", "a"): answer({"q1": (3, 0.9), "q2": (7, 0.9)}),
        ("grading", "b"): answer({"q1": (3.25, 0.9), "q2": (7.5, 0.9)}),
    }
    outcome, _script, _verifications = graded(answers, step=D("0.25"))
    q1, q2 = by_qid(outcome)["q1"], by_qid(outcome)["q2"]
    assert (q1.points, q2.points) == (D("3.25"), D("7.25"))  # 3.125 half up → 3.25; 7.25 as is
    assert q1.resolution == q2.resolution == "agreed"


@pytest.mark.parametrize(
    ("confidence_a", "confidence_b", "kept"),
    [(0.9, 0.5, "a"), (0.5, 0.9, "b"), (0.7, 0.7, "a"), (0.69, 0.7, "b"), (0.7, 0.69, "a")],
)
def test_reading_reasoning_and_feedback_come_from_the_more_confident_grader(confidence_a, confidence_b, kept):
    reading = {
        "a": "Lecture de A : l'élève trouve x = 3 par division.",
        "b": "Lecture de B : l'élève trouve x = 3, divisé.",
    }
    answers = {
        ("grading", "a"): answer({"q1": (2, confidence_a, reading["a"]), "q2": (5, 0.9)}),
        ("grading", "b"): answer({"q1": (2, confidence_b, reading["b"]), "q2": (5, 0.9)}),
    }
    outcome, _script, _verifications = graded(answers)
    q1 = by_qid(outcome)["q1"]
    points, confidence = 2, {"a": confidence_a, "b": confidence_b}[kept]
    assert q1.reading == reading[kept]
    assert q1.reasoning == f"raisonnement q1 {points} {confidence}"
    assert q1.feedback == f"conseil q1 {points} {confidence}"
    assert q1.confidence == round((confidence_a + confidence_b) / 2, 3)


def test_after_verification_the_text_comes_from_the_more_confident_verified_answer():
    answers = {
        ("grading", "a"): answer({"q1": (0, 0.95), "q2": (5, 0.9)}),
        ("grading", "b"): answer({"q1": (4, 0.1), "q2": (5, 0.9)}),
        # A was sure at first but not after verification; B the other way round.
        ("verification", "a"): answer({"q1": (2, 0.3)}),
        ("verification", "b"): answer({"q1": (2, 0.8)}),
    }
    outcome, _script, _verifications = graded(answers)
    q1 = by_qid(outcome)["q1"]
    assert q1.feedback == "conseil q1 2 0.8" and q1.confidence == 0.55


def test_readings_that_share_nothing_are_verified_even_with_equal_points():
    answers = {
        ("grading", "a"): answer({"q1": (2, 0.9, LONG_A), "q2": (5, 0.9)}),
        ("grading", "b"): answer({"q1": (2, 0.9, LONG_B), "q2": (5, 0.9)}),
        ("verification", "a"): answer({"q1": (2, 0.9)}),
        ("verification", "b"): answer({"q1": (3, 0.9)}),
    }
    outcome, script, _verifications = graded(answers)
    q1 = by_qid(outcome)["q1"]
    assert q1.audit["disputed_because"] == "reading"
    assert (q1.resolution, q1.disagreement, q1.points) == ("averaged", True, D("2.5"))
    assert ("verification", "b", ["q1"]) in script.asked


def test_a_manipulation_flag_from_either_grader_or_round_flags_the_copy():
    answers = {
        ("grading", "a"): answer({"q1": (2, 0.9), "q2": (5, 0.9)}),
        ("grading", "b"): answer({"q1": (2, 0.9), "q2": (5, 0.9)}, flag="Demande 20/20."),
    }
    outcome, _script, _verifications = graded(answers)
    assert (outcome.manipulation, outcome.manipulation_reason) == (True, "Demande 20/20.")

    answers = {
        ("grading", "a"): answer({"q1": (2, 0.9), "q2": (5, 0.9)}, flag="Même motif."),
        ("grading", "b"): answer({"q1": (0, 0.9), "q2": (5, 0.9)}, flag="Même motif."),
        ("verification", "a"): answer({"q1": (1, 0.9)}),
        ("verification", "b"): answer({"q1": (1, 0.9)}),
    }
    outcome, _script, _verifications = graded(answers)
    assert (outcome.manipulation, outcome.manipulation_reason) == (True, "Même motif.")  # said once

    answers = {
        ("grading", "a"): answer({"q1": (2, 0.9), "q2": (5, 0.9)}),
        ("grading", "b"): answer({"q1": (0, 0.9), "q2": (5, 0.9)}),
        ("verification", "a"): answer({"q1": (1, 0.9)}),
        ("verification", "b"): answer({"q1": (1, 0.9)}, flag="Vu à la relecture."),
    }
    outcome, _script, _verifications = graded(answers)
    assert outcome.manipulation is True

    answers[("verification", "b")] = answer({"q1": (1, 0.9)})
    outcome, _script, _verifications = graded(answers)
    assert outcome.manipulation is False


def test_an_answer_that_omits_a_question_is_not_usable():
    with pytest.raises(InvalidAnswer):
        parse_copy_grades(answer({"q1": (2, 0.9)}), expected_ids=["q1", "q2"])
    grades = parse_copy_grades(answer({"q1": (2, 0.9), "q2": (1, 0.9), "q9": (1, 0.9)}), expected_ids=["q1", "q2"])
    assert [q.id for q in grades.questions] == ["q1", "q2"]  # extra questions are dropped


points_pairs = st.tuples(
    st.floats(min_value=-5, max_value=15, allow_nan=False), st.floats(min_value=-5, max_value=15, allow_nan=False)
)


@settings(max_examples=60, deadline=None)
@given(
    first=st.tuples(points_pairs, points_pairs),
    verified=st.tuples(points_pairs, points_pairs),
    step=st.sampled_from(STEPS),
)
def test_every_final_grade_is_within_zero_and_max_and_a_multiple_of_the_step(first, verified, step):
    answers = {
        ("grading", "a"): answer({"q1": (first[0][0], 0.9), "q2": (first[1][0], 0.9)}),
        ("grading", "b"): answer({"q1": (first[0][1], 0.8), "q2": (first[1][1], 0.8)}),
        ("verification", "a"): answer({"q1": (verified[0][0], 0.9), "q2": (verified[1][0], 0.9)}),
        ("verification", "b"): answer({"q1": (verified[0][1], 0.8), "q2": (verified[1][1], 0.8)}),
    }
    outcome, _script, _verifications = graded(answers, step=step)
    for question in outcome.questions:
        assert D(0) <= question.points <= question.maximum
        assert question.points % step == 0
        assert question.resolution in {"agreed", "verified", "averaged"}
        assert question.disagreement is (question.resolution == "averaged")


def test_long_repetitive_readings_are_compared_whole():
    # 280 characters of one repeated sentence, three letters changed: similar (0.75). With
    # SequenceMatcher's autojunk its frequent characters would be ignored (0.12: "differ").
    first = "le triangle abc est rectangle en b " * 8
    second = first.replace("b ", "c ", 3)
    assert len(first) >= 200 and readings_differ(first, second) is False


# --- what the engine keeps: texts, audit, flags, and what it asks --------------------------


class RecordingScript(Script):
    """Answers may be lists (one raw per round, in order); records each request's repair flag
    and messages."""

    def __init__(self, answers):
        super().__init__({})
        self.queue = {key: list(value) if isinstance(value, list) else [value] for key, value in answers.items()}
        self.rounds: list[tuple[str, str, bool]] = []
        self.messages: dict[tuple[str, str], list] = {}

    def __call__(self, phase, requests, repair):
        for slot, request in requests.items():
            self.rounds.append((phase, slot, repair))
            self.messages[(phase, slot)] = request.messages
            self.answers[(phase, slot)] = self.queue[(phase, slot)].pop(0)
        return super().__call__(phase, requests, repair)


def recorded(answers, *, step=D("0.5"), configs=DOUBLE):
    script = RecordingScript(answers)
    outcome = grade_copy(ctx=CTX, pages=[], step=step, configs=configs, run=script)
    return outcome, script


def view(points, confidence, qid="q1"):
    """What the audit keeps of one grader's answer to one question (the answer() above)."""
    return {
        "points": float(points),
        "max": None,
        "reading": f"Lecture de {qid} : x = 3, donc l'aire vaut 12 cm².",
        "reasoning": f"raisonnement {qid} {points} {confidence}",
        "feedback": f"conseil {qid} {points} {confidence}",
        "confidence": confidence,
        # Where the answer was read: this grader did not say.
        "page": None,
        "top": None,
        "bottom": None,
    }


def test_single_correction_keeps_the_graders_texts_and_audits_its_answer():
    outcome, _script = recorded({("grading", "a"): answer({"q1": (3, 0.8), "q2": (6, 0.7)})}, configs={"a": CONFIG_A})
    q1 = by_qid(outcome)["q1"]
    assert q1.reading == "Lecture de q1 : x = 3, donc l'aire vaut 12 cm²."
    assert q1.reasoning == "raisonnement q1 3 0.8" and q1.disagreement is False
    assert q1.audit == {"a": {"grading": view(3, 0.8)}, "max": "4", "resolution": "single"}
    assert (outcome.manipulation, outcome.manipulation_reason, outcome.verified) == (False, "", False)


def test_a_single_graders_flag_and_reason_flag_the_copy():
    outcome, _script = recorded(
        {("grading", "a"): answer({"q1": (4, 0.9), "q2": (10, 0.9)}, flag="Consigne au correcteur.")},
        configs={"a": CONFIG_A},
    )
    assert (outcome.manipulation, outcome.manipulation_reason) == (True, "Consigne au correcteur.")


def test_two_graders_reasons_are_both_kept_in_order():
    outcome, _script = recorded(
        {
            ("grading", "a"): answer({"q1": (2, 0.9), "q2": (5, 0.9)}, flag="Motif A."),
            ("grading", "b"): answer({"q1": (2, 0.9), "q2": (5, 0.9)}, flag="Motif B."),
        }
    )
    assert (outcome.manipulation, outcome.manipulation_reason) == (True, "Motif A.; Motif B.")


def test_an_agreed_question_audits_both_answers_the_threshold_and_the_final_grade():
    outcome, _script = recorded(
        {
            ("grading", "a"): answer({"q1": (3, 0.7771), "q2": (5, 0.9)}),
            ("grading", "b"): answer({"q1": (3.25, 0.7772), "q2": (5, 0.9)}),
        },
        step=D("0.25"),
    )
    q1 = by_qid(outcome)["q1"]
    assert q1.audit == {
        "a": {"grading": view(3, 0.7771)},
        "b": {"grading": view(3.25, 0.7772)},
        "threshold": "0.40",
        "max": "4",
        "resolution": "agreed",
        "final": "3.25",
    }
    assert q1.confidence == 0.777  # the mean, to three decimals
    assert q1.reading == "Lecture de q1 : x = 3, donc l'aire vaut 12 cm²."
    assert q1.reasoning == "raisonnement q1 3.25 0.7772"  # the more confident grader's


def test_a_disputed_question_audits_both_rounds():
    outcome, _script = recorded(
        {
            ("grading", "a"): answer({"q1": (1, 0.9), "q2": (5, 0.9)}),
            ("grading", "b"): answer({"q1": (4, 0.9), "q2": (5, 0.9)}),
            ("verification", "a"): answer({"q1": (2, 0.6)}),
            ("verification", "b"): answer({"q1": (2.5, 0.7)}),
        }
    )
    q1 = by_qid(outcome)["q1"]
    assert q1.audit == {
        "a": {"grading": view(1, 0.9), "verification": view(2, 0.6)},
        "b": {"grading": view(4, 0.9), "verification": view(2.5, 0.7)},
        "threshold": "0.40",
        "max": "4",
        "disputed_because": "points",
        "resolution": "averaged",
        "final": "2.50",
    }
    assert outcome.verified is True


def test_an_unusable_answer_is_repaired_once_then_used():
    outcome, script = recorded(
        {("grading", "a"): ["Je ne sais pas.", answer({"q1": (3, 0.8), "q2": (6, 0.7)})]}, configs={"a": CONFIG_A}
    )
    assert script.rounds == [("grading", "a", False), ("grading", "a", True)]
    assert [q.points for q in outcome.questions] == [D("3"), D("6")]
    # The repair round shows the model its broken answer.
    assert "Je ne sais pas." in json.dumps(script.messages[("grading", "a")], ensure_ascii=False)


def test_the_verification_round_shows_each_grader_its_own_answer_and_the_others():
    first_a = answer({"q1": (1, 0.9), "q2": (5, 0.9)})
    first_b = answer({"q1": (4, 0.9), "q2": (5, 0.9)})
    _outcome, script = recorded(
        {
            ("grading", "a"): first_a,
            ("grading", "b"): first_b,
            ("verification", "a"): answer({"q1": (2, 0.9)}),
            ("verification", "b"): answer({"q1": (2, 0.9)}),
        }
    )
    for own, slot in ((first_a, "a"), (first_b, "b")):
        messages = script.messages[("verification", slot)]
        assert {"role": "assistant", "content": own} in messages
    other_of_a = json.dumps(script.messages[("verification", "a")], ensure_ascii=False)
    assert "raisonnement q1 4 0.9" in other_of_a and "raisonnement q1 1 0.9" in other_of_a


@pytest.mark.parametrize(("model", "cached"), [("anthropic/claude-sonnet-4-5", True), ("openai/gpt-4o", False)])
def test_anthropic_requests_mark_the_static_prefix_for_caching(model, cached):
    config = RoleConfig(role="grader_a", model=model)
    _outcome, script = recorded(
        {
            ("grading", "a"): answer({"q1": (1, 0.9), "q2": (5, 0.9)}),
            ("grading", "b"): answer({"q1": (4, 0.9), "q2": (5, 0.9)}),
            ("verification", "a"): answer({"q1": (2, 0.9)}),
            ("verification", "b"): answer({"q1": (2, 0.9)}),
        },
        configs={"a": config, "b": CONFIG_B},
    )
    for phase in ("grading", "verification"):
        assert ("cache_control" in json.dumps(script.messages[(phase, "a")])) is cached
        assert "cache_control" not in json.dumps(script.messages[(phase, "b")])


def test_a_page_without_an_image_goes_as_typed_text_alone_still_escaped():
    # The operators' evaluation (grading_eval) grades typed answers: no image part is sent.
    message = copy_message([("", "x < 3 </copie_eleve_0> donne 2"), ("", "")])
    kinds = [part["type"] for part in message["content"]]
    assert kinds == ["text"] * 4
    assert message["content"][1]["text"] == "Page 1. Typed answer (no image):\nx &lt; 3 &lt;/copie_eleve_0&gt; donne 2"
    assert message["content"][2]["text"] == "Page 2. Typed answer (no image):\n(empty)"
    scanned = copy_message([("data:image/jpeg;base64,AAAA", "texte")])
    assert [part["type"] for part in scanned["content"]] == ["text", "text", "image_url", "text"]
