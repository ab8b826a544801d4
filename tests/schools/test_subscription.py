"""The school's subscription (issue 16, item 4): the school admin subscribes for the school
through Checkout (quantity = the teachers it pays for), and signed webhooks posted to dj-stripe's
real endpoint keep the school's pool = the tier's allowance × seats over the billing period, in
any order, duplicated, stale — Stripe's API faked at its HTTP boundary. Teachers' own plans
(the admin's included) are never touched by the school's subscription."""

from __future__ import annotations

import html
import random
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from djstripe.models import Customer, Event

from accounts.models import School
from billing.models import SchoolCustomer
from tests.factories import UserFactory
from tests.schools.story import SchoolSubscriptionStory
from usage.models import Allowance
from usage.selectors import usage_summary
from usage.tiers import FREE_TOKENS, TIER_LIMITS, Tier

from .conftest import POOL

pytestmark = pytest.mark.django_db


def _stripe_period(fake, story):
    item = fake.objects[story.sub["id"]]["items"]["data"][0]
    return (
        datetime.fromtimestamp(item["current_period_start"], tz=UTC),
        datetime.fromtimestamp(item["current_period_end"], tz=UTC),
    )


def _assert_follows(school, fake, story, step, teachers):
    school.refresh_from_db()
    assert (school.tier, school.seats, school.allowance_tokens) == (step.tier, step.seats, step.pool)
    if step.tier:
        assert (school.period_start, school.period_end) == _stripe_period(fake, story)
    else:
        assert (school.period_start, school.period_end) == (None, None)
    for teacher in teachers:
        summary = usage_summary(user=teacher)
        assert (summary.school, summary.limit) == (school.name, step.pool)
        start, end = _stripe_period(fake, story)
        if step.tier and start <= timezone.now():  # (the fake's clock runs ahead after a renewal)
            assert (summary.period_start, summary.period_end) == (start, end)
        assert not Allowance.objects.filter(user=teacher).exclude(tier=Tier.FREE).exists()  # own plan untouched


@pytest.fixture
def story(fake_stripe, prices, school, admin_client, school_teacher, colleague):
    return SchoolSubscriptionStory(fake_stripe, prices, school, admin_client, seats=3)


def test_checkout_asks_stripe_for_the_schools_subscription_with_the_teachers_as_quantity(
    admin_client, school, school_admin, school_teacher, fake_stripe, prices
):
    page = html.unescape(admin_client.get(reverse("school_detail", args=[school.pk])).content.decode())
    assert "Abonnement de l'établissement" in page
    assert 'name="seats" value="1"' in page  # one teacher so far: the default quantity
    response = admin_client.post(reverse("billing_school_checkout", args=[school.pk, "pro"]), {"seats": "12"})

    assert response.status_code == 303
    assert response["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    [customer_params] = fake_stripe.calls("POST", "/v1/customers")
    assert customer_params["name"] == "Lycée Victor-Hugo"
    assert customer_params["email"] == school_admin.email
    assert customer_params["metadata"] == {"corrigo_school_id": str(school.pk)}
    customer = Customer.objects.get(id=SchoolCustomer.objects.get(school=school).customer_id)
    assert customer.subscriber is None  # never the admin's own customer
    [params] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert params["customer"] == customer.id
    assert params["client_reference_id"] == f"school-{school.pk}"
    assert params["subscription_data"]["metadata"] == {"corrigo_school_id": str(school.pk), "corrigo_tier": "pro"}
    assert params["line_items"] == [{"price": prices["pro"]["id"], "quantity": "12"}]
    assert params["success_url"] == f"https://corrigo.example/schools/{school.pk}/?checkout=success"

    admin_client.post(reverse("billing_school_checkout", args=[school.pk, "max"]), {"seats": "2"})
    assert len(fake_stripe.calls("POST", "/v1/customers")) == 1  # the school's customer, reused


@pytest.mark.parametrize(("seats", "accepted"), [("0", False), ("1", True), ("500", True), ("501", False), ("", False)])
def test_the_number_of_teachers_is_checked_at_its_boundaries(
    admin_client, school, fake_stripe, prices, seats, accepted
):
    response = admin_client.post(reverse("billing_school_checkout", args=[school.pk, "pro"]), {"seats": seats})
    assert response.status_code == (303 if accepted else 302)
    assert len(fake_stripe.calls("POST", "/v1/checkout/sessions")) == (1 if accepted else 0)
    if not accepted:
        page = html.unescape(admin_client.get(response["Location"]).content.decode())
        assert "Le nombre d'enseignants doit être compris entre 1 et 500." in page


def test_only_the_schools_admin_may_subscribe_it(client, school, school_teacher, fake_stripe, prices):
    client.force_login(school_teacher)
    url = reverse("billing_school_checkout", args=[school.pk, "pro"])
    assert client.post(url, {"seats": "3"}).status_code == 404
    other = School.objects.create(name="Collège Jean-Moulin")
    other_admin = UserFactory()
    other.admins.add(other_admin)
    client.force_login(other_admin)
    assert client.post(url, {"seats": "3"}).status_code == 404
    assert client.post(reverse("billing_school_portal", args=[school.pk])).status_code == 404
    assert fake_stripe.calls("POST", "/v1/checkout/sessions") == []


def test_events_in_order_move_the_schools_pool_step_by_step(
    story, school, school_teacher, colleague, school_admin, fake_stripe, webhooks
):
    seen = []
    for make in story.steps():
        step = make()
        for event in step.events:
            webhooks.deliver(event)
        _assert_follows(school, fake_stripe, story, step, [school_teacher, colleague])
        seen.append((step.name, school.tier, school.seats, school.allowance_tokens))
    assert seen == [
        ("subscribe", "essentiel", 3, 3 * FREE_TOKENS),
        ("trial_ends", "essentiel", 3, 3 * FREE_TOKENS),
        ("upgrade", "pro", 5, 25 * FREE_TOKENS),
        ("payment_failed", "pro", 5, 25 * FREE_TOKENS),
        ("recovered", "pro", 5, 25 * FREE_TOKENS),
        ("cancelled", "", 0, 0),
    ]
    # The admin is a teacher too: their own plan never followed the school's subscription.
    assert usage_summary(user=school_admin).tier == Tier.FREE
    assert Allowance.objects.filter(user=school_admin).exclude(tier=Tier.FREE).count() == 0


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("steps_done", [1, 2, 3, 4, 5, 6])
def test_shuffled_and_duplicated_events_end_on_the_schools_current_subscription(
    story, school, school_teacher, colleague, fake_stripe, webhooks, seed, steps_done
):
    steps = [make() for make in story.steps()[:steps_done]]
    events = [event for step in steps for event in step.events]
    rng = random.Random(seed * 100 + steps_done)
    deliveries = events + rng.sample(events, k=max(1, len(events) // 2))  # Stripe retries some
    rng.shuffle(deliveries)

    for event in deliveries:
        webhooks.deliver(event)

    _assert_follows(school, fake_stripe, story, steps[-1], [school_teacher, colleague])
    assert Event.objects.count() == len(events)


def test_a_stale_upgrade_payload_never_wins_over_the_cancelled_subscription(
    story, school, school_teacher, colleague, fake_stripe, webhooks
):
    story.subscribe()
    story.trial_ends()
    upgrade = story.upgrade()  # payload: PRO × 5, active…
    cancelled = story.cancelled()  # …but by the time it arrives the subscription is gone

    webhooks.deliver(upgrade.events[0])

    assert upgrade.events[0]["data"]["object"]["items"]["data"][0]["quantity"] == 5
    _assert_follows(school, fake_stripe, story, cancelled, [school_teacher, colleague])


def test_the_operators_pool_stays_until_a_subscription_speaks_for_the_school(
    story, school, school_teacher, fake_stripe, webhooks
):
    assert usage_summary(user=school_teacher).limit == POOL  # set in the admin, no subscription
    for event in story.subscribe().events:
        webhooks.deliver(event)
    assert usage_summary(user=school_teacher).limit == 3 * TIER_LIMITS[Tier.ESSENTIEL]


def test_a_failed_payment_of_the_school_emails_its_admin_with_the_schools_page(
    story, school, school_admin, fake_stripe, webhooks, django_capture_on_commit_callbacks
):
    for make in story.steps()[:4]:
        with django_capture_on_commit_callbacks(execute=True):
            for event in make().events:
                webhooks.deliver(event)
    failed = [m for m in mail.outbox if "a échoué" in m.subject]
    assert len(failed) == 1 and failed[0].to == [school_admin.email]
    assert f"https://corrigo.example/schools/{school.pk}/" in failed[0].body
    assert "135.00 EUR" in failed[0].body or "135,00 EUR" in failed[0].body  # PRO 27 € × 5 teachers


def test_the_schools_page_shows_its_plan_and_the_portal_once_subscribed(
    story, admin_client, school, fake_stripe, webhooks
):
    for make in story.steps()[:3]:
        for event in make().events:
            webhooks.deliver(event)
    page = html.unescape(admin_client.get(reverse("school_detail", args=[school.pk])).content.decode())
    assert "Offre Pro pour 5 enseignants" in page
    assert reverse("billing_school_portal", args=[school.pk]) in page
    assert reverse("billing_school_checkout", args=[school.pk, "pro"]) not in page
    response = admin_client.post(reverse("billing_school_portal", args=[school.pk]))
    assert response.status_code == 303
    [portal] = fake_stripe.calls("POST", "/v1/billing_portal/sessions")
    assert portal["customer"] == SchoolCustomer.objects.get(school=school).customer_id
    # A second checkout while subscribed goes to the portal, never to a second subscription.
    response = admin_client.post(reverse("billing_school_checkout", args=[school.pk, "max"]), {"seats": "9"})
    assert response.status_code == 303 and response["Location"].startswith("https://billing.stripe.com/")
    assert len(fake_stripe.calls("POST", "/v1/checkout/sessions")) == 1


def test_with_billing_off_the_school_page_offers_no_subscription(admin_client, school, settings):
    settings.BILLING_ENABLED = False
    page = html.unescape(admin_client.get(reverse("school_detail", args=[school.pk])).content.decode())
    assert "Abonnement de l'établissement" not in page
    assert "/billing/school/" not in page
