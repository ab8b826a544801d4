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
