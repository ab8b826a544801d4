"""Reserving tokens at job start, growing past the estimate, settling exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from core.errors import ApplicationError
from tests.support.deadlines import scaled
from usage.models import Reservation
from usage.selectors import TIER_LIMITS, Tier, usage_summary
from usage.services import (
    Hold,
    QuotaExceeded,
    usage_hold,
    usage_plan_set,
    usage_reservations_expire,
    usage_reserve,
    usage_settle,
    usage_unit_settle,
    usage_units_settle,
)


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_starts_cannot_together_exceed_the_allowance(teacher):
    assert connection.vendor == "postgresql"
    per_job = TIER_LIMITS[Tier.FREE] // 7 + 1  # room for 6 such jobs, not 7
    starts = 20
    barrier = threading.Barrier(starts)
    outcomes: list[str] = []
    lock = threading.Lock()

    def start(index: int) -> None:
        try:
            barrier.wait(timeout=scaled(30))
            usage_reserve(user=teacher, key=f"job-{index}", tokens=per_job)
            outcome = "held"
        except QuotaExceeded:
            outcome = "refused"
        except Exception as error:  # noqa: BLE001 — reported by the assertion below
            outcome = repr(error)
        finally:
            connections.close_all()  # each thread had its own connection
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(starts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=scaled(60))

    assert sorted(set(outcomes)) == ["held", "refused"], outcomes
    held = Reservation.objects.filter(user=teacher, state=Reservation.State.HELD)
    assert held.count() == TIER_LIMITS[Tier.FREE] // per_job == outcomes.count("held")
    assert sum(held.values_list("tokens", flat=True)) <= TIER_LIMITS[Tier.FREE]
    assert usage_summary(user=teacher).remaining == TIER_LIMITS[Tier.FREE] - 6 * per_job


@pytest.mark.django_db
def test_a_start_that_does_not_fit_says_how_much_is_missing(teacher, spend):
    spend(teacher, TIER_LIMITS[Tier.FREE] - 10_000)
    with pytest.raises(QuotaExceeded) as refused:
        usage_reserve(user=teacher, key="job-1", tokens=25_000)
    assert (refused.value.needed, refused.value.remaining, refused.value.missing) == (25_000, 10_000, 15_000)
    assert isinstance(refused.value, ApplicationError)  # what views catch, to show its message
    assert "il manque 15\xa0000 jetons" in refused.value.message
    assert not Reservation.objects.exists()


@pytest.mark.django_db
def test_reserving_twice_with_the_same_key_holds_once(teacher):
    first = usage_reserve(user=teacher, key="job-1", tokens=40_000)
    again = usage_reserve(user=teacher, key="job-1", tokens=40_000)
    assert first.pk == again.pk
    assert usage_summary(user=teacher).remaining == TIER_LIMITS[Tier.FREE] - 40_000


@pytest.mark.django_db
def test_held_tokens_shrink_as_the_job_spends_them(teacher, spend):
    usage_reserve(user=teacher, key="job-1", tokens=50_000)
    spend(teacher, 20_000, reservation_key="job-1")
    summary = usage_summary(user=teacher)
    remaining = TIER_LIMITS[Tier.FREE] - 50_000
    assert (summary.tokens_used, summary.reserved, summary.remaining) == (20_000, 30_000, remaining)


@pytest.mark.parametrize("outcome", ["finished", "failed", "cancelled"])
@pytest.mark.django_db
def test_settling_releases_the_unspent_tokens_exactly_once(teacher, spend, outcome):
    usage_reserve(user=teacher, key="job-1", tokens=50_000)
    spend(teacher, 12_000, reservation_key="job-1")
    assert usage_settle(key="job-1", outcome=outcome) is True
    assert usage_settle(key="job-1", outcome=outcome) is False  # a redelivered task
    reservation = Reservation.objects.get(key="job-1")
    assert (reservation.state, reservation.outcome, reservation.tokens_used) == ("settled", outcome, 12_000)
    summary = usage_summary(user=teacher)
    assert (summary.tokens_used, summary.reserved, summary.remaining) == (12_000, 0, TIER_LIMITS[Tier.FREE] - 12_000)


@pytest.mark.django_db(transaction=True)
def test_concurrent_settles_settle_once(teacher):
    usage_reserve(user=teacher, key="job-1", tokens=10_000)
    results: list[bool] = []

    def settle():
        try:
            results.append(usage_settle(key="job-1", outcome="finished"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=settle) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=scaled(30))
    assert sorted(results) == [False, False, False, False, True]


@pytest.mark.django_db
def test_a_late_call_after_settlement_still_counts(teacher, spend):
    usage_reserve(user=teacher, key="job-1", tokens=10_000)
    usage_settle(key="job-1", outcome="cancelled")
    spend(teacher, 3_000, reservation_key="job-1")  # the copy that was in flight
    assert usage_summary(user=teacher).tokens_used == 3_000


@pytest.mark.django_db
def test_a_unit_holds_from_its_jobs_reservation_first(teacher):
    usage_reserve(user=teacher, key="job-1", tokens=30_000)
    assert usage_hold(pool_key="job-1", unit="c1:1", need=10_000) is Hold.GRANTED
    assert Reservation.objects.get(key="job-1").tokens == 20_000
    assert Reservation.objects.get(key="job-1:c1:1").tokens == 10_000
    assert usage_summary(user=teacher).reserved == 30_000  # moved, not added


@pytest.mark.django_db
def test_asking_again_for_what_a_unit_already_holds_changes_nothing(teacher):
    usage_reserve(user=teacher, key="job-1", tokens=30_000)
    usage_hold(pool_key="job-1", unit="c1:1", need=10_000)
    assert usage_hold(pool_key="job-1", unit="c1:1", need=10_000) is Hold.GRANTED  # a redelivery
    assert usage_summary(user=teacher).reserved == 30_000


@pytest.mark.django_db
@pytest.mark.parametrize(("more", "queries"), [(0, 1), (1, None)])
def test_a_round_the_unit_already_covers_is_granted_on_one_read(
    teacher, spend, django_assert_num_queries, more, queries
):
    usage_reserve(user=teacher, key="job-1", tokens=30_000)
    usage_hold(pool_key="job-1", unit="c1:1", need=10_000)
    spend(teacher, 4_000, reservation_key="job-1:c1:1")
    need = 6_000 + more  # 4 000 spent + 6 000 = exactly what it holds
    if queries is None:
        assert usage_hold(pool_key="job-1", unit="c1:1", need=need) is Hold.GRANTED
    else:
        with django_assert_num_queries(queries):
            assert usage_hold(pool_key="job-1", unit="c1:1", need=need) is Hold.GRANTED
    assert Reservation.objects.get(key="job-1:c1:1").tokens == 10_000 + more
    assert Reservation.objects.get(key="job-1").tokens == 20_000 - more


@pytest.mark.django_db
@pytest.mark.parametrize("short", [0, 1])
def test_a_first_round_is_taken_from_the_jobs_reservation_to_its_last_token_then_from_the_allowance(
    teacher, spend, short
):
    usage_reserve(user=teacher, key="job-1", tokens=10_000)
    spend(teacher, 1_000, reservation_key="job-1")  # recorded against the job itself
    assert usage_hold(pool_key="job-1", unit="c1:1", need=9_000 + short) is Hold.GRANTED
    assert Reservation.objects.get(key="job-1:c1:1").tokens == 9_000 + short
    assert Reservation.objects.get(key="job-1").tokens == 1_000  # what it spent; nothing left to move
    summary = usage_summary(user=teacher)
    assert (summary.tokens_used, summary.reserved) == (1_000, 9_000 + short)


@pytest.mark.django_db(transaction=True)
def test_a_first_round_the_job_covers_does_not_wait_for_the_allowances_lock(teacher):
    from usage.models import Allowance

    usage_reserve(user=teacher, key="job-1", tokens=10_000)
    locked, release = threading.Event(), threading.Event()

    def hold_the_allowance_lock() -> None:
        try:
            with transaction.atomic():
                Allowance.objects.select_for_update().get(user=teacher)
                locked.set()
                release.wait(timeout=scaled(60))
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_allowance_lock)
    holder.start()
    try:
        assert locked.wait(timeout=scaled(30))
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '500ms'")
        assert usage_hold(pool_key="job-1", unit="c1:1", need=10_000) is Hold.GRANTED
        # Beyond what the job holds: the allowance is asked, under its lock.
        with pytest.raises(OperationalError):
            usage_hold(pool_key="job-1", unit="c2:1", need=1)
    finally:
        release.set()
        holder.join(timeout=scaled(30))
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    assert Reservation.objects.get(key="job-1:c1:1").tokens == 10_000
    assert Reservation.objects.get(key="job-1").tokens == 0


@pytest.mark.django_db
def test_a_settlement_records_what_the_unit_or_the_job_and_its_units_spent_in_one_statement(
    teacher, spend, django_assert_num_queries
):
    usage_reserve(user=teacher, key="job-1", tokens=30_000)
    for n in (1, 2):
        usage_hold(pool_key="job-1", unit=f"c{n}:1", need=10_000)
        spend(teacher, 1_000 * n, reservation_key=f"job-1:c{n}:1")
    spend(teacher, 500, reservation_key="job-1")
    with django_assert_num_queries(1):
        assert usage_unit_settle(pool_key="job-1", unit="c1:1", outcome="finished")
    assert usage_settle(key="job-1", outcome="finished")
    assert Reservation.objects.get(key="job-1:c1:1").tokens_used == 1_000
    assert Reservation.objects.get(key="job-1").tokens_used == 500 + 1_000 + 2_000
    assert not usage_unit_settle(pool_key="job-1", unit="c1:1", outcome="finished")  # once


@pytest.mark.django_db
def test_each_round_holds_its_worst_case_beyond_what_the_unit_spent(teacher, spend):
    usage_reserve(user=teacher, key="job-1", tokens=0)
    assert usage_hold(pool_key="job-1", unit="c1:1", need=10_000) is Hold.GRANTED
    spend(teacher, 4_000, reservation_key="job-1:c1:1")
    assert usage_hold(pool_key="job-1", unit="c1:1", need=8_000) is Hold.GRANTED
    assert Reservation.objects.get(key="job-1:c1:1").tokens == 12_000
    assert usage_summary(user=teacher).committed == 12_000


@pytest.mark.django_db
@pytest.mark.parametrize(("spare", "granted"), [(0, 4), (-1, 3), (1, 4)])
def test_exactly_enough_for_k_units_holds_k_and_one_token_less_holds_one_fewer(teacher, spend, spare, granted):
    worst = 20_000
    spend(teacher, TIER_LIMITS[Tier.FREE] - (4 * worst + spare))  # leaves exactly 4 × worst + spare
    usage_reserve(user=teacher, key="job-1", tokens=0)
    outcomes = [usage_hold(pool_key="job-1", unit=f"c{n}:1", need=worst) for n in range(5)]
    assert outcomes.count(Hold.GRANTED) == granted
    # Refused while others hold tokens: wait for them to settle.
    assert set(outcomes[granted:]) == {Hold.WAIT}
    summary = usage_summary(user=teacher)
    assert summary.committed <= summary.limit


@pytest.mark.django_db
def test_a_refused_unit_gives_back_its_unspent_hold_and_waits_only_for_others(teacher, spend):
    spend(teacher, TIER_LIMITS[Tier.FREE] - 30_000)
    usage_reserve(user=teacher, key="job-1", tokens=0)
    assert usage_hold(pool_key="job-1", unit="c1:1", need=20_000) is Hold.GRANTED
    spend(teacher, 5_000, reservation_key="job-1:c1:1")
    # The next round needs 20 000 more: 15 000 held unspent + 10 000 free is not enough, and
    # no other unit is in flight: nothing will free tokens.
    assert usage_hold(pool_key="job-1", unit="c1:1", need=30_000) is Hold.EXHAUSTED
    assert Reservation.objects.get(key="job-1:c1:1").tokens == 5_000  # only what it spent


@pytest.mark.django_db
def test_a_settled_unit_or_an_unknown_job_holds_nothing(teacher):
    usage_reserve(user=teacher, key="job-1", tokens=30_000)
    usage_hold(pool_key="job-1", unit="c1:1", need=1_000)
    usage_unit_settle(pool_key="job-1", unit="c1:1", outcome="finished")
    assert usage_hold(pool_key="job-1", unit="c1:1", need=1_000) is Hold.EXHAUSTED
    assert usage_hold(pool_key="nope", unit="c1:1", need=1) is Hold.EXHAUSTED


@pytest.mark.django_db
def test_settling_a_job_settles_its_units_still_held(teacher):
    usage_reserve(user=teacher, key="job-1", tokens=30_000)
    for n in range(3):
        usage_hold(pool_key="job-1", unit=f"c{n}:1", need=1_000)
    usage_unit_settle(pool_key="job-1", unit="c0:1")
    assert usage_units_settle(pool_key="job-1", outcome="finished") == 2
    assert usage_summary(user=teacher).reserved == 27_000  # the job's own reservation, not settled here


@pytest.mark.django_db
def test_settling_some_units_settles_those_still_held_each_to_what_it_spent(teacher, spend):
    usage_reserve(user=teacher, key="job-1", tokens=30_000)
    for n in range(4):
        usage_hold(pool_key="job-1", unit=f"c{n}:1", need=1_000)
    spend(teacher, 300, reservation_key="job-1:c1:1")
    usage_unit_settle(pool_key="job-1", unit="c0:1")

    assert usage_units_settle(pool_key="job-1", outcome="cancelled", units=["c0:1", "c1:1", "c2:1"]) == 2

    rows = {r.key: (r.state, r.outcome, r.tokens_used) for r in Reservation.objects.filter(key__contains=":")}
    assert rows == {
        "job-1:c0:1": ("settled", "", 0),  # settled before: left as it was
        "job-1:c1:1": ("settled", "cancelled", 300),
        "job-1:c2:1": ("settled", "cancelled", 0),
        "job-1:c3:1": ("held", "", 0),  # not named: still held
    }
    with pytest.raises(ValueError, match="unknown outcome"):
        usage_units_settle(pool_key="job-1", outcome="lost")


@pytest.mark.django_db(transaction=True)
def test_units_holding_at_once_on_many_threads_never_exceed_the_allowance(teacher, spend):
    spend(teacher, TIER_LIMITS[Tier.FREE] - 50_000)
    usage_reserve(user=teacher, key="job-1", tokens=0)
    barrier = threading.Barrier(12)
    outcomes: list[Hold] = []
    lock = threading.Lock()

    def hold(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            outcome = usage_hold(pool_key="job-1", unit=f"c{index}:1", need=9_000)
            with lock:
                outcomes.append(outcome)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=hold, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes.count(Hold.GRANTED) == 5  # 5 × 9 000 ≤ 50 000 < 6 × 9 000
    summary = usage_summary(user=teacher)
    assert summary.committed == TIER_LIMITS[Tier.FREE] - 50_000 + 45_000


@pytest.mark.django_db
def test_an_upgrade_lets_a_refused_start_through(teacher, spend):
    spend(teacher, TIER_LIMITS[Tier.FREE] - 5_000)
    with pytest.raises(QuotaExceeded):
        usage_reserve(user=teacher, key="job-1", tokens=50_000)
    usage_plan_set(user=teacher, tier=Tier.PRO)
    assert usage_reserve(user=teacher, key="job-1", tokens=50_000).tokens == 50_000


@pytest.mark.django_db
def test_stale_reservations_of_lost_jobs_expire(teacher):
    usage_reserve(user=teacher, key="lost", tokens=60_000)
    usage_reserve(user=teacher, key="long", tokens=5_000)
    usage_reserve(user=teacher, key="fresh", tokens=10_000)
    Reservation.objects.filter(key="lost").update(created_at=timezone.now() - timedelta(hours=12, minutes=1))
    Reservation.objects.filter(key="long").update(created_at=timezone.now() - timedelta(hours=11, minutes=59))
    assert usage_reservations_expire() == 1
    assert Reservation.objects.get(key="lost").outcome == "expired"
    assert usage_summary(user=teacher).reserved == 15_000


@pytest.mark.django_db
def test_the_hourly_task_expires_stale_reservations(teacher, settings):
    from usage.tasks import usage_reservations_expire_task

    assert settings.CELERY_BEAT_SCHEDULE["usage-reservations-expire"]["task"] == usage_reservations_expire_task.name
    usage_reserve(user=teacher, key="lost", tokens=60_000)
    Reservation.objects.filter(key="lost").update(created_at=timezone.now() - timedelta(days=2))
    assert usage_reservations_expire_task.apply().get() == 1
