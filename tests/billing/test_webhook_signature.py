"""dj-stripe's endpoint refuses what Stripe did not sign; nothing is stored or changed."""

from __future__ import annotations

import json
import time

import pytest
from djstripe.models import Event, Subscription, WebhookEventTrigger

from tests.billing.conftest import WEBHOOK_SECRET
from tests.billing.fake_stripe import sign
from tests.billing.scenario import SubscriptionStory
from usage.selectors import usage_summary
from usage.tiers import Tier


@pytest.fixture
def subscribed_event(teacher, fake_stripe, prices):
    story = SubscriptionStory(fake_stripe, prices, teacher)
    return story.subscribe().events[0]


def _assert_nothing_happened(teacher, fake_stripe):
    assert Event.objects.count() == 0
    assert Subscription.objects.count() == 0
    assert usage_summary(user=teacher).tier == Tier.FREE
    # dj-stripe keeps the refused request itself (valid=False) as an audit trail, nothing more.
    assert not WebhookEventTrigger.objects.filter(valid=True).exists()
    assert fake_stripe.requests == []  # nothing was even looked up


def test_a_correctly_signed_event_is_accepted(teacher, subscribed_event, webhooks):
    assert webhooks.post(subscribed_event).status_code == 200
    assert usage_summary(user=teacher).tier == Tier.ESSENTIEL


def test_a_signature_made_with_another_secret_is_refused(teacher, fake_stripe, subscribed_event, webhooks):
    response = webhooks.post(subscribed_event, secret="whsec_not_the_right_one")

    assert response.status_code == 400
    _assert_nothing_happened(teacher, fake_stripe)


def test_a_stale_signature_is_refused(teacher, fake_stripe, subscribed_event, webhooks):
    response = webhooks.post(subscribed_event, timestamp=int(time.time()) - 3600)

    assert response.status_code == 400
    _assert_nothing_happened(teacher, fake_stripe)


def test_a_signature_over_another_body_is_refused(teacher, fake_stripe, subscribed_event, webhooks):
    other = dict(subscribed_event, id="evt_forged")
    header = sign(json.dumps(other), WEBHOOK_SECRET)

    response = webhooks.post(subscribed_event, signature=header)

    assert response.status_code == 400
    _assert_nothing_happened(teacher, fake_stripe)


def test_a_missing_signature_is_refused_before_anything_is_stored(teacher, fake_stripe, subscribed_event, webhooks):
    response = webhooks.client.post(webhooks.url, data=json.dumps(subscribed_event), content_type="application/json")

    assert response.status_code == 400
    assert WebhookEventTrigger.objects.count() == 0
    _assert_nothing_happened(teacher, fake_stripe)


def test_a_signed_body_that_is_not_an_event_is_refused(teacher, fake_stripe, webhooks):
    payload = "this is not json"
    response = webhooks.client.post(
        webhooks.url, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload, WEBHOOK_SECRET)
    )

    assert response.status_code == 400
    _assert_nothing_happened(teacher, fake_stripe)
