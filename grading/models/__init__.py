"""Exams, their barème, copies, pages, grading jobs and grades.

States: a Copy goes queued → grading → verifying → done, or failed (with a reason),
cancelled, quota_reached, and back to queued on a re-run. A GradingJob is running → finished
or cancelled; its Exam follows: draft → grading → graded or cancelled, and grading again with
the next job. A Proposal (a barème or a class split read by a task) is pending → running → ready or
failed. Every status change is a conditional UPDATE (StatusTransitions).
"""

from __future__ import annotations

from ..roster_models import ExamStudent
from .appreciations import AppreciationRun
from .calibration import Calibration, CalibrationGrade
from .exams import Copy, Exam, GradingJob, Page, Question, SourceFile, page_upload_to, source_upload_to
from .exports import ExportFile
from .grades import FEEDBACK_STALE, Grade, GradeEdit, ModelAnswer, feedback_shown
from .links import RegradeRequest, StudentLink, StudentLinkAccess
from .proposals import Proposal
from .summary import ClassSummary

__all__ = [
    "FEEDBACK_STALE",
    "AppreciationRun",
    "Calibration",
    "CalibrationGrade",
    "ClassSummary",
    "Copy",
    "Exam",
    "ExamStudent",
    "ExportFile",
    "Grade",
    "GradeEdit",
    "GradingJob",
    "ModelAnswer",
    "Page",
    "Proposal",
    "Question",
    "RegradeRequest",
    "SourceFile",
    "StudentLink",
    "StudentLinkAccess",
    "feedback_shown",
    "page_upload_to",
    "source_upload_to",
]
