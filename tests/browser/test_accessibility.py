"""axe-core (WCAG 2.1 A and AA rules) on the pages a teacher, a school admin, a student and a
visitor use, in Debian's Chromium: sign-in (and refused) and sign-up, the offers, the dashboard,
an exam with copies double-corrected through the engine and the scripted LLM server, its review
grid and by-question review, a copy's page with its appréciation (also with a grade it refuses,
and at a phone's width), the exports, the class summary, the students' links and the student's
copy, a new exam, the classes and a class's list, subscription and preferences, the school admin's
page; in French, and three again in English. A violation of impact serious or critical fails the
test, printed with its rule, its help and the nodes it found."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from accounts.models import School
from grading import services
from grading.models import Copy
from grading.services.appreciation import copy_appreciation_draft
from grading.services.links import copy_link_issue
from rosters.importing import roster_rows_parse
from rosters.services import roster_import, school_class_create
from schools.services import school_teacher_add
from tests.browser.conftest import login
from tests.factories import UserFactory, copy_with_pages, exam_with_bareme

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BLOCKING = {"serious", "critical"}
# axe leaves a reference to a missing id "to review" (the element might come later); on a page
# that has finished loading it is a broken reference: counted like a violation.
BROKEN_WHEN_INCOMPLETE = {"aria-valid-attr-value"}
WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
# (rule id, CSS selector of a node) that axe may report and this test does not count; each with why.
EXCLUDED: set[tuple[str, str]] = set()
STUDENTS = ["Abadie Léa", "Bernard Hugo", "Petit Inès"]


def _violations(page) -> list[str]:
    """Each serious or critical violation on the page: its rule, its help and its nodes."""
    found = []
    response = Axe().run(page, options=WCAG_21_AA).response
    broken = [result for result in response["incomplete"] if result["id"] in BROKEN_WHEN_INCOMPLETE]
    for violation in response["violations"] + broken:
        if violation["impact"] not in BLOCKING:
            continue
        targets = [
            " ".join(node["target"])
            for node in violation["nodes"]
            if (violation["id"], " ".join(node["target"])) not in EXCLUDED
        ]
        if targets:
            found.append(f"{violation['id']} ({violation['impact']}) {violation['help']}: {targets[:8]}")
    return found


def _contrast_on_white(css_color: str) -> float:
    """Contrast ratio against white of a computed CSS colour (rgb or rgba, blended over white)."""
    red, green, blue, *alpha = (float(part) for part in re.search(r"rgba?\(([^)]*)\)", css_color)[1].split(","))
    opacity = alpha[0] if alpha else 1.0

    def linear(channel: float) -> float:
        value = (channel * opacity + 255 * (1 - opacity)) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    return 1.05 / (luminance + 0.05)


@pytest.fixture
def school_with_graded_exam(llm, eager_tasks):
    """A school (set up by the operator) whose teacher imported a class list and had three copies
    double-corrected through the engine and the scripted server, one with its appréciation drafted."""
    admin = UserFactory(email="direction@lycee-hugo.example")
    teacher = UserFactory(email="prof.abadie@lycee-hugo.example")
    school = School.objects.create(name="Lycée Victor-Hugo", city="Besançon", allowance_tokens=200_000)
    school.admins.add(admin)
    school_teacher_add(school=school, user=teacher)
    school_class = school_class_create(teacher=teacher, name="3e B", school_year="2026-2027")
    roster_import(school_class=school_class, rows=roster_rows_parse(text="ABADIE Léa\nBERNARD Hugo\nPETIT Inès\n"))
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2, title="Triangles", school_class=school_class)
    copies = [copy_with_pages(exam, pages=1, label=name) for name in STUDENTS]
    services.job_start(exam=exam, user=teacher)  # graded inline, through the scripted server
    assert {copy.status for copy in Copy.objects.filter(exam=exam)} == {Copy.Status.DONE}
    copy_appreciation_draft(copy=copies[0], user=teacher)
    return {"admin": admin, "teacher": teacher, "school": school, "class": school_class, "exam": exam}


def test_the_main_pages_have_no_serious_or_critical_axe_violation(
    school_with_graded_exam, asgi_server, page, screenshot
):
    data, base = school_with_graded_exam, asgi_server.url
    exam = data["exam"]
    copy = exam.copies.get(student_label=STUDENTS[0])  # the one with its appréciation
    problems: dict[str, list[str]] = {}

    def check(name: str, path: str | None = None) -> None:
        """axe on `path` once loaded, or on the page as it is now."""
        if path:
            page.goto(f"{base}{path}")
        screenshot(page, name)
        found = _violations(page)
        if found:
            problems[name] = found

    check("offers, visitor", "/billing/pricing/")
    check("sign-up", "/accounts/signup/")
    check("sign-in", "/accounts/login/")
    page.fill("input[name=login]", data["teacher"].email)
    page.fill("input[name=password]", "pas le bon mot de passe")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    expect(page.locator("main .errorlist, main [role=alert]").first).to_be_visible()
    check("sign-in refused")

    login(page, base, data["teacher"])
    teacher_pages = {
        "dashboard": "/",
        "exam": f"/exams/{exam.pk}/",
        "review grid": f"/exams/{exam.pk}/review/",
        "copy": f"/copies/{copy.pk}/",
        "exports": f"/exams/{exam.pk}/exports/",
        "classes": "/classes/",
        "class list": f"/classes/{data['class'].pk}/",
        "offers": "/billing/pricing/",
        "subscription and invoices": "/billing/invoices/",
        "preferences": "/settings/",
        "new exam": "/exams/new/",
        "by question": f"/exams/{exam.pk}/review/questions/",
        "class summary": f"/exams/{exam.pk}/summary/",
        "student links": f"/exams/{exam.pk}/links/",
    }
    for name, path in teacher_pages.items():
        check(name, path)

    # A grade refused on the copy page: the field says so and the reason is announced.
    assert page.console_errors == []
    page.goto(f"{base}{teacher_pages['copy']}")
    cell = page.locator(".grade-input").first
    cell.fill("99")
    cell.press("Enter")
    expect(cell).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("status").filter(has_text="La note doit être entre 0 et 4")).to_be_visible()
    check("copy, grade refused")
    cell.press("Escape")  # back to the saved grade, which leaving the field then does not send
    expect(page.locator(".grid-status")).to_have_text("")
    page.console_errors.clear()  # the refused grade's answer (400), as expected
    # What axe does not measure: a field's edge and its focus ring at 3:1 on white (WCAG 1.4.11).
    field = page.locator("#appreciation-text")
    field.focus()
    edge, ring = field.evaluate("el => [getComputedStyle(el).borderTopColor, getComputedStyle(el).boxShadow]")
    assert _contrast_on_white(edge) >= 3 and _contrast_on_white(ring) >= 3, (edge, ring)
    page.set_viewport_size({"width": 390, "height": 844})
    check("copy 390", teacher_pages["copy"])
    page.set_viewport_size({"width": 1280, "height": 900})
    assert page.locator("html").get_attribute("lang") == "fr"

    with page.expect_navigation():
        page.get_by_role("button", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    for name in ("dashboard", "review grid", "copy"):
        check(f"{name} (en)", teacher_pages[name])

    page.context.clear_cookies()
    issued = copy_link_issue(copy=copy, user=data["teacher"])  # the link the teacher gives the student
    check("student's copy", "/r/" + issued.url.split("/r/", 1)[1])
    login(page, base, data["admin"])
    check("school admin", f"/schools/{data['school'].pk}/")
    # Each part of the page under a heading (axe's WCAG rules do not ask it): the invitation form too.
    invite = page.get_by_role("form", name="Inviter un enseignant")
    expect(invite.get_by_role("textbox", name="Adresse e-mail de l'enseignant")).to_be_visible()
    expect(page.get_by_role("heading", name="Inviter un enseignant", level=3)).to_be_visible()

    assert problems == {}, "\n".join(f"{name}:\n  " + "\n  ".join(found) for name, found in problems.items())
    assert page.console_errors == []
