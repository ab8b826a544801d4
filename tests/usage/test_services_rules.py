"""The usage services' rules at their boundaries: what a refusal says, a reservation exactly at
what is left, what a ledger row holds, the inputs refused, a reservation's expiry at twelve
hours, what settling records, and a plan change that announces itself only when it changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone, translation

from accounts.models import School
from core.i18n import text_dump, text_load
from schools.services import school_teacher_add
from tests.factories import CopyFactory
from usage.models import Allowance, Reservation, UsageRecord
from usage.pools import allowance_pool
from usage.pricing import call_cost, price_card
from usage.selectors import TIER_LIMITS, Tier, usage_summary
from usage.services import (
    RESERVATION_MAX_AGE,
    Hold,
    QuotaExceeded,
    allowance_changed,
    allowance_released,
    unit_key,
    usage_hold,
    usage_plan_set,
    usage_record,
    usage_reservations_expire,
    usage_reserve,
    usage_settle,
    usage_unit_settle,
    usage_units_settle,
)

FREE = TIER_LIMITS[Tier.FREE]
JAN_5 = datetime(2027, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("needed", "remaining", "missing", "shown"),
    [
        (1_234_567, 1_234_566, 1, (1, 1_234_566)),
        (25_000, 0, 25_000, (25_000, 0)),
        (25_000, -300, 25_000, (25_000, 0)),  # overspent: nothing left, not less than nothing
        (10, 10, 0, (0, 10)),
    ],
)
def test_a_refusal_says_exactly_what_is_missing_and_what_is_left(needed, remaining, missing, shown):
    with translation.override("fr"):
        refusal = QuotaExceeded(needed=needed, remaining=remaining)

    assert (refusal.needed, refusal.remaining, refusal.missing) == (needed, shown[1], missing)
    group = lambda n: f"{n:,}".replace(",", "\xa0")  # noqa: E731 — French grouping
    tokens = "jetons" if missing > 1 else "jeton"  # French: 0 and 1 singular
    assert refusal.message == (
        f"Allocation insuffisante : il manque {group(shown[0])} {tokens} "
        f"(il en reste {group(shown[1])}, cette correction en demande environ {group(needed)})."
    )


REFUSALS = {  # missing: (French, English), with 5 left
    0: ("il manque 0 jeton (il en reste 5,", "0 tokens are missing (5 left,"),
    1: ("il manque 1 jeton (il en reste 5,", "1 token is missing (5 left,"),
    2: ("il manque 2 jetons (il en reste 5,", "2 tokens are missing (5 left,"),
    1_234_567: ("il manque 1\xa0234\xa0567 jetons (il en reste 5,", "1,234,567 tokens are missing (5 left,"),
}


@pytest.mark.parametrize("missing", REFUSALS)
def test_a_refusal_agrees_tokens_with_the_count_missing_in_the_language_it_is_read_in(missing):
    french, english = REFUSALS[missing]
    with translation.override("fr"):
        refusal = QuotaExceeded(needed=5 + missing, remaining=5)
        stored = text_dump(refusal.message, limit=2000)  # a stopped appreciation run keeps it so
    assert french in refusal.message
    with translation.override("en"):
        assert english in QuotaExceeded(needed=5 + missing, remaining=5).message
        # Read later by an English reader: their plural rule and their digit grouping.
        assert english in text_load(stored)
        assert f"this grading needs about {5 + missing:,})." in text_load(stored)


@pytest.mark.django_db
def test_a_reservation_of_exactly_what_is_left_is_held_and_one_token_more_is_not(teacher, spend):
    spend(teacher, FREE - 5_000)
    with pytest.raises(QuotaExceeded) as refused:
        usage_reserve(user=teacher, key="job-2", tokens=5_001)
    assert refused.value.missing == 1

    held = usage_reserve(user=teacher, key="job-1", tokens=5_000)

    assert (held.user, held.key, held.tokens, held.exam_id, held.state) == (teacher, "job-1", 5_000, None, "held")
    assert usage_summary(user=teacher).remaining == 0
    assert usage_reserve(user=teacher, key="job-3", tokens=0).tokens == 0  # nothing left, nothing asked


@pytest.mark.django_db
def test_a_reservation_remembers_its_exam_and_refuses_negative_tokens_or_another_users_key(
    teacher, other_teacher, exam_of
):
    exam = exam_of(teacher)
    assert usage_reserve(user=teacher, key="job-1", tokens=10, exam=exam).exam_id == exam.pk
    with pytest.raises(ValueError, match=r"^tokens must be >= 0$"):
        usage_reserve(user=teacher, key="job-2", tokens=-1)
    with pytest.raises(ValueError, match=r"^reservation 'job-1' belongs to another user$"):
        usage_reserve(user=other_teacher, key="job-1", tokens=10)
    assert list(Reservation.objects.values_list("key", flat=True)) == ["job-1"]


def test_a_units_key_is_its_jobs_key_then_the_unit():
    assert unit_key(pool_key="exam-3-job-7", unit="copy-12:2") == "exam-3-job-7:copy-12:2"


@pytest.mark.django_db
def test_a_negative_hold_is_refused(teacher):
    usage_reserve(user=teacher, key="job-1", tokens=10)
    with pytest.raises(ValueError, match=r"^need must be >= 0$"):
        usage_hold(pool_key="job-1", unit="c1:1", need=-1)


@pytest.mark.django_db
def test_a_ledger_row_holds_the_call_as_litellm_reports_it_and_its_cost(teacher, exam_of):
    exam = exam_of(teacher)
    copy = CopyFactory(exam=exam)
    usage_reserve(user=teacher, key="job-1", tokens=100_000)

    row = usage_record(
        user=teacher,
        phase="verification",
        model="anthropic/claude-sonnet-4-5",
        prompt_tokens=10_000,
        completion_tokens=700,
        cached_read_tokens=6_000,
        cache_write_tokens=3_000,
        reasoning_tokens=200,
        idempotency_key="call-1",
        exam=exam,
        copy=copy,
        reservation_key="job-1",
    )

    cost = call_cost(
        price_card("anthropic/claude-sonnet-4-5"),
        prompt_tokens=10_000,
        completion_tokens=700,
        cached_read_tokens=6_000,
        cache_write_tokens=3_000,
        reasoning_tokens=200,
    )
    row.refresh_from_db()
    assert (row.user, row.exam_id, row.copy_id, row.phase, row.model) == (
        teacher,
        exam.pk,
        copy.pk,
        "verification",
        "anthropic/claude-sonnet-4-5",
    )
    assert (row.prompt_tokens, row.completion_tokens, row.cached_read_tokens, row.cache_write_tokens) == (
        10_000,
        700,
        6_000,
        3_000,
    )
    assert (row.reasoning_tokens, row.total_tokens, row.priced) == (200, 10_700, True)
    assert (row.prompt_cost, row.completion_cost, row.cached_cost, row.total_cost, row.savings) == (
        cost.prompt_cost,
        cost.completion_cost,
        cost.cached_cost,
        cost.total_cost,
        cost.savings,
    )
    assert row.total_cost > 0 and row.savings != 0
    assert (row.reservation.key, row.idempotency_key) == ("job-1", "call-1")


@pytest.mark.django_db
def test_a_row_against_an_unknown_reservation_is_kept_without_one_and_logged(teacher, caplog):
    row = usage_record(
        user=teacher,
        phase="grading",
        model="gpt-4o-mini",
        prompt_tokens=10,
        completion_tokens=0,
        idempotency_key="call-1",
        reservation_key="nobody",
    )
    row.refresh_from_db()
    assert row.reservation is None and row.total_tokens == 10
    assert (row.cached_read_tokens, row.cache_write_tokens, row.reasoning_tokens) == (0, 0, 0)  # the defaults
    [log] = [r for r in caplog.records if r.name == "usage.services"]
    assert (log.levelname, log.getMessage(), log.reservation) == (
        "WARNING",
        "usage recorded against an unknown reservation",
        "nobody",
    )
    usage_reserve(user=teacher, key="job-1", tokens=100)
    caplog.clear()
    usage_record(
        user=teacher,
        phase="grading",
        model="gpt-4o-mini",
        prompt_tokens=10,
        completion_tokens=0,
        idempotency_key="call-2",
        reservation_key="job-1",
    )
    assert [r for r in caplog.records if r.name == "usage.services"] == []


@pytest.mark.django_db
def test_a_row_of_a_model_without_a_price_is_counted_unpriced_and_logged(teacher, caplog):
    row = usage_record(
        user=teacher,
        phase="grading",
        model="ollama/maison",
        prompt_tokens=10,
        completion_tokens=5,
        idempotency_key="call-1",
    )
    assert (row.priced, row.total_tokens, row.total_cost, row.savings) == (False, 15, 0, 0)
    [log] = [r for r in caplog.records if r.name == "usage.services"]
    assert (log.levelname, log.getMessage(), log.model) == ("ERROR", "usage recorded without a price", "ollama/maison")


@pytest.mark.django_db
def test_reasoning_tokens_are_priced_where_the_map_prices_them(teacher):
    model = "dashscope/qwen-turbo"
    row = usage_record(
        user=teacher,
        phase="grading",
        model=model,
        prompt_tokens=1_000,
        completion_tokens=800,
        reasoning_tokens=600,
        idempotency_key="call-1",
    )
    card = price_card(model)
    with_reasoning = call_cost(
        card,
        prompt_tokens=1_000,
        completion_tokens=800,
        cached_read_tokens=0,
        cache_write_tokens=0,
        reasoning_tokens=600,
    )
    assert card.reasoning is not None and card.reasoning != card.output
    assert row.completion_cost == with_reasoning.completion_cost == card.output * 200 + card.reasoning * 600


@pytest.mark.django_db
def test_an_unknown_phase_is_refused_by_name(teacher):
    with pytest.raises(ValueError, match=r"^unknown phase 'marking'$"):
        usage_record(
            user=teacher,
            phase="marking",
            model="gpt-4o-mini",
            prompt_tokens=1,
            completion_tokens=0,
            idempotency_key="k",
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "counts",
    [
        {"prompt_tokens": -1},
        {"completion_tokens": -1},
        {"cached_read_tokens": -1},
        {"cache_write_tokens": -1},
        {"reasoning_tokens": -1},
    ],
)
def test_a_negative_token_count_is_refused(teacher, counts):
    call = {"prompt_tokens": 10, "completion_tokens": 5, **counts}
    with pytest.raises(ValueError, match=r"^token counts must be >= 0$"):
        usage_record(user=teacher, phase="grading", model="gpt-4o-mini", idempotency_key="call-1", **call)
    assert not UsageRecord.objects.exists()


@pytest.mark.django_db
def test_cached_and_written_tokens_may_make_up_the_whole_prompt_but_not_more(teacher):
    usage_record(
        user=teacher,
        phase="grading",
        model="claude-haiku-4-5",
        prompt_tokens=1_000,
        completion_tokens=0,
        cached_read_tokens=600,
        cache_write_tokens=400,
        idempotency_key="whole",
    )
    with pytest.raises(ValueError) as refused:
        usage_record(
            user=teacher,
            phase="grading",
            model="claude-haiku-4-5",
            prompt_tokens=1_000,
            completion_tokens=0,
            cached_read_tokens=600,
            cache_write_tokens=401,
            idempotency_key="more",
        )
    assert str(refused.value) == (
        "prompt_tokens must include cached and cache-write tokens (litellm's normalised usage), "
        "got prompt=1000 cached=600 cache_write=401"
    )
    assert list(UsageRecord.objects.values_list("idempotency_key", flat=True)) == ["whole"]


@pytest.mark.django_db
def test_a_reservation_held_twelve_hours_expires_and_one_just_younger_does_not(teacher, spend, caplog):
    assert timedelta(hours=12) == RESERVATION_MAX_AGE
    now = timezone.now()
    for key, age in (
        ("old", timedelta(hours=12, seconds=1)),
        ("older", timedelta(days=3)),
        ("young", timedelta(hours=11, minutes=59)),
    ):
        usage_reserve(user=teacher, key=key, tokens=1_000)
        Reservation.objects.filter(key=key).update(created_at=now - age)
    usage_reserve(user=teacher, key="done", tokens=1_000)
    usage_settle(key="done", outcome="finished")
    Reservation.objects.filter(key="done").update(created_at=now - timedelta(days=2))
    spend(teacher, 300, reservation_key="old")

    assert usage_reservations_expire() == 2  # each one it settled counted
    assert usage_reservations_expire() == 0
    logs = sorted((r.levelname, r.getMessage(), r.reservation) for r in caplog.records if r.name == "usage.services")
    assert logs == [
        ("WARNING", "usage reservation expired", "old"),
        ("WARNING", "usage reservation expired", "older"),
    ]

    states = {r.key: (r.state, r.outcome, r.tokens_used) for r in Reservation.objects.all()}
    assert states == {
        "old": ("settled", "expired", 300),
        "older": ("settled", "expired", 0),
        "young": ("held", "", 0),
        "done": ("settled", "finished", 0),
    }


@pytest.mark.django_db
def test_settling_records_when_and_how_and_refuses_an_unknown_outcome(teacher):
    usage_reserve(user=teacher, key="job-1", tokens=1_000)
    with pytest.raises(ValueError, match=r"^unknown outcome 'lost'$"):
        usage_settle(key="job-1", outcome="lost")
    assert Reservation.objects.get(key="job-1").state == "held"

    before = timezone.now()
    assert usage_settle(key="job-1") is True

    settled = Reservation.objects.get(key="job-1")
    assert (settled.state, settled.outcome, settled.tokens_used) == ("settled", "", 0)
    assert before <= settled.settled_at <= timezone.now()


@pytest.mark.django_db
def test_a_jobs_line_shows_what_its_units_spent_and_settling_units_touches_no_other_job(teacher, spend):
    usage_reserve(user=teacher, key="job-1", tokens=30_000)
    usage_reserve(user=teacher, key="job-10", tokens=30_000)
    for pool in ("job-1", "job-10"):
        for unit in ("c1:1", "c2:1"):
            usage_hold(pool_key=pool, unit=unit, need=1_000)
    spend(teacher, 400, reservation_key="job-1:c1:1")
    spend(teacher, 250, reservation_key="job-1:c2:1")
    spend(teacher, 50, reservation_key="job-1")

    before = timezone.now()
    assert usage_units_settle(pool_key="job-1", outcome="finished") == 2
    assert usage_settle(key="job-1", outcome="finished") is True

    rows = {r.key: (r.state, r.outcome, r.tokens_used) for r in Reservation.objects.all()}
    # Each unit settled says when (the admin's ledger and the expiry of stale holds read it).
    settled_at = dict(Reservation.objects.filter(key__startswith="job-1:").values_list("key", "settled_at"))
    assert all(before <= when <= timezone.now() for when in settled_at.values()), settled_at
    assert rows == {
        "job-1": ("settled", "finished", 700),
        "job-1:c1:1": ("settled", "finished", 400),
        "job-1:c2:1": ("settled", "finished", 250),
        "job-10": ("held", "", 0),
        "job-10:c1:1": ("held", "", 0),
        "job-10:c2:1": ("held", "", 0),
    }


@pytest.mark.django_db
def test_a_plan_change_is_announced_only_when_something_changes(teacher):
    heard = []

    def listener(sender, user, **kwargs):
        heard.append(user)

    allowance_changed.connect(listener, sender=Allowance)
    try:
        start, end = datetime(2027, 1, 5, tzinfo=UTC), datetime(2027, 2, 5, tzinfo=UTC)
        allowance = usage_plan_set(user=teacher, tier=Tier.PRO, period_start=start, period_end=end)
        assert (allowance.tier, allowance.period_start, allowance.period_end) == (Tier.PRO, start, end)
        usage_plan_set(user=teacher, tier=Tier.PRO, period_start=start, period_end=end)  # a redelivered webhook
        assert heard == [teacher]
        usage_plan_set(user=teacher, tier=Tier.PRO, period_start=start, period_end=end + timedelta(days=1))
        assert heard == [teacher, teacher]
    finally:
        allowance_changed.disconnect(listener, sender=Allowance)
    teacher.allowance.refresh_from_db()
    assert (teacher.allowance.tier, teacher.allowance.period_end) == (Tier.PRO, end + timedelta(days=1))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        (datetime(2027, 1, 5, tzinfo=UTC), None, "^period_start and period_end go together$"),
        (None, datetime(2027, 1, 5, tzinfo=UTC), "^period_start and period_end go together$"),
        (
            datetime(2027, 1, 5, tzinfo=UTC),
            datetime(2027, 1, 5, tzinfo=UTC),
            "^period_start must be before period_end$",
        ),
    ],
)
def test_a_period_needs_both_ends_in_order(teacher, start, end, error):
    with pytest.raises(ValueError, match=error):
        usage_plan_set(user=teacher, tier=Tier.PRO, period_start=start, period_end=end)
    assert usage_summary(user=teacher).tier == Tier.FREE


@pytest.mark.django_db
def test_a_unit_asking_for_nothing_more_is_granted_and_one_token_more_is_held(teacher):
    usage_reserve(user=teacher, key="job-1", tokens=10_000)
    assert usage_hold(pool_key="job-1", unit="c1:1", need=0) is Hold.GRANTED
    assert usage_hold(pool_key="job-1", unit="c1:1", need=3_000) is Hold.GRANTED
    assert usage_hold(pool_key="job-1", unit="c1:1", need=3_001) is Hold.GRANTED  # one token missing

    assert tokens() == {"job-1": 6_999, "job-1:c1:1": 3_001}


def tokens() -> dict[str, int]:
    return dict(Reservation.objects.values_list("key", "tokens"))


@pytest.mark.django_db
def test_a_unit_takes_what_its_job_has_not_spent_then_the_allowance(teacher, spend):
    usage_reserve(user=teacher, key="job-1", tokens=10_000)
    spend(teacher, 4_000, reservation_key="job-1")  # spent on the job's own line (its detection)

    assert usage_hold(pool_key="job-1", unit="c1:1", need=8_000) is Hold.GRANTED

    assert tokens() == {"job-1": 4_000, "job-1:c1:1": 8_000}  # 6 000 from the job, 2 000 from the allowance
    assert usage_summary(user=teacher).committed == 4_000 + 8_000  # what the job spent, what the unit holds


@pytest.mark.django_db
def test_a_unit_of_a_settled_job_takes_only_from_the_allowance(teacher):
    usage_reserve(user=teacher, key="job-1", tokens=10_000)
    usage_settle(key="job-1", outcome="cancelled")

    assert usage_hold(pool_key="job-1", unit="c1:1", need=5_000) is Hold.GRANTED

    assert tokens() == {"job-1": 10_000, "job-1:c1:1": 5_000}


@pytest.mark.django_db
def test_a_unit_whose_job_covers_it_is_granted_even_when_the_allowance_is_overspent(teacher, spend):
    usage_reserve(user=teacher, key="job-1", tokens=10_000)
    spend(teacher, FREE)  # a late call elsewhere: the allowance is now overspent
    assert allowance_pool(user=teacher).remaining() == -10_000

    assert usage_hold(pool_key="job-1", unit="c1:1", need=10_000) is Hold.GRANTED
    assert tokens() == {"job-1": 0, "job-1:c1:1": 10_000}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("other", "outcome"),
    [
        ("a unit of this teacher holding one token it has not spent", Hold.WAIT),
        ("a unit of this teacher that spent all it holds", Hold.EXHAUSTED),
        ("a settled unit that did not spend all it held", Hold.EXHAUSTED),
        ("another teacher's unit in flight", Hold.EXHAUSTED),
        ("another job's reservation not spent", Hold.EXHAUSTED),
    ],
)
def test_a_refused_unit_waits_only_for_this_teachers_units_still_in_flight(
    teacher, other_teacher, spend, other, outcome
):
    usage_reserve(user=teacher, key="job-1", tokens=0)
    if other == "a unit of this teacher holding one token it has not spent":
        usage_hold(pool_key="job-1", unit="c2:1", need=1)
    elif other == "a unit of this teacher that spent all it holds":
        usage_hold(pool_key="job-1", unit="c2:1", need=2_000)
        spend(teacher, 2_000, reservation_key="job-1:c2:1")
    elif other == "a settled unit that did not spend all it held":
        usage_hold(pool_key="job-1", unit="c2:1", need=2_000)
        usage_settle(key="job-1:c2:1", outcome="finished")
    elif other == "another teacher's unit in flight":
        usage_reserve(user=other_teacher, key="job-9", tokens=0)
        usage_hold(pool_key="job-9", unit="c9:1", need=2_000)
    else:
        usage_reserve(user=teacher, key="job-2", tokens=2_000)
    left = usage_summary(user=teacher).remaining

    assert usage_hold(pool_key="job-1", unit="c1:1", need=left + 1) is outcome
    assert tokens()["job-1:c1:1"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("need", "outcome"), [(8_000, Hold.GRANTED), (8_001, Hold.EXHAUSTED)])
def test_what_the_job_lacks_must_fit_exactly_in_what_the_allowance_has_left(teacher, spend, need, outcome):
    usage_reserve(user=teacher, key="job-1", tokens=10_000)
    spend(teacher, 4_000, reservation_key="job-1")  # the job has 6 000 left
    spend(teacher, allowance_pool(user=teacher).remaining() - 2_000)  # the allowance, 2 000

    assert usage_hold(pool_key="job-1", unit="c1:1", need=need) is outcome


@pytest.mark.django_db
def test_a_unit_settles_with_its_outcome_and_a_jobs_units_without_one_by_default(teacher):
    usage_reserve(user=teacher, key="job-1", tokens=30_000)
    for unit in ("c1:1", "c2:1", "c3:1"):
        usage_hold(pool_key="job-1", unit=unit, need=1_000)

    assert usage_unit_settle(pool_key="job-1", unit="c1:1", outcome="failed") is True
    assert usage_units_settle(pool_key="job-1") == 2

    outcomes = dict(Reservation.objects.filter(key__contains=":").values_list("key", "outcome"))
    assert outcomes == {"job-1:c1:1": "failed", "job-1:c2:1": "", "job-1:c3:1": ""}


@pytest.mark.django_db
def test_an_unknown_tier_is_refused_by_name(teacher):
    with pytest.raises(ValueError, match=r"^unknown tier 'platinum'$"):
        usage_plan_set(user=teacher, tier="platinum")


@pytest.mark.django_db
@pytest.mark.parametrize("of_school", [False, True], ids=["teachers-own", "schools"])
def test_settling_a_job_tells_once_which_pool_got_its_tokens_back(teacher, of_school):
    school = None
    if of_school:
        school = School.objects.create(name="Lycée Victor-Hugo", allowance_tokens=100_000)
        school_teacher_add(school=school, user=teacher)
    usage_reserve(user=teacher, key="job-1", tokens=30_000)
    heard = []

    def receiver(sender, **kwargs):
        heard.append((sender, kwargs["key"], kwargs["user_id"], kwargs["school_id"]))

    allowance_released.connect(receiver)
    try:
        assert usage_settle(key="job-1", outcome="finished") is True
        assert usage_settle(key="job-1", outcome="finished") is False  # settled once: told once
    finally:
        allowance_released.disconnect(receiver)

    assert heard == [(Reservation, "job-1", teacher.pk, school.pk if school else None)]
