from django.urls import path

from . import api_views

urlpatterns = [
    path("billing/status/", api_views.status, name="api_billing_status"),
]
