from django.urls import path

from . import views

urlpatterns = [
    path("", views.class_list, name="class_list"),
    path("new/", views.class_create, name="class_create"),
    path("<int:pk>/", views.class_detail, name="class_detail"),
    path("<int:pk>/edit/", views.class_edit, name="class_edit"),
    path("<int:pk>/delete/", views.class_delete, name="class_delete"),
    path("<int:pk>/import/", views.roster_import, name="roster_import"),
    path("<int:pk>/students/", views.student_add, name="student_add"),
    path("students/<int:student_pk>/", views.student_edit, name="student_edit"),
    path("students/<int:student_pk>/delete/", views.student_delete, name="student_delete"),
]
