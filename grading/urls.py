from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("exams/new/", views.exam_create, name="exam_create"),
    path("exams/<int:pk>/", views.exam_detail, name="exam_detail"),
    path("exams/<int:pk>/edit/", views.exam_edit, name="exam_edit"),
    path("exams/<int:pk>/delete/", views.exam_delete, name="exam_delete"),
    path("exams/<int:pk>/questions/", views.question_add, name="question_add"),
    path("exams/<int:pk>/questions/<int:question_pk>/", views.question_update, name="question_update"),
    path("exams/<int:pk>/questions/<int:question_pk>/delete/", views.question_delete, name="question_delete"),
    path("exams/<int:pk>/questions/<int:question_pk>/move/", views.question_move, name="question_move"),
    path("exams/<int:pk>/review/", views.exam_review, name="exam_review"),
    path("copies/<int:pk>/", views.copy_detail, name="copy_detail"),
]
urlpatterns += [
    path("exams/<int:pk>/copies/upload/", views.copies_upload, name="copies_upload"),
    path("exams/<int:pk>/copies/class/", views.class_upload, name="class_upload"),
    path("sources/<int:pk>/split/", views.source_split, name="source_split"),
    path("sources/<int:pk>/file/", views.source_file, name="source_file"),
    path("copies/<int:pk>/delete/", views.copy_delete, name="copy_delete"),
    path("copies/<int:pk>/pages/<int:index>/", views.page_image, name="page_image"),
    path("grades/<int:pk>/", views.grade_update, name="grade_update"),
    path("grades/<int:pk>/restore/", views.grade_restore, name="grade_restore"),
    path("copies/<int:pk>/rename/", views.copy_rename, name="copy_rename"),
    path("copies/<int:pk>/reviewed/", views.copy_reviewed, name="copy_reviewed"),
    path("copies/<int:pk>/regrade/", views.copy_regrade, name="copy_regrade"),
    path("exams/<int:pk>/export/<str:fmt>/", views.exam_export, name="exam_export"),
    path("copies/<int:pk>/annotated.pdf", views.copy_annotated, name="copy_annotated"),
    path("exams/<int:pk>/start/", views.exam_start, name="exam_start"),
    path("exams/<int:pk>/cancel/", views.exam_cancel, name="exam_cancel"),
    path("exams/<int:pk>/progress/", views.exam_progress, name="exam_progress"),
    path("exams/<int:pk>/files/purge/", views.exam_files_purge, name="exam_files_purge"),
    path("exams/<int:pk>/bareme/extract/", views.bareme_extract, name="bareme_extract"),
    path("exams/<int:pk>/bareme/confirm/", views.bareme_confirm, name="bareme_confirm"),
    path("exams/<int:pk>/subject/", views.exam_subject, name="exam_subject"),
]
