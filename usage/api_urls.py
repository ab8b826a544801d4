from django.urls import path

from . import api

urlpatterns = [
    path("usage/", api.usage_detail, name="api_usage"),
    path("exams/<int:exam_id>/cost/", api.exam_cost, name="api_exam_cost"),
]
