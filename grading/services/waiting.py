"""What the exam page's note and the job-finished email say of the copies a partial launch left
waiting for the allowance (Copy.Status.DEFERRED), counted once by waiting_note so that both
always say the same: how many wait, how many of them the allowance takes now (by the resume's
own rule, services.deferred), and for the others what will start them — a renewal, with its
date, only when the allowance renews (never on FREE); a change of plan for a teacher of their
own, the school raising its pool (and its admin's contact) for a school's."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.errors import ApplicationError
from usage.selectors import UsageSummary

from ..models import Copy, Exam, GradingJob
from .estimate import job_estimate


@dataclass(frozen=True)
class WaitingNote:
    waiting: int  # copies waiting for the allowance
    restart: int  # of them, those the allowance takes now (none while a job of the exam runs)
    page: list[str]  # the exam page's note
    email: list[str]  # the job-finished email's paragraph

    @property
    def contact(self) -> bool:
        """Some copies wait for more allowance than there is: point to the plans, or to the
        school's admin (each medium words it: a mailto link on the page, a sentence by email)."""
        return self.waiting > self.restart


def waiting_note(*, exam: Exam, summary: UsageSummary, running: GradingJob | None) -> WaitingNote | None:
    """What to say of `exam`'s copies waiting for the allowance, None when none waits.
    `running`: the exam's running job (its waiting copies cannot start before it ends)."""
    waiting = list(exam.copies.filter(status=Copy.Status.DEFERRED).order_by("id").values_list("pk", flat=True))
    if not waiting:
        return None
    count, restart = len(waiting), 0
    if running is None:
        try:  # job_start's `partial` rule, which the resume applies
            restart = job_estimate(exam=exam, copy_ids=waiting).fitting(summary.remaining)
        except ApplicationError:  # a model misconfigured: the resume will not start them either
            restart = 0
    still, running_now = count - restart, running is not None
    page = [_page_opening(exam, running), _waiting_sentence(summary, count)]
    page.append(_room_sentence(restart) if restart else _start_sentence(summary, count, running_now))
    email = [_restart_sentence(restart)] if restart else []
    if still:  # with nothing restarting, the page's own two sentences
        email += [_waiting_sentence(summary, still), _start_sentence(summary, still, running_now)]
    return WaitingNote(waiting=count, restart=restart, page=[sentence for sentence in page if sentence], email=email)


def _waiting_sentence(summary: UsageSummary, count: int) -> str:
    """« N copies attendent que votre allocation (celle de l'établissement) le permette. »"""
    if summary.school:
        return ngettext(
            "%(count)s copie attend que l'allocation de %(school)s le permette.",
            "%(count)s copies attendent que l'allocation de %(school)s le permette.",
            count,
        ) % {"count": count, "school": summary.school}
    return ngettext(
        "%(count)s copie attend que votre allocation le permette.",
        "%(count)s copies attendent que votre allocation le permette.",
        count,
    ) % {"count": count}


def _either(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return _("%(list)s ou %(last)s") % {"list": ", ".join(items[:-1]), "last": items[-1]}


def _start_sentence(summary: UsageSummary, count: int, running: bool) -> str:
    """What starts the `count` waiting copies (`running`: a job of the exam is running)."""
    when = []
    if running:
        when.append(_("à la fin de la correction en cours si elle laisse assez d'allocation"))
    if summary.has_monthly_reset and summary.period_end is not None:
        renewal = date_format(timezone.localtime(summary.period_end), "DATE_FORMAT")
        when.append(_("au renouvellement de l'allocation le %(date)s") % {"date": renewal})
    when.append(
        _("quand l'établissement augmentera son allocation") if summary.school else _("après un changement d'offre")
    )
    return ngettext("Elle partira d'elle-même %(when)s.", "Elles partiront d'elles-mêmes %(when)s.", count) % {
        "when": _either(when)
    }


def _page_opening(exam: Exam, running: GradingJob | None) -> str:
    """What the job took while it runs (the live progress below counts them as they finish),
    else how many copies are graded ("" when none is)."""
    if running is not None:
        launched = running.total_copies
        return ngettext(
            "%(count)s copie est en cours de correction.", "%(count)s copies sont en cours de correction.", launched
        ) % {"count": launched}
    graded = exam.copies.filter(status=Copy.Status.DONE).count()
    if not graded:
        return ""
    return ngettext("%(count)s copie est corrigée.", "%(count)s copies sont corrigées.", graded) % {"count": graded}


def _room_sentence(count: int) -> str:
    """The page: room a resume has not taken yet (a new period the beat has not seen, a job's
    end whose resume is on its way): the beat's next pass, or the teacher's start."""
    return ngettext(
        "L'allocation en permet maintenant %(count)s : elle partira d'elle-même dans le quart d'heure, "
        "ou lancez-la ci-dessous.",
        "L'allocation en permet maintenant %(count)s : elles partiront d'elles-mêmes dans le quart d'heure, "
        "ou lancez-les ci-dessous.",
        count,
    ) % {"count": count}


def _restart_sentence(count: int) -> str:
    """The email: what the job gave back lets them start, but the resume comes after the email
    is built and a colleague of the same school (or another exam) may take the room first: « peut
    repartir », and the resume's own email says when they do."""
    return ngettext(
        "%(count)s copie qui attendait l'allocation peut repartir maintenant : un courriel vous préviendra "
        "dès qu'elle repart.",
        "%(count)s copies qui attendaient l'allocation peuvent repartir maintenant : un courriel vous préviendra "
        "dès qu'elles repartent.",
        count,
    ) % {"count": count}
