"""The top menu by role: a solo teacher chooses their plan, a school's teacher has none to choose
(the school's admin manages it), a school's admin reaches the school's page (its plan and usage)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from schools.services import school_teacher_add

pytestmark = pytest.mark.django_db

LABELS = {"fr": ("Offres", "Mon établissement"), "en": ("Plans", "My school")}


def _menu(client, user, language: str) -> list[str]:
    user.language = language
    user.save()
    client.force_login(user)
    page = client.get(reverse("dashboard")).content.decode()
    nav = re.search(r'<nav aria-label="[^"]+">(.*?)</nav>', page, re.S)
    assert nav, page[:500]
    return [label.strip() for label in re.findall(r"<a [^>]*>([^<]+)</a>", nav.group(1))]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_solo_teacher_is_offered_the_plans(client, teacher, language):
    plans, school = LABELS[language]
    menu = _menu(client, teacher, language)
    assert plans in menu and school not in menu


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_school_teacher_has_no_plans_link(client, school_teacher, language):
    plans, school = LABELS[language]
    menu = _menu(client, school_teacher, language)
    assert plans not in menu and school not in menu
    assert len(menu) >= 3  # the rest of the menu is still there (dashboard, classes, preferences)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_school_admin_reaches_the_schools_page_and_keeps_their_own_plans(client, school_admin, school, language):
    plans, school_link = LABELS[language]
    menu = _menu(client, school_admin, language)
    assert school_link in menu and plans in menu


def test_a_school_admin_who_teaches_there_reaches_the_school_page_only(client, school_admin, school):
    school_teacher_add(school=school, user=school_admin)
    menu = _menu(client, school_admin, "fr")
    assert "Mon établissement" in menu and "Offres" not in menu


def test_a_teacher_who_left_the_school_is_offered_the_plans_again(client, school, school_teacher, school_admin):
    client.force_login(school_admin)
    client.post(reverse("school_teacher_remove", args=[school.pk, school_teacher.pk]))
    assert "Offres" in _menu(client, school_teacher, "fr")
