"""Reads of the grading app, by page; `from grading import selectors` reaches them all.

- lookups: owner-scoped gets by id (another teacher's id is a 404), the dashboard's exams.
- exams: the exam page (barème, copies, grading state, its five steps), the copies a job would grade.
- review: the review grid with statistics, one copy's page.
- appreciations: the copies missing an appréciation, the latest pass drafting them, a copy's block.
- double_correction: both graders of a double-corrected grade, what the teacher can take (A, B, mean).
- by_question: one question across all copies, identical readings grouped.
- progress: the live progress fragment.
- links: the copies handed back and their private links' state.
- roster: the grades in the class list's order (exports, Pronote).
- exports: an exam's export files (owner only, expired ones gone).
- summary: the class's results per question, the questions it failed most, the summary.
- agreement: « accord IA / enseignant », the teacher's final grades against the AI's.
- calibration: the calibration round's copies, its blind form, its figures.
"""

from __future__ import annotations

from .agreement import AgreementFigures, ExamAgreement, exam_agreement, exams_agreement, recent_agreement
from .appreciations import appreciation_run_latest, appreciations_missing, copy_appreciation_block
from .by_question import BY_QUESTION_SORTS, QuestionReview, question_grades, question_review_get, reading_key
from .calibration import (
    INDICATIVE_BELOW,
    CalibrationResults,
    calibration_candidates,
    calibration_copies,
    calibration_results,
    exam_calibration,
)
from .double_correction import PICKS, DoubleCorrection, grade_double_correction, grade_picks
from .exams import (
    ExamSteps,
    Step,
    StepState,
    copy_held_for_calibration,
    exam_deferred_count,
    exam_page_get,
    exam_pages_pending,
    exam_running_job,
    exam_steps,
    gradable_copies,
    source_copies,
)
from .exports import ExportRow, exam_exports, export_get, export_progress_key, export_row
from .links import (
    LinkRow,
    copy_regrade_requests,
    exam_link_recipients,
    exam_links_overview,
    regrade_request_get,
    regrade_requests_open,
    returnable_copies,
)
from .lookups import (
    copy_get,
    exam_average,
    exam_get,
    exams_for_dashboard,
    grade_get,
    page_get,
    proposal_get,
    question_get,
    source_get,
)
from .progress import progress_context, progress_delta_context, progress_delta_html, progress_event_html, progress_html
from .review import (
    GRID_SORTS,
    Review,
    ReviewRow,
    copy_appreciation_stale,
    copy_page_get,
    copy_total,
    feedback_stale_count,
    grade_feedback_stale,
    question_histogram,
    review_get,
    review_rows_select,
)
from .roster import SheetLine, exam_roster, exam_sheet
from .summary import ClassResults, QuestionResult, class_results, class_summary_inputs

__all__ = [
    "appreciation_run_latest",
    "appreciations_missing",
    "copy_appreciation_block",
    "question_histogram",
    "BY_QUESTION_SORTS",
    "QuestionReview",
    "question_grades",
    "question_review_get",
    "reading_key",
    "INDICATIVE_BELOW",
    "CalibrationResults",
    "calibration_candidates",
    "calibration_copies",
    "calibration_results",
    "copy_held_for_calibration",
    "exam_calibration",
    "AgreementFigures",
    "ExamAgreement",
    "exam_agreement",
    "exams_agreement",
    "recent_agreement",
    "ClassResults",
    "QuestionResult",
    "class_results",
    "class_summary_inputs",
    "GRID_SORTS",
    "LinkRow",
    "copy_regrade_requests",
    "regrade_request_get",
    "regrade_requests_open",
    "exam_link_recipients",
    "exam_links_overview",
    "returnable_copies",
    "Review",
    "ReviewRow",
    "SheetLine",
    "copy_appreciation_stale",
    "copy_get",
    "copy_page_get",
    "copy_total",
    "feedback_stale_count",
    "grade_feedback_stale",
    "DoubleCorrection",
    "grade_double_correction",
    "grade_picks",
    "PICKS",
    "exam_average",
    "exam_exports",
    "export_get",
    "export_progress_key",
    "export_row",
    "ExportRow",
    "exam_get",
    "exam_page_get",
    "exam_steps",
    "ExamSteps",
    "Step",
    "StepState",
    "exam_deferred_count",
    "exam_pages_pending",
    "exam_running_job",
    "exam_roster",
    "exam_sheet",
    "exams_for_dashboard",
    "gradable_copies",
    "grade_get",
    "page_get",
    "proposal_get",
    "progress_context",
    "progress_delta_context",
    "progress_delta_html",
    "progress_event_html",
    "progress_html",
    "question_get",
    "review_get",
    "review_rows_select",
    "source_copies",
    "source_get",
]
