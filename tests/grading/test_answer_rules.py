"""What the engine makes of a model's answer, at its edges: the JSON found inside the text,
non-finite numbers, the schema, missing and extra questions, a split proposal's pages. Every
refusal says in French what is wrong and keeps the raw answer (for the repair round and the
audit). Pure functions: no database, no network."""

from __future__ import annotations

import pytest
from django.utils import translation

from grading.engine.errors import InvalidAnswer
from grading.engine.schema import (
    CopyGrades,
    CopySplit,
    NameReading,
    SplitProposal,
    extract_json,
    parse_copy_grades,
    parse_model,
)

pytestmark = pytest.mark.usefixtures("french_only")


@pytest.fixture
def french_only():
    with translation.override("fr"):
        yield


def _refusal(call, *args, **kwargs) -> InvalidAnswer:
    with pytest.raises(InvalidAnswer) as info:
        call(*args, **kwargs)
    return info.value


# --- extract_json: the object inside the text -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ('  \n{"a": 1}\n  ', {"a": 1}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('```\n{"a": 1}\n```', {"a": 1}),
        ('```JSON\n{"a": 1}\n```', {"a": 1}),  # upper-case tag: the brace search still finds it
        ('Voici la note : {"a": {"b": 2}} Bonne journée.', {"a": {"b": 2}}),
        ('{"a": 1.5, "b": -2, "c": 1e3}', {"a": 1.5, "b": -2, "c": 1000.0}),
        ('{"t": "un } dans le texte"}', {"t": "un } dans le texte"}),
        ('{"a": 1}.', {"a": 1}),  # text right after the object
        ("{}", {}),
    ],
)
def test_the_json_object_is_found_inside_the_answer(raw, value):
    assert extract_json(raw) == value


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "La réponse du modèle ne contient pas d'objet JSON."),
        ("Je ne peux pas noter cette copie.", "La réponse du modèle ne contient pas d'objet JSON."),
        ("} puis {", "La réponse du modèle ne contient pas d'objet JSON."),
        ("{", "La réponse du modèle ne contient pas d'objet JSON."),
        ("[1, 2]", "La réponse du modèle ne contient pas d'objet JSON."),
    ],
)
def test_an_answer_without_an_object_is_refused_with_its_raw_text(raw, message):
    refusal = _refusal(extract_json, raw)
    assert str(refusal) == message and refusal.raw == raw


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_constant_is_refused_by_name(constant):
    raw = '{"questions": [{"id": "q1", "points": ' + constant + "}]}"
    refusal = _refusal(extract_json, raw)
    assert str(refusal) == (
        f"La réponse du modèle contient un nombre non fini ({constant}) : seuls des nombres réels sont acceptés."
    )
    assert refusal.raw == raw and isinstance(refusal.__cause__, ValueError)


@pytest.mark.parametrize("number", ["1e999", "-1e999"])
def test_a_float_too_large_is_refused_as_non_finite(number):
    refusal = _refusal(extract_json, '{"points": ' + number + "}")
    assert str(refusal) == (
        f"La réponse du modèle contient un nombre non fini ({number}) : seuls des nombres réels sont acceptés."
    )


def test_the_largest_finite_float_is_accepted():
    assert extract_json('{"points": 1.7976931348623157e308}') == {"points": 1.7976931348623157e308}


def test_invalid_json_is_refused_with_the_decoders_reason():
    raw = '{"points": 2,}'
    refusal = _refusal(extract_json, raw)
    assert str(refusal).startswith("La réponse du modèle n'est pas du JSON valide (")
    assert "line 1 column 14" in str(refusal) and str(refusal).endswith(").")
    assert refusal.raw == raw


# --- parse_model / parse_copy_grades -----------------------------------------------------------


def test_a_truncated_answer_is_refused_before_it_is_read():
    raw = '{"questions": []}'  # valid JSON, but the provider said the length limit cut it
    refusal = _refusal(parse_model, raw, CopyGrades, truncated=True)
    assert str(refusal) == "La réponse du modèle a été tronquée (limite de longueur atteinte)."
    assert refusal.raw == raw
    assert parse_model(raw, CopyGrades, truncated=False).questions == []


def test_a_truncated_copy_answer_is_refused_too():
    raw = '{"questions": [{"id": "q1", "points": 1}]}'
    refusal = _refusal(parse_copy_grades, raw, expected_ids=["q1"], truncated=True)
    assert str(refusal) == "La réponse du modèle a été tronquée (limite de longueur atteinte)."


def test_a_schema_error_names_the_first_field_and_pydantics_reason():
    raw = '{"questions": [{"id": "q1", "points": "beaucoup"}]}'
    refusal = _refusal(parse_model, raw, CopyGrades)
    assert str(refusal) == (
        "La réponse du modèle ne suit pas le format attendu "
        "(questions.0.points : Input should be a valid number, unable to parse string as a number)."
    )
    assert refusal.raw == raw


def test_a_missing_list_is_a_schema_error_at_its_name():
    refusal = _refusal(parse_model, '{"grades": []}', CopyGrades)
    assert str(refusal) == "La réponse du modèle ne suit pas le format attendu (questions : Field required)."


def test_the_expected_questions_are_kept_in_the_answers_order_and_extra_ones_dropped():
    raw = (
        '{"questions": [{"id": 2, "points": 1}, {"id": "q9", "points": 3}, {"id": "1", "points": 0.5}],'
        ' "manipulation": {"flag": true, "reason": "consigne"}}'
    )
    grades = parse_copy_grades(raw, expected_ids=["1", "2"])
    assert [(q.id, q.points) for q in grades.questions] == [("2", 1.0), ("1", 0.5)]
    assert (grades.manipulation.flag, grades.manipulation.reason) == (True, "consigne")


def test_missing_questions_are_named_in_the_expected_order():
    raw = '{"questions": [{"id": "q2", "points": 1}]}'
    refusal = _refusal(parse_copy_grades, raw, expected_ids=["q1", "q2", "q3"])
    assert str(refusal) == "La réponse du modèle omet des questions : q1, q3."
    assert refusal.raw == raw


@pytest.mark.parametrize(("given", "kept"), [(-0.2, 0.0), (0.0, 0.0), (0.42, 0.42), (1.0, 1.0), (1.7, 1.0)])
def test_a_confidence_is_held_within_zero_and_one(given, kept):
    grades = parse_copy_grades(
        '{"questions": [{"id": "q1", "points": 1, "confidence": ' + str(given) + "}]}", expected_ids=["q1"]
    )
    assert grades.questions[0].confidence == kept


def test_an_answer_without_confidence_or_texts_takes_the_defaults():
    (grade,) = parse_copy_grades('{"questions": [{"id": "q1", "points": 1}]}', expected_ids=["q1"]).questions
    assert (grade.confidence, grade.reading, grade.reasoning, grade.feedback, grade.max) == (0.5, "", "", "", None)


def test_a_name_reading_is_at_most_200_characters():
    assert parse_model('{"name": "%s"}' % ("a" * 200), NameReading).name == "a" * 200
    refusal = _refusal(parse_model, '{"name": "%s"}' % ("a" * 201), NameReading)
    assert str(refusal).startswith("La réponse du modèle ne suit pas le format attendu (name : ")


# --- SplitProposal.check_pages: ranges inside the document, in order, not overlapping ---------


def _split(*ranges) -> SplitProposal:
    return SplitProposal(
        copies=[CopySplit(student_label=f"Élève {n}", first_page=a, last_page=b) for n, (a, b) in enumerate(ranges, 1)]
    )


@pytest.mark.parametrize(
    "ranges",
    [
        ((1, 2), (3, 4)),
        ((1, 1), (2, 2), (3, 3), (4, 4)),
        ((1, 4),),  # one copy, exactly the last page
        ((2, 3),),  # a cover page left out
        ((1, 1), (3, 4)),  # a page left out between copies
    ],
)
def test_a_split_within_the_document_is_kept(ranges):
    proposal = _split(*ranges)
    assert proposal.check_pages(4) is proposal


@pytest.mark.parametrize(
    ("ranges", "bad"),
    [
        (((1, 2), (3, 5)), (3, 5)),  # past the last page, by one
        (((2, 1),), (2, 1)),  # backwards
        (((1, 2), (2, 3)), (2, 3)),  # overlapping by one page
        (((1, 2), (1, 2)), (1, 2)),  # the same range twice
        (((3, 4), (1, 2)), (1, 2)),  # out of order
    ],
)
def test_a_split_outside_the_document_or_overlapping_is_refused_at_its_first_bad_copy(ranges, bad):
    refusal = _refusal(_split(*ranges).check_pages, 4)
    assert str(refusal) == f"Découpage incohérent : pages {bad[0]} à {bad[1]} (le document en a 4)."
