from django.urls import path

from . import views

urlpatterns = [
    path("confidentialite/", views.privacy, name="privacy"),
    path("mentions-legales/", views.legal_notice, name="legal_notice"),
]
