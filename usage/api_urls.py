from django.urls import path

from . import api

urlpatterns = [
    path("usage/", api.usage_detail, name="api_usage"),
]
