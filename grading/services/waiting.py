"""The words for copies waiting on the allowance (Copy.Status.DEFERRED), shared by the exam
page's note (views.deferred) and the job-finished email (services.events), so both say the same:
a renewal, with its date, only when the allowance renews (never on FREE); a change of plan for a
teacher of their own, the school raising its pool (and its admin's contact) for a school's."""

from __future__ import annotations

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from usage.selectors import UsageSummary


def _either(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return _("%(list)s ou %(last)s") % {"list": ", ".join(items[:-1]), "last": items[-1]}


def waiting_sentence(*, summary: UsageSummary, count: int) -> str:
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


def waiting_start_sentence(*, summary: UsageSummary, count: int, running: bool) -> str:
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
