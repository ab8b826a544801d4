from django.contrib import admin

from .models import SchoolClass, Student


class StudentInline(admin.TabularInline):
    model = Student
    extra = 0
    fields = ["position", "last_name", "first_name", "number", "email"]


@admin.register(SchoolClass)
class SchoolClassAdmin(admin.ModelAdmin):
    list_display = ["name", "level", "school_year", "teacher"]
    search_fields = ["name", "teacher__email"]
    list_select_related = ["teacher"]
    raw_id_fields = ["teacher"]
    inlines = [StudentInline]
