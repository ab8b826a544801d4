"""Structured answers of the models, validated with pydantic, and their normalisation."""

from __future__ import annotations

import json
import math
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext_noop
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from core.i18n import translatable
from core.text import squash_spaces

from .errors import InvalidAnswer


class QuestionGrade(BaseModel):
    id: str
    points: float
    max: float | None = None
    reading: str = ""
    reasoning: str = ""
    feedback: str = ""
    confidence: float = 0.5
    # Where the answer was read: the copy's page (1-based) and its vertical span on that page,
    # 0 at the top, 1 at the bottom. Only used to print the comment next to the answer, so a
    # placement that cannot be used is dropped (None), never a reason to refuse the grades.
    page: int | None = None
    top: float | None = None
    bottom: float | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value):
        return str(value)

    @field_validator("confidence")
    @classmethod
    def _confidence_in_range(cls, value: float) -> float:
        return min(max(value, 0.0), 1.0)

    @field_validator("page", mode="before")
    @classmethod
    def _page_or_none(cls, value):
        number = _number_or_none(value)
        if number is None or number != int(number) or not 1 <= number <= PLACEMENT_MAX_PAGE:
            return None
        return int(number)

    @field_validator("top", "bottom", mode="before")
    @classmethod
    def _fraction_or_none(cls, value):
        number = _number_or_none(value)
        return None if number is None else min(max(number, 0.0), 1.0)

    @model_validator(mode="after")
    def _span_ordered(self) -> QuestionGrade:
        if self.page is None or self.top is None:
            self.top = self.bottom = None
        elif self.bottom is None:
            self.bottom = self.top
        elif self.bottom < self.top:
            self.top, self.bottom = self.bottom, self.top
        return self

    def placement_clamped(self, page_count: int) -> tuple[int | None, float | None, float | None]:
        """(page, top, bottom) on a copy of `page_count` pages: a page it does not have is no page."""
        if self.page is None or self.page > page_count:
            return None, None, None
        return self.page, self.top, self.bottom


PLACEMENT_MAX_PAGE = 10_000


def _number_or_none(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


class Manipulation(BaseModel):
    flag: bool = False
    reason: str = ""


class CopyGrades(BaseModel):
    questions: list[QuestionGrade]
    manipulation: Manipulation = Field(default_factory=Manipulation)

    def by_id(self) -> dict[str, QuestionGrade]:
        return {question.id: question for question in self.questions}


class BaremeQuestion(BaseModel):
    label: str = Field(min_length=1, max_length=300)
    max_points: Decimal = Field(gt=0, le=1000)
    criteria: str = ""


class BaremeProposal(BaseModel):
    """A barème read from a subject / corrigé, for the teacher to review before saving."""

    questions: list[BaremeQuestion] = Field(min_length=1, max_length=100)

    @property
    def total(self) -> Decimal:
        return sum((question.max_points for question in self.questions), Decimal(0))


class CopySplit(BaseModel):
    student_label: str = Field(min_length=1, max_length=200)
    first_page: int = Field(ge=1)
    last_page: int = Field(ge=1)


class AppreciationDraft(BaseModel):
    """The general appréciation of a copy, written for the student (a few sentences)."""

    appreciation: str = Field(min_length=1, max_length=2000)


class ClassSummaryDraft(BaseModel):
    """What to tell the class: its three strengths and three most shared difficulties."""

    strengths: list[str] = Field(min_length=1, max_length=3)
    difficulties: list[str] = Field(min_length=1, max_length=3)

    @field_validator("strengths", "difficulties")
    @classmethod
    def _sentences(cls, value: list[str]) -> list[str]:
        sentences = [squash_spaces(item)[:400] for item in value]
        if not all(sentences):
            raise ValueError("empty sentence")
        return sentences


class NameReading(BaseModel):
    """The student's name as written in the header of a copy's first page ("" when illegible)."""

    name: str = Field(default="", max_length=200)


class SplitProposal(BaseModel):
    """How a whole-class PDF splits into copies (1-based inclusive page ranges)."""

    copies: list[CopySplit] = Field(min_length=1)

    def check_pages(self, page_count: int) -> SplitProposal:
        previous = 0
        for item in self.copies:
            if item.first_page > item.last_page or item.last_page > page_count or item.first_page <= previous:
                raise InvalidAnswer(
                    translatable(
                        gettext_noop("Découpage incohérent : pages %(first)s à %(last)s (le document en a %(count)s)."),
                        first=item.first_page,
                        last=item.last_page,
                        count=page_count,
                    )
                )
            previous = item.last_page
        return self


class NonFiniteNumber(ValueError):
    """NaN, Infinity or a number too large for a float (1e999) in a model's JSON."""


def _non_finite(constant: str) -> float:
    # json.loads accepts NaN and ±Infinity (not JSON): the database refuses them in jsonb,
    # and no points, maximum or confidence can be one.
    raise NonFiniteNumber(constant)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteNumber(text)
    return value


def extract_json(raw: str) -> dict:
    """The JSON object in a model's answer: from its first "{" to its last "}", so code fences
    and text around it are left out."""
    text = raw.strip()
    # `end <= start` only excludes "}" before "{": they can never be equal (an equivalent mutant).
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise InvalidAnswer(translatable(gettext_noop("La réponse du modèle ne contient pas d'objet JSON.")), raw=raw)
    try:
        # From "{" to "}", json.loads gives a dict or raises.
        return json.loads(text[start : end + 1], parse_constant=_non_finite, parse_float=_finite_float)
    except NonFiniteNumber as exc:
        message = translatable(
            gettext_noop(
                "La réponse du modèle contient un nombre non fini (%(value)s) : seuls des nombres réels sont acceptés."
            ),
            value=exc.args[0],
        )
        raise InvalidAnswer(message, raw=raw) from exc
    except ValueError as exc:
        message = translatable(gettext_noop("La réponse du modèle n'est pas du JSON valide (%(error)s)."), error=exc)
        raise InvalidAnswer(message, raw=raw) from exc


def parse_model(raw: str, model: type[BaseModel], *, truncated: bool = False):
    if truncated:
        raise InvalidAnswer(
            translatable(gettext_noop("La réponse du modèle a été tronquée (limite de longueur atteinte).")), raw=raw
        )
    data = extract_json(raw)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidAnswer(
            translatable(
                gettext_noop("La réponse du modèle ne suit pas le format attendu (%(where)s : %(error)s)."),
                where=where,
                error=first["msg"],
            ),
            raw=raw,
        ) from exc


def parse_copy_grades(raw: str, *, expected_ids: list[str], truncated: bool = False) -> CopyGrades:
    grades = parse_model(raw, CopyGrades, truncated=truncated)
    missing = [qid for qid in expected_ids if qid not in grades.by_id()]
    if missing:
        raise InvalidAnswer(
            translatable(gettext_noop("La réponse du modèle omet des questions : %(ids)s."), ids=", ".join(missing)),
            raw=raw,
        )
    grades.questions = [q for q in grades.questions if q.id in expected_ids]
    return grades


def normalise_points(points: float | Decimal, *, maximum: Decimal, step: Decimal) -> Decimal:
    """Clamped to [0, max], then rounded to the exam's step (half up), never above max."""
    value = min(max(Decimal(str(points)), Decimal(0)), maximum)
    if step > 0:
        value = (value / step).to_integral_value(rounding=ROUND_HALF_UP) * step
        while value > maximum:
            value -= step
    return value.quantize(Decimal("0.01"))
