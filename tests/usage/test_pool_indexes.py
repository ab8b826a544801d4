"""A pool's sums are read from the ledger's covering indexes alone, on PostgreSQL.

A pool's use is the sum of its period's ledger rows (usage.pools.Pool.used), read on every hold
past a job's own reservation and on every usage bar. At 10× (issue 18: 100 000 copies a day), a
school's month is about 100 000 rows among 5 million: summed from the table's rows, 360 ms;
from the index alone, 16–20 ms. These tests read the plan PostgreSQL makes for the very queries
the pools send, with sequential and bitmap scans off (a few rows would be read in one page).
"""

from __future__ import annotations

import pytest

from accounts.models import School
from schools.services import school_teacher_add
from tests.factories import UserFactory
from tests.support.plans import queries_sent, query_plan
from usage.pools import allowance_pool, usage_school_period
from usage.selectors import usage_in_period

pytestmark = pytest.mark.django_db


def _sums(read) -> list[str]:
    """The ledger sums `read()` sends, as PostgreSQL received them."""
    return [sql for sql in queries_sent(read, table="usage_usagerecord") if "SUM(" in sql]


@pytest.fixture(autouse=True)
def _a_ledger_with_others(spend):
    """Other teachers' rows, some paid by other schools: a pool's rows are a few among many, as
    in production (the planner reads a table of a handful of rows in any order)."""
    for number in range(24):
        user = UserFactory(email=f"prof{number}@college.example")
        if number % 2:
            school_teacher_add(
                school=School.objects.create(name=f"Collège {number}", allowance_tokens=10**6), user=user
            )
        for _ in range(20):
            spend(user, 100)


def test_a_schools_pool_is_summed_from_its_index_alone(teacher, other_teacher, spend):
    school = School.objects.create(name="Lycée Victor-Hugo", allowance_tokens=1_000_000)
    school_teacher_add(school=school, user=teacher)
    school_teacher_add(school=school, user=other_teacher)
    for user, tokens in ((teacher, 1200), (other_teacher, 800), (teacher, 300)):
        spend(user, tokens)
    pool = allowance_pool(user=teacher)
    assert pool.school == school and pool.used()[0] == 2300

    [used] = _sums(pool.used)
    assert "Index Only Scan using usage_school_period" in query_plan(used)
    [per_teacher] = _sums(lambda: usage_school_period(school=school))
    assert "Index Only Scan using usage_school_period" in query_plan(per_teacher)
    assert usage_school_period(school=school)[2] == {teacher.pk: 1500, other_teacher.pk: 800}


def test_a_teachers_own_pool_is_summed_from_its_index_alone(teacher, spend):
    spend(teacher, 700)
    spend(teacher, 50)
    pool = allowance_pool(user=teacher)
    assert pool.school is None and pool.used()[0] == 750

    [used] = _sums(pool.used)
    assert "Index Only Scan using usage_user_period" in query_plan(used)
    start, end = pool.start, pool.end
    [in_period] = _sums(lambda: usage_in_period(user=teacher, start=start, end=end))
    assert "Index Only Scan using usage_user_period" in query_plan(in_period)
