"""A school's teachers spend one pool: never beyond it, each call still ledgered per teacher."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from accounts.models import School
from schools.services import SchoolError, school_teacher_add, school_teacher_remove
from tests.factories import UserFactory
from tests.support.deadlines import scaled
from usage.selectors import TIER_LIMITS, Tier, usage_bar_html, usage_summary
from usage.services import Hold, QuotaExceeded, usage_hold, usage_reserve, usage_settle

from .conftest import POOL

pytestmark = pytest.mark.django_db


def test_the_pool_can_be_used_exactly_to_its_last_token(school_teacher, colleague, spend):
    spend(school_teacher, 6_000)
    usage_reserve(user=colleague, key="job-exact", tokens=POOL - 6_000)
    assert usage_summary(user=school_teacher).remaining == 0
    assert usage_summary(user=colleague).remaining == 0


def test_one_token_over_the_pool_is_refused_with_one_missing(school_teacher, colleague, spend):
    spend(school_teacher, 6_000)
    with pytest.raises(QuotaExceeded) as refused:
        usage_reserve(user=colleague, key="job-over", tokens=POOL - 6_000 + 1)
    assert refused.value.missing == 1


def test_the_pool_ignores_the_teachers_own_tier(school_teacher):
    # FREE alone would allow far more than this pool of 10 000.
    assert TIER_LIMITS[Tier.FREE] > POOL + 1
    with pytest.raises(QuotaExceeded):
        usage_reserve(user=school_teacher, key="job-free", tokens=POOL + 1)


def test_each_call_stays_in_its_teachers_ledger(school_teacher, colleague, spend):
    spend(school_teacher, 1_000)
    spend(colleague, 2_500)
    assert usage_summary(user=school_teacher).tokens_used == 3_500  # the pool's
    assert school_teacher.usage_records.get().total_tokens == 1_000
    assert colleague.usage_records.get().total_tokens == 2_500


def test_a_copy_cannot_hold_beyond_the_pool(school_teacher, colleague, spend):
    usage_reserve(user=school_teacher, key="job", tokens=1_000)
    spend(colleague, POOL - 1_000 - 500)
    assert usage_hold(pool_key="job", unit="copy-1", need=1_500) == Hold.GRANTED  # 1 000 held + 500 left
    assert usage_hold(pool_key="job", unit="copy-2", need=1) != Hold.GRANTED


def test_a_teacher_removed_mid_period_leaves_their_usage_in_the_pool_and_gets_their_own_allowance(
    school, school_teacher, colleague, spend
):
    spend(school_teacher, 6_000)
    assert school_teacher_remove(school=school, user=school_teacher)
    # The school still counts what they spent while a member…
    with pytest.raises(QuotaExceeded) as refused:
        usage_reserve(user=colleague, key="job-after", tokens=POOL - 6_000 + 1)
    assert refused.value.missing == 1
    usage_reserve(user=colleague, key="job-exact", tokens=POOL - 6_000)
    # …and the teacher is back on their own FREE allowance, untouched by the school's calls.
    own = usage_summary(user=school_teacher)
    assert (own.school, own.limit, own.tokens_used) == ("", TIER_LIMITS[Tier.FREE], 0)
    spend(school_teacher, 700)
    assert usage_summary(user=school_teacher).tokens_used == 700
    assert usage_summary(user=colleague).tokens_used == 6_000


def test_a_removed_teacher_running_job_still_holds_the_pool_it_started_on(school, school_teacher, colleague):
    # A job spends the pool it started on to its end (usage.pools): the school's here, so the
    # teacher's own allowance is never charged for it (tests/schools/test_join_mid_job.py).
    usage_reserve(user=school_teacher, key="job-running", tokens=4_000)
    assert usage_summary(user=colleague).reserved == 4_000
    school_teacher_remove(school=school, user=school_teacher)
    assert usage_summary(user=colleague).reserved == 4_000
    assert usage_summary(user=school_teacher).reserved == 0
    usage_settle(key="job-running")
    assert usage_summary(user=colleague).reserved == 0


def test_a_teacher_belongs_to_one_school_at_a_time(school_teacher):
    other = School.objects.create(name="Collège Jean-Moulin", allowance_tokens=1)
    with pytest.raises(SchoolError):
        school_teacher_add(school=other, user=school_teacher)


def test_the_bar_says_who_pays_and_whom_to_ask_at_the_limit(school_teacher, spend, settings):
    spend(school_teacher, POOL)
    html = usage_bar_html(user=school_teacher)
    assert "Offert par Lycée Victor-Hugo" in html
    assert "Contactez l'administrateur de votre établissement" in html
    assert "mailto:direction@lycee-hugo.example" in html
    assert "Voir les offres" not in html and "changer d'offre" not in html
    school_teacher.language = "en"
    school_teacher.save()
    html = usage_bar_html(user=school_teacher)
    assert "Offered by Lycée Victor-Hugo" in html
    assert "Contact your school's administrator" in html


@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_by_a_schools_teachers_cannot_together_exceed_its_pool():
    assert connection.vendor == "postgresql"
    school = School.objects.create(name="Lycée Victor-Hugo", allowance_tokens=100_000)
    teachers = [UserFactory() for _ in range(4)]
    for user in teachers:
        school_teacher_add(school=school, user=user)
    per_job, starts = 15_000, 20  # room for 6 such jobs in the pool, not 7
    barrier = threading.Barrier(starts)
    outcomes: list[str] = []
    lock = threading.Lock()

    def start(index: int) -> None:
        try:
            barrier.wait(timeout=scaled(30))
            usage_reserve(user=teachers[index % 4], key=f"job-{index}", tokens=per_job)
            outcome = "held"
        except QuotaExceeded:
            outcome = "refused"
        except Exception as error:  # noqa: BLE001 — reported by the assertion below
            outcome = repr(error)
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(starts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=scaled(60))
    assert sorted(outcomes) == ["held"] * 6 + ["refused"] * 14, outcomes
    assert usage_summary(user=teachers[0]).reserved == 6 * per_job
