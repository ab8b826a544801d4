"""The school admin's page: teachers, usage per teacher and month from the ledger, removal."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import SchoolMembership
from schools.services import school_teacher_add
from tests.factories import UserFactory
from usage.models import UsageRecord
from usage.selectors import TIER_LIMITS, Tier, usage_summary

pytestmark = pytest.mark.django_db


def test_the_page_shows_each_teachers_usage_this_month_and_per_month(
    admin_client, school, school_teacher, colleague, spend
):
    spend(school_teacher, 1_200)
    spend(colleague, 300)
    spend(colleague, 200)
    # Last month's call by the same teacher (a ledger row's date is when the call happened).
    old = spend(colleague, 4_000)
    UsageRecord.objects.filter(pk=old.pk).update(created_at=timezone.now().replace(day=1) - timedelta(days=3))
    SchoolMembership.objects.filter(user=colleague).update(joined_at=timezone.now() - timedelta(days=60))
    outsider = UserFactory()
    spend(outsider, 9_999)  # not a teacher of the school: not on its page

    page = admin_client.get(reverse("school_detail", args=[school.pk])).content.decode()
    figures = page[page.index('data-testid="pool-figures"') :][:200].replace("\xa0", " ")
    assert "1 700 / 10 000" in figures
    teachers = page[page.index('data-testid="teachers"') : page.index("</table>", page.index('data-testid="teachers"'))]
    assert teachers.index(school_teacher.email) < teachers.index("1 200".replace(" ", "\xa0"))
    months = page[page.index('data-testid="usage-months"') :]
    assert months.count(colleague.email) == 2  # this month and last month
    assert "4\xa0000" in months and "9\xa0999" not in page and outsider.email not in page


def test_the_page_reads_a_bounded_number_of_queries(admin_client, school, spend, django_assert_max_num_queries):
    for _ in range(5):
        teacher = UserFactory()
        school_teacher_add(school=school, user=teacher)
        spend(teacher, 10)
    with django_assert_max_num_queries(12):
        admin_client.get(reverse("school_detail", args=[school.pk]))


def test_removing_a_teacher_mid_period_keeps_their_usage_on_the_page_and_frees_them(
    admin_client, school, school_teacher, spend
):
    spend(school_teacher, 2_500)
    response = admin_client.post(reverse("school_teacher_remove", args=[school.pk, school_teacher.pk]))
    assert response.status_code == 302
    page = admin_client.get(reverse("school_detail", args=[school.pk])).content.decode()
    assert "2\xa0500 / 10\xa0000" in page  # the school paid for it
    teachers = page[page.index('id="teachers"') : page.index('id="usage"')]
    assert school_teacher.email not in teachers
    summary = usage_summary(user=school_teacher)
    assert (summary.school, summary.limit, summary.tokens_used) == ("", TIER_LIMITS[Tier.FREE], 0)
    again = admin_client.post(reverse("school_teacher_remove", args=[school.pk, school_teacher.pk]))
    assert again.status_code == 404


@pytest.mark.parametrize(("language", "amount"), [("fr", "{}\xa0€"), ("en", "€{}")])
def test_the_monthly_cost_reads_in_euros_as_the_teachers_pages_do(
    admin_client, school, school_admin, school_teacher, spend, settings, language, amount
):
    settings.USD_EUR_RATE = Decimal("0.5")  # the operator's rate, easy to check by hand
    record = spend(school_teacher, 2_000_000)
    assert record.total_cost > Decimal("0.1")
    school_admin.language = language
    school_admin.save()
    page = admin_client.get(reverse("school_detail", args=[school.pk])).content.decode()
    months = page[
        page.index('data-testid="usage-months"') : page.index("</table>", page.index('data-testid="usage-months"'))
    ]
    euros = f"{record.total_cost * Decimal('0.5'):.2f}"
    assert amount.format(euros.replace(".", "," if language == "fr" else ".")) in months
    assert "$" not in months


def _form_heading(page: str, action: str) -> str | None:
    """The text of the heading (h2 … h6) that names the form posting to `action` through its
    aria-labelledby, None when it has none."""
    form = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>', page)
    named_by = form and re.search(r'aria-labelledby="([^"]+)"', form[0])
    heading = named_by and re.search(rf'<h([2-6]) id="{named_by[1]}">([^<]+)</h\1>', page)
    return heading[2].strip() if heading else None


@pytest.mark.parametrize(
    ("language", "title", "invite", "invite_title"),
    [
        ("fr", "Consommation par enseignant et par mois", "Inviter", "Inviter un enseignant"),
        ("en", "Usage per teacher and month", "Invite", "Invite a teacher"),
    ],
)
def test_the_page_speaks_the_admins_language(admin_client, school, school_admin, language, title, invite, invite_title):
    school_admin.language = language
    school_admin.save()
    page = admin_client.get(reverse("school_detail", args=[school.pk])).content.decode()
    assert title in page and f">{invite}</button>" in page
    # The invitation form has a heading of its own, which names it for a screen reader.
    assert _form_heading(page, reverse("school_invite", args=[school.pk])) == invite_title


def test_the_navigation_links_the_admin_to_their_school(admin_client, school):
    response = admin_client.get(reverse("school_home"))
    assert response.status_code == 302 and response.url == reverse("school_detail", args=[school.pk])
    assert reverse("school_home") in admin_client.get(reverse("dashboard")).content.decode()


def test_a_teacher_or_another_schools_admin_gets_404(client, school, school_teacher):
    client.force_login(school_teacher)  # a teacher of the school, not its admin
    assert client.get(reverse("school_detail", args=[school.pk])).status_code == 404
    assert client.get(reverse("school_home")).status_code == 404
    assert client.post(reverse("school_invite", args=[school.pk]), {"email": "x@y.example"}).status_code == 404
    url = reverse("school_teacher_remove", args=[school.pk, school_teacher.pk])
    assert client.post(url).status_code == 404
    assert SchoolMembership.objects.get(user=school_teacher).left_at is None
    assert reverse("school_home") not in client.get(reverse("dashboard")).content.decode()
