from django.urls import path

from .views import bareme, copies, exams, exports, files, grading, links, proposals, review, roster, summary

urlpatterns = [
    path("exams/new/", exams.exam_create, name="exam_create"),
    path("exams/demo/", exams.demo_class, name="demo_class"),
    path("exams/<int:pk>/", exams.exam_detail, name="exam_detail"),
    path("exams/<int:pk>/edit/", exams.exam_edit, name="exam_edit"),
    path("exams/<int:pk>/delete/", exams.exam_delete, name="exam_delete"),
    # The barème
    path("exams/<int:pk>/questions/", bareme.question_add, name="question_add"),
    path("exams/<int:pk>/questions/<int:question_pk>/", bareme.question_update, name="question_update"),
    path("exams/<int:pk>/questions/<int:question_pk>/delete/", bareme.question_delete, name="question_delete"),
    path("exams/<int:pk>/questions/<int:question_pk>/move/", bareme.question_move, name="question_move"),
    path("exams/<int:pk>/bareme/extract/", bareme.bareme_extract, name="bareme_extract"),
    path("exams/<int:pk>/bareme/proposals/<int:proposal_pk>/", bareme.bareme_proposal, name="bareme_proposal"),
    path("proposals/<int:pk>/status/", proposals.proposal_status, name="proposal_status"),
    path("exams/<int:pk>/bareme/confirm/", bareme.bareme_confirm, name="bareme_confirm"),
    # Copies in
    path("exams/<int:pk>/copies/upload/", copies.copies_upload, name="copies_upload"),
    path("exams/<int:pk>/copies/class/", copies.class_upload, name="class_upload"),
    path("sources/<int:pk>/split/", copies.source_split, name="source_split"),
    path("sources/<int:pk>/split/propose/", copies.source_split_propose, name="source_split_propose"),
    path("sources/<int:pk>/thumbnails/<int:index>/", files.source_thumbnail, name="source_thumbnail"),
    path("copies/<int:pk>/delete/", copies.copy_delete, name="copy_delete"),
    # Grading
    path("exams/<int:pk>/start/", grading.exam_start, name="exam_start"),
    path("exams/<int:pk>/cancel/", grading.exam_cancel, name="exam_cancel"),
    path("exams/<int:pk>/progress/", grading.exam_progress, name="exam_progress"),
    # Review
    path("exams/<int:pk>/review/", review.exam_review, name="exam_review"),
    path("copies/<int:pk>/", review.copy_detail, name="copy_detail"),
    path("grades/<int:pk>/", review.grade_update, name="grade_update"),
    path("grades/<int:pk>/restore/", review.grade_restore, name="grade_restore"),
    path("grades/<int:pk>/pick/", review.grade_pick, name="grade_pick"),
    path("grades/<int:pk>/feedback/", review.grade_feedback, name="grade_feedback"),
    path("copies/<int:pk>/appreciation/", review.copy_appreciation, name="copy_appreciation"),
    path("copies/<int:pk>/rename/", review.copy_rename, name="copy_rename"),
    path("copies/<int:pk>/reviewed/", review.copy_reviewed, name="copy_reviewed"),
    path("copies/<int:pk>/regrade/", review.copy_regrade, name="copy_regrade"),
    # The class summary
    path("exams/<int:pk>/summary/", summary.exam_summary, name="exam_summary"),
    path("exams/<int:pk>/summary/update/", summary.exam_summary_update, name="exam_summary_update"),
    path("exams/<int:pk>/summary.pdf", summary.exam_summary_pdf, name="exam_summary_pdf"),
    # The class list
    path("exams/<int:pk>/students/<int:student_pk>/status/", roster.exam_student_status, name="exam_student_status"),
    path("copies/<int:pk>/student/", roster.copy_student, name="copy_student"),
    path("exams/<int:pk>/pronote/<str:fmt>/", roster.exam_export_pronote, name="exam_export_pronote"),
    # Files out
    path("sources/<int:pk>/file/", files.source_file, name="source_file"),
    path("copies/<int:pk>/pages/<int:index>/", files.page_image, name="page_image"),
    path("exams/<int:pk>/subject/", files.exam_subject, name="exam_subject"),
    path("exams/<int:pk>/export/<str:fmt>/", files.exam_export, name="exam_export"),
    path("copies/<int:pk>/annotated.pdf", files.copy_annotated, name="copy_annotated"),
    path("exams/<int:pk>/exports/", exports.exam_exports, name="exam_exports"),
    path("exams/<int:pk>/exports/start/", exports.exam_export_start, name="exam_export_start"),
    path("exports/<int:pk>/", exports.export_status, name="export_status"),
    path("exports/<int:pk>/download/", exports.export_download, name="export_download"),
    path("exams/<int:pk>/files/purge/", files.exam_files_purge, name="exam_files_purge"),
    # Handing the copies back: the teacher's side, then the student's private link.
    path("exams/<int:pk>/links/", links.exam_links, name="exam_links"),
    path("exams/<int:pk>/links/print/", links.exam_links_print, name="exam_links_print"),
    path("exams/<int:pk>/links/send/", links.exam_links_send, name="exam_links_send"),
    path("exams/<int:pk>/links/revoke/", links.exam_links_revoke, name="exam_links_revoke"),
    path("copies/<int:pk>/links/revoke/", links.copy_links_revoke, name="copy_links_revoke"),
    path("r/<str:token>/", links.student_copy, name="student_copy"),
    path("r/<str:token>/copie.pdf", links.student_copy_pdf, name="student_copy_pdf"),
    path("r/<str:token>/regrade/", links.student_regrade, name="student_regrade"),
    path("copies/<int:pk>/regrades/<int:regrade_pk>/answer/", links.regrade_answer, name="regrade_answer"),
]
