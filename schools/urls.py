from django.urls import path

from . import views

urlpatterns = [
    path("", views.school_home, name="school_home"),
    path("<int:pk>/", views.school_detail, name="school_detail"),
    path("<int:pk>/invite/", views.school_invite, name="school_invite"),
    path("<int:pk>/teachers/<int:user_id>/remove/", views.school_teacher_remove, name="school_teacher_remove"),
    # The kwarg is not "token": that name marks a student's private link (test_isolation).
    path("join/<str:invitation_token>/", views.invitation_accept, name="school_invitation_accept"),
]
