"""Double correction side by side: what each grader gave one answer (from the engine's audit
of the grade), how the engine settled it, and what the teacher can take instead (a, b, mean)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from ..engine.schema import normalise_points
from ..models import Copy, Grade, ModelAnswer

# What the teacher can take instead of the engine's grade on a double-corrected answer.
PICKS = ("a", "b", "mean")


@dataclass(frozen=True)
class Round:
    """One grader's answer to one question in one round, its points on the question's current
    maximum (rescaled when the barème changed since, never above it)."""

    points: Decimal
    confidence: float
    reading: str
    reasoning: str


@dataclass(frozen=True)
class Grader:
    slot: str
    model: str
    first: Round
    verified: Round | None  # its answer in the verification round, when there was one
    pick: Decimal  # its last points rounded to the exam's step: what the teacher takes

    @property
    def label(self) -> str:
        return str(ModelAnswer.Slot(self.slot).label)


@dataclass(frozen=True)
class DoubleCorrection:
    """Both graders side by side, how the engine settled, and what the teacher can take."""

    a: Grader
    b: Grader
    resolution: str  # Grade.Resolution
    disputed_because: str  # "points", "reading", or "" when agreed at once
    picks: dict[str, Decimal]  # a, b, mean: rounded to the exam's step
    picked: str  # which of them the grade's points are now ("" when none)

    @property
    def graders(self) -> tuple[Grader, Grader]:
        return self.a, self.b

    @property
    def outcome(self) -> str:
        """What the verification round did (or why there was none), for the teacher."""
        if self.resolution == Grade.Resolution.AGREED:
            return _("Accord dès la première correction : vérification inutile.")
        if self.disputed_because == "reading":
            disputed = _("Lectures très différentes")
        else:
            disputed = _("Désaccord sur les points")
        if self.resolution == Grade.Resolution.VERIFIED:
            return _("%(disputed)s, puis accord après la vérification.") % {"disputed": disputed}
        return _("%(disputed)s, toujours en désaccord après la vérification : la moyenne est proposée.") % {
            "disputed": disputed
        }


def _scaled(value: float | Decimal, *, graded_max: Decimal, maximum: Decimal) -> Decimal:
    """A grader's points out of the question's current maximum, in [0, max], unrounded."""
    scaled = Decimal(str(value)) * maximum / graded_max if graded_max else Decimal(0)
    return min(max(scaled, Decimal(0)), maximum)


def _round(view: dict, *, graded_max: Decimal, maximum: Decimal) -> Round:
    points = _scaled(view["points"], graded_max=graded_max, maximum=maximum)
    return Round(
        points=points.quantize(Decimal("0.01")).normalize(),
        confidence=float(view.get("confidence", 0.0)),
        reading=view.get("reading", ""),
        reasoning=view.get("reasoning", ""),
    )


def grade_double_correction(*, grade: Grade, step: Decimal, models: dict[str, str]) -> DoubleCorrection | None:
    """What each grader gave `grade` (from the engine's audit of it), or None when it was not
    reached by two graders. `models`: each slot's model name ("" when unknown)."""
    audit = grade.audit or {}
    if not grade.double_corrected or not all(audit.get(slot, {}).get("grading") for slot in ("a", "b")):
        return None
    # Grades written before the audit kept its maximum were out of the one they still have.
    graded_max = Decimal(str(audit.get("max") or grade.max_points))
    maximum = grade.max_points
    finals = {
        slot: _scaled(
            (audit[slot].get("verification") or audit[slot]["grading"])["points"],
            graded_max=graded_max,
            maximum=maximum,
        )
        for slot in ("a", "b")
    }
    # As the engine rounds: each one's points, or their mean, to the exam's step.
    picks = {slot: normalise_points(finals[slot], maximum=maximum, step=step) for slot in ("a", "b")}
    picks["mean"] = normalise_points((finals["a"] + finals["b"]) / 2, maximum=maximum, step=step)
    graders = {
        slot: Grader(
            slot=slot,
            model=models.get(slot, ""),
            first=_round(audit[slot]["grading"], graded_max=graded_max, maximum=maximum),
            verified=_round(verified, graded_max=graded_max, maximum=maximum)
            if (verified := audit[slot].get("verification"))
            else None,
            pick=picks[slot],
        )
        for slot in ("a", "b")
    }
    return DoubleCorrection(
        a=graders["a"],
        b=graders["b"],
        resolution=grade.resolution,
        disputed_because=audit.get("disputed_because", ""),
        picks=picks,
        picked=next((choice for choice in ("mean", "a", "b") if picks[choice] == grade.points), ""),
    )


def grade_picks(*, grade: Grade) -> dict[str, Decimal] | None:
    """The points the teacher can take for `grade` (a, b, mean), None when single-corrected."""
    double = grade_double_correction(grade=grade, step=grade.copy.exam.rounding_step, models={})
    return double.picks if double else None


def graders_models(copy: Copy) -> dict[str, str]:
    """Each grader slot's model in the copy's last attempt."""
    answers = copy.model_answers.filter(attempt=copy.attempt, phase=ModelAnswer.Phase.GRADING)
    return dict(answers.values_list("slot", "model"))
