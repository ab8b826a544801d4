"""The exam page's one note after a partial launch: how many copies are graded or being graded,
how many wait for the allowance and why, and what will start them (services.deferred).

Before a launch the page shows the estimate instead (« permet de corriger 2 copies sur 5 : les 3
autres attendront… »); once copies wait, that estimate would count them again as a launch to
come, so the page shows this note alone."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import ngettext

from usage.selectors import UsageSummary

from ..models import Copy, Exam, GradingJob
from ..services.estimate import JobEstimate, lines_fitting
from ..services.waiting import waiting_sentence, waiting_start_sentence


@dataclass(frozen=True)
class DeferredNote:
    sentences: list[str]
    room_now: int  # waiting copies the allowance takes now (no job running): the beat starts them


def deferred_note(
    *, exam: Exam, summary: UsageSummary, estimate: JobEstimate | None, running_job: GradingJob | None
) -> DeferredNote | None:
    """The note for the copies of `exam` waiting for the allowance, or None when none waits."""
    waiting = list(exam.copies.filter(status=Copy.Status.DEFERRED).order_by("id").values_list("pk", flat=True))
    if not waiting:
        return None
    count = len(waiting)
    sentences = []
    if running_job is not None:
        # The live progress below counts them as they finish: this says what the job took.
        launched = running_job.total_copies
        sentences.append(
            ngettext(
                "%(count)s copie est en cours de correction.", "%(count)s copies sont en cours de correction.", launched
            )
            % {"count": launched}
        )
    else:
        graded = exam.copies.filter(status=Copy.Status.DONE).count()
        if graded:
            sentences.append(
                ngettext("%(count)s copie est corrigée.", "%(count)s copies sont corrigées.", graded)
                % {"count": graded}
            )
    sentences.append(waiting_sentence(summary=summary, count=count))
    room_now = 0
    if running_job is None and estimate is not None:
        ids = set(waiting)
        room_now = lines_fitting([line for line in estimate.lines if line.copy_id in ids], summary.remaining)
    if room_now:
        # Room a resume has not taken yet (a new period the beat has not seen): the beat's next pass.
        sentences.append(
            ngettext(
                "L'allocation en permet maintenant %(count)s : elle partira d'elle-même dans le quart d'heure, "
                "ou lancez-la ci-dessous.",
                "L'allocation en permet maintenant %(count)s : elles partiront d'elles-mêmes dans le quart d'heure, "
                "ou lancez-les ci-dessous.",
                room_now,
            )
            % {"count": room_now}
        )
        return DeferredNote(sentences=sentences, room_now=room_now)
    sentences.append(waiting_start_sentence(summary=summary, count=count, running=running_job is not None))
    return DeferredNote(sentences=sentences, room_now=0)
