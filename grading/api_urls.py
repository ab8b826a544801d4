from django.urls import path

from . import api

urlpatterns = [
    path("exams/", api.exam_list, name="api_exam_list"),
    path("exams/<int:pk>/grades/", api.exam_grades, name="api_exam_grades"),
    path("exams/<int:pk>/cost/", api.exam_cost, name="api_exam_cost"),
]
