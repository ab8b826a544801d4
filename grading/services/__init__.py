"""State changes of the grading app, by subdomain; `from grading import services` reaches them all.

- exams: the exam, its subject / corrigé.
- bareme: the questions, and what a change after grading does to the grades given.
- uploads: students' PDFs in, split into copies, pages rendered.
- detection: the detection model's barème and split readings (ledger recorded).
- proposals: those readings started from a page and run by a task (never in a request).
- names: students' names read on the copies, matched to the class list, masked from graders.
- roster: the exam's class list: absent / excused / not graded, which student a copy is.
- review: grade and feedback edits, restore, a double-corrected answer's pick (A, B, mean), a
  group's grade and answers marked reviewed (by question), the copy's appréciation, reviewed
  flag, renaming.
- appreciation: the copy's appréciation drafted by the grading model (metered); appreciation_run:
  the missing ones of a whole exam, drafted by a task.
- estimate: what a job will cost, each slot's checked model.
- jobs: start (all copies, or those the allowance takes), re-run, cancel, finalize.
- deferred: copies a partial launch left waiting, started when the allowance comes back; waiting:
  what the exam page and the job-finished email say of them (one count for both).
- reconcile, leases, broker: copies whose task is gone (dead worker, lost message) graded again.
- copy_grading: one copy through the engine (the copy task's service); grade_writing: its grades
  written (the teacher's edits and calibration grades kept).
- answers: each provider answer kept, then its ledger row, then its ModelAnswer (ledger first).
- holds: a copy's worst case held on the allowance before each round, settled when it ends.
- manipulation: whether a copy tried to manipulate its grader, and the sentence quoted.
- retention: students' files purged, grades kept.
- events: progress pushed live, the job-finished email.
- links: the copies handed back by private link (issued, revoked, opened, emailed).
- regrades: a student's request for a second look at a question, the teacher's answer.
- evaluation, evaluation_file: the operators' evaluation (manage.py grading_eval): teacher-graded
  text answers graded again by the configured models, agreement figures, every call in the ledger.
- exports: export files built by a worker (the zip, a large class's tables), their expiry.
- summary: the class summary drafted by the grading model (metered), edited, restored.
- demo: the demonstration class (demo mode): barème, subject and eight generated copies.
- calibration: the calibration round (the teacher grades k copies blind, then the AI, metered).
"""

from __future__ import annotations

from .appreciation import copy_appreciation_draft
from .appreciation_run import exam_appreciations_start
from .bareme import (
    GradesChoice,
    GradesChoiceNeeded,
    bareme_replace,
    question_add,
    question_delete,
    question_move,
    question_update,
)
from .calibration import (
    CALIBRATION_DEFAULT,
    CALIBRATION_MAX,
    CalibrationGradesInvalid,
    calibration_create,
    calibration_criteria_update,
    calibration_delete,
    calibration_estimate,
    calibration_rerun,
    calibration_submit,
)
from .copy_failures import copy_fail
from .copy_grading import copy_grade
from .deferred import deferred_resume, deferred_resume_all, exam_deferred_resume
from .demo import demo_class_create
from .estimate import JobEstimate, copy_estimate, job_estimate, role_ready, slot_configs
from .evaluation import EvalReport, eval_configs, eval_operator, eval_run
from .evaluation_file import EvalFileRefused, EvalRow, eval_file_read
from .events import job_finished_notify, progress_push, progress_send
from .exams import exam_create, exam_delete, exam_update
from .exports import (
    export_build,
    export_filename,
    export_in_background,
    export_start,
    exports_expire,
)
from .jobs import copy_rerun, job_cancel, job_finalize, job_start, job_start_copies
from .links import (
    LINK_DAYS_DEFAULT,
    LINK_DAYS_MAX,
    IssuedLink,
    LinksSent,
    copy_link_issue,
    copy_links_revoke,
    exam_links_issue,
    exam_links_revoke,
    exam_links_send,
    exam_links_send_start,
    link_open,
    link_url,
)
from .names import copy_name_match, copy_name_read, copy_pages_for_grading, split_rows_match
from .proposals import bareme_proposal_start, split_proposal_rows, split_proposal_start
from .reconcile import Reconciled, copies_reconcile
from .regrades import regrade_request_answer, regrade_request_file
from .retention import PurgeResult, exam_files_purge, exam_files_purge_expired, retention_days
from .review import (
    appreciation_mark_stale,
    copy_appreciation_edit,
    copy_appreciation_restore,
    copy_rename,
    copy_reviewed_set,
    grade_edit,
    grade_feedback_edit,
    grade_feedback_keep,
    grade_feedback_restore,
    grade_pick,
    grade_restore,
    grades_group_set,
    grades_reviewed_mark,
    points_check,
)
from .roster import copy_student_set, exam_student_mark
from .subject_pages import SUBJECT_PAGES_MAX, SubjectPages, subject_page_jpeg, subject_pages_get
from .summary import class_summary_text, exam_summary_draft, exam_summary_edit, exam_summary_restore
from .uploads import (
    SplitRow,
    copy_delete,
    copy_pages_render,
    source_thumbnails_enqueue,
    source_thumbnails_render,
    source_upload_class,
    source_upload_copy,
    split_apply,
    split_check,
    split_fixed,
    student_label_from_filename,
    thumbnail_key,
)
from .waiting import WaitingNote, waiting_note

__all__ = [
    "exam_appreciations_start",
    "demo_class_create",
    "CALIBRATION_DEFAULT",
    "CALIBRATION_MAX",
    "CalibrationGradesInvalid",
    "calibration_create",
    "calibration_criteria_update",
    "calibration_delete",
    "calibration_estimate",
    "calibration_rerun",
    "calibration_submit",
    "job_start_copies",
    "class_summary_text",
    "exam_summary_draft",
    "exam_summary_edit",
    "exam_summary_restore",
    "LINK_DAYS_DEFAULT",
    "LINK_DAYS_MAX",
    "IssuedLink",
    "LinksSent",
    "copy_link_issue",
    "copy_links_revoke",
    "exam_links_issue",
    "exam_links_revoke",
    "exam_links_send",
    "exam_links_send_start",
    "link_open",
    "link_url",
    "regrade_request_answer",
    "regrade_request_file",
    "EvalFileRefused",
    "EvalReport",
    "EvalRow",
    "eval_configs",
    "eval_file_read",
    "eval_operator",
    "eval_run",
    "GradesChoice",
    "GradesChoiceNeeded",
    "JobEstimate",
    "PurgeResult",
    "Reconciled",
    "SplitRow",
    "appreciation_mark_stale",
    "bareme_proposal_start",
    "bareme_replace",
    "copies_reconcile",
    "copy_appreciation_draft",
    "deferred_resume",
    "deferred_resume_all",
    "exam_deferred_resume",
    "copy_appreciation_edit",
    "copy_appreciation_restore",
    "copy_delete",
    "copy_estimate",
    "copy_fail",
    "copy_grade",
    "copy_name_match",
    "copy_name_read",
    "copy_pages_for_grading",
    "copy_pages_render",
    "copy_rename",
    "copy_rerun",
    "copy_reviewed_set",
    "grade_pick",
    "grades_group_set",
    "grades_reviewed_mark",
    "copy_student_set",
    "exam_create",
    "exam_delete",
    "exam_files_purge",
    "export_build",
    "export_filename",
    "export_in_background",
    "export_start",
    "exports_expire",
    "exam_files_purge_expired",
    "exam_update",
    "exam_student_mark",
    "grade_edit",
    "grade_feedback_edit",
    "grade_feedback_keep",
    "grade_feedback_restore",
    "grade_restore",
    "job_cancel",
    "job_estimate",
    "job_finalize",
    "job_finished_notify",
    "job_start",
    "points_check",
    "progress_push",
    "progress_send",
    "question_add",
    "question_delete",
    "question_move",
    "question_update",
    "retention_days",
    "role_ready",
    "slot_configs",
    "source_thumbnails_enqueue",
    "source_thumbnails_render",
    "source_upload_class",
    "source_upload_copy",
    "split_apply",
    "split_check",
    "split_fixed",
    "split_proposal_rows",
    "split_proposal_start",
    "split_rows_match",
    "student_label_from_filename",
    "SUBJECT_PAGES_MAX",
    "SubjectPages",
    "subject_page_jpeg",
    "subject_pages_get",
    "thumbnail_key",
    "WaitingNote",
    "waiting_note",
]
