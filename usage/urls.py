from django.urls import path

from . import views

urlpatterns = [
    path("bar/", views.usage_bar, name="usage_bar"),
]
