"""The review grid's cells, written in Python: 300 copies × 20 questions are 6 000 cells, and
the template engine spent seconds on them (an include, a csrf token, three URL reversals, a
translation and three number filters each). The HTML is the one `_grade_cell.html` writes on
the copy page (review.js reads both); URLs are reversed once and numbers formatted once per
distinct value."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse
from django.utils import formats
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from ..models import Grade
from ..selectors.review import LOW_CONFIDENCE, ReviewRow

_PK = 987654321  # reversed once, replaced by each grade's id


class _Numbers:
    """floatformat:"-2" in the active language, memoised (points repeat across a class)."""

    def __init__(self) -> None:
        self.separator = str(formats.get_format("DECIMAL_SEPARATOR"))
        self.seen: dict[Decimal, str] = {}

    def __call__(self, value: Decimal) -> str:
        text = self.seen.get(value)
        if text is None:
            rounded = value.quantize(Decimal("0.01")).normalize()
            text = f"{rounded:f}".replace(".", self.separator)
            self.seen[value] = text
        return text


def grid_cells(rows: list[ReviewRow], columns: list[int], *, csrf_token: str, next_url: str) -> list[SafeString]:
    """Each row's cells (`<td>`…) for the shown questions (`columns`, 0-based), in order."""
    number = _Numbers()
    update_url = reverse("grade_update", args=[_PK])
    restore_url = reverse("grade_restore", args=[_PK])
    pick_url = reverse("grade_pick", args=[_PK])
    hidden = (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf_token)}">'
        f'<input type="hidden" name="next" value="{escape(next_url)}">'
    )
    label_pattern = _("%(student)s, question %(n)s")
    restore_pattern = _("Rétablir la note de l'IA : %(label)s")
    ai = escape(_("IA"))
    stale = _stale_badge_pattern()
    html_rows = []
    for row_index, row in enumerate(rows):
        student = row.copy.student_label
        parts = []
        for col_index, column in enumerate(columns):
            grade = row.cells[column]
            if grade is None:
                parts.append('<td class="cell"><span class="muted">—</span></td>')
                continue
            parts.append(
                _cell(
                    grade,
                    row_index=row_index,
                    col_index=col_index,
                    label=label_pattern % {"student": student, "n": column + 1},
                    restore_pattern=restore_pattern,
                    update_url=update_url.replace(str(_PK), str(grade.pk)),
                    restore_url=restore_url.replace(str(_PK), str(grade.pk)),
                    pick_url=pick_url.replace(str(_PK), str(grade.pk)) if grade.double_corrected else "",
                    hidden=hidden,
                    number=number,
                    ai=ai,
                    stale=_stale_fill(stale, grade) if getattr(grade, "feedback_stale", False) else "",
                )
            )
        html_rows.append(mark_safe("".join(parts)))  # noqa: S308  # nosec B308 B703 (every value above is escaped)
    return html_rows


def _stale_badge_pattern() -> str:
    """The engine's comment beside points the teacher changed (FEEDBACK_STALE): not exported.
    A link to the answer on the copy page, for copy _PK and question _PK + 1."""
    title = escape(_("Les points ont changé : le commentaire de l'IA n'est pas exporté tant qu'il n'est pas revu."))
    label = escape(_("Commentaire à revoir"))  # outside the f-string, where makemessages finds it
    return (
        f'<a class="badge feedback-stale" data-testid="feedback-stale" title="{title}"'
        f' href="{reverse("copy_detail", args=[_PK])}#question-{_PK + 1}">{label}</a>'
    )


def _stale_fill(pattern: str, grade: Grade) -> str:
    """The badge's pattern filled in for this grade's copy and question."""
    return pattern.replace(str(_PK + 1), str(grade.question_id)).replace(str(_PK), str(grade.copy_id))


def feedback_stale_badge(grade: Grade) -> SafeString:
    """One cell's badge, as the grid writes it (sent with a grade's edit so it shows at once)."""
    return mark_safe(_stale_fill(_stale_badge_pattern(), grade))  # noqa: S308  # nosec B308 B703 (escaped above)


def _cell(
    grade: Grade,
    *,
    row_index: int,
    col_index: int,
    label: str,
    restore_pattern: str,
    update_url: str,
    restore_url: str,
    pick_url: str,
    hidden: str,
    number: _Numbers,
    ai: str,
    stale: str = "",
) -> str:
    classes = "cell"
    if grade.edited:
        classes += " edited"
    if grade.disagreement:
        classes += " disagreement"
    if grade.confidence < LOW_CONFIDENCE:
        classes += " low"
    if grade.needs_review:
        classes += " needs-review"
    points = number(grade.points)
    restore_label = escape(restore_pattern % {"label": label})
    label = escape(label)
    # Keys a, b and m take grader A's points, B's or their mean (review.js).
    pick = f' data-pick="{pick_url}"' if pick_url else ""
    return (
        f'<td class="{classes}">'
        f'<form method="post" action="{update_url}" class="cell-form" data-grade>{hidden}'
        f'<input type="text" name="points" inputmode="decimal" autocomplete="off" class="grade-input"'
        f' value="{points}" data-saved="{points}" data-row="{row_index}" data-col="{col_index}"'
        f' data-restore="{restore_url}"{pick} aria-label="{label}" aria-describedby="grid-help"></form>'
        f'<span class="ai-points{"" if grade.edited else " hidden"}">'
        f'<span class="muted">{ai} {number(grade.ai_points)}</span>'
        f'<form method="post" action="{restore_url}" class="inline" data-restore-form>{hidden}'
        f'<button type="submit" class="link" aria-label="{restore_label}" tabindex="-1">↺</button></form>'
        f"</span>{stale}</td>"
    )
