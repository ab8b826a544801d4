"""The classes pages: the list of classes, a class with its roster, import, edits.

Every view loads the class or student through a selector scoped to request.user (another
teacher gets a 404). Refusals are ApplicationErrors shown with their message.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import AuthenticatedHttpRequest
from core.errors import ApplicationError

from . import selectors, services
from .forms import RosterImportForm, SchoolClassForm, StudentForm
from .importing import MAX_BYTES, roster_rows_parse
from .models import SchoolClass


@login_required
@require_GET
def class_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    classes = selectors.school_classes_for(user=request.user)
    return render(request, "rosters/class_list.html", {"classes": classes})


@login_required
@require_http_methods(["GET", "POST"])
def class_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = SchoolClassForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        school_class = services.school_class_create(teacher=request.user, **form.cleaned_data)
        messages.success(request, _("Classe créée. Importez maintenant sa liste d'élèves."))
        return redirect("class_detail", pk=school_class.pk)
    return render(request, "rosters/class_form.html", {"form": form, "school_class": None})


def _detail(request: AuthenticatedHttpRequest, school_class: SchoolClass, **forms) -> HttpResponse:
    context = {
        "school_class": school_class,
        "students": selectors.roster_students(school_class=school_class),
        "import_form": forms.get("import_form") or RosterImportForm(),
        "student_form": forms.get("student_form") or StudentForm(),
    }
    status = 400 if forms else 200
    return render(request, "rosters/class_detail.html", context, status=status)


@login_required
@require_GET
def class_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _detail(request, selectors.school_class_get(user=request.user, pk=pk))


@login_required
@require_http_methods(["GET", "POST"])
def class_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    school_class = selectors.school_class_get(user=request.user, pk=pk)
    form = SchoolClassForm(request.POST or None, instance=school_class)
    if request.method == "POST" and form.is_valid():
        services.school_class_update(school_class=school_class, **form.cleaned_data)
        messages.success(request, _("Classe enregistrée."))
        return redirect("class_detail", pk=school_class.pk)
    return render(request, "rosters/class_form.html", {"form": form, "school_class": school_class})


@login_required
@require_http_methods(["GET", "POST"])
def class_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    school_class = selectors.school_class_get(user=request.user, pk=pk)
    if request.method == "POST":
        services.school_class_delete(school_class=school_class)
        messages.success(request, _("« %(name)s » a été supprimée.") % {"name": school_class.name})
        return redirect("class_list")
    return render(request, "rosters/class_delete.html", {"school_class": school_class})


@login_required
@require_POST
def roster_import(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    school_class = selectors.school_class_get(user=request.user, pk=pk)
    form = RosterImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _detail(request, school_class, import_form=form)
    upload = form.cleaned_data["file"]
    try:
        if upload:
            rows = roster_rows_parse(data=upload.read(MAX_BYTES + 1))
        else:
            rows = roster_rows_parse(text=form.cleaned_data["text"])
        result = services.roster_import(school_class=school_class, rows=rows)
    except ApplicationError as error:
        form.add_error(None, error.message)
        return _detail(request, school_class, import_form=form)
    text = ngettext("%(n)s élève importé.", "%(n)s élèves importés.", result.added) % {"n": result.added}
    if result.skipped:
        text += " " + ngettext(
            "%(n)s déjà dans la liste, laissé tel quel.",
            "%(n)s déjà dans la liste, laissés tels quels.",
            result.skipped,
        ) % {"n": result.skipped}
    messages.success(request, text)
    return redirect("class_detail", pk=school_class.pk)


@login_required
@require_POST
def student_add(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    school_class = selectors.school_class_get(user=request.user, pk=pk)
    form = StudentForm(request.POST)
    if not form.is_valid():
        return _detail(request, school_class, student_form=form)
    services.student_add(school_class=school_class, **form.cleaned_data)
    messages.success(request, _("Élève ajouté à la liste."))
    return redirect("class_detail", pk=school_class.pk)


@login_required
@require_http_methods(["GET", "POST"])
def student_edit(request: AuthenticatedHttpRequest, student_pk: int) -> HttpResponse:
    student = selectors.student_get(user=request.user, pk=student_pk)
    form = StudentForm(request.POST or None, instance=student)
    if request.method == "POST" and form.is_valid():
        services.student_update(student=student, **form.cleaned_data)
        messages.success(request, _("Élève enregistré."))
        return redirect("class_detail", pk=student.school_class_id)
    return render(request, "rosters/student_form.html", {"form": form, "student": student})


@login_required
@require_POST
def student_delete(request: AuthenticatedHttpRequest, student_pk: int) -> HttpResponse:
    student = selectors.student_get(user=request.user, pk=student_pk)
    services.student_delete(student=student)
    messages.success(request, _("%(name)s a été retiré de la liste.") % {"name": student.display_name})
    return redirect("class_detail", pk=student.school_class_id)
