"""Billing fixtures: a fake Stripe API on a local port, a dj-stripe webhook endpoint, and
a helper that posts events signed exactly as Stripe signs them."""

from __future__ import annotations

import json

import pytest
import stripe
from django.urls import reverse

from tests.billing.fake_stripe import API_VERSION, FakeStripe, sign

WEBHOOK_SECRET = "whsec_corrigo_test_secret"


@pytest.fixture
def fake_stripe(settings, monkeypatch):
    fake = FakeStripe()
    monkeypatch.setattr(stripe, "api_base", fake.start())
    # No retries: a failing call must fail the test at once, not after back-offs.
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    settings.STRIPE_SECRET_KEY = settings.STRIPE_TEST_SECRET_KEY = "sk_test_" + "CorrigoFakeKeyForTests0000"
    settings.STRIPE_LIVE_SECRET_KEY = ""
    settings.STRIPE_LIVE_MODE = False
    settings.STRIPE_API_VERSION = API_VERSION
    settings.BILLING_ENABLED = True
    settings.BILLING_AUTOMATIC_TAX = False
    settings.SITE_URL = "https://corrigo.example"
    yield fake
    fake.stop()


@pytest.fixture
def prices(fake_stripe):
    return fake_stripe.plans_seed()


@pytest.fixture
def webhook_endpoint(db):
    from djstripe.models import WebhookEndpoint

    return WebhookEndpoint.objects.create(
        id="we_corrigo_test",
        url="https://corrigo.example/stripe/webhook/",
        secret=WEBHOOK_SECRET,
        enabled_events=["*"],
        status="enabled",
        api_version=API_VERSION,
        livemode=False,
    )


class WebhookSender:
    def __init__(self, client, endpoint):
        self.client = client
        self.url = reverse("djstripe:djstripe_webhook_by_uuid", kwargs={"uuid": endpoint.djstripe_uuid})

    def post(self, event: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None, signature=None):
        payload = json.dumps(event)
        header = signature if signature is not None else sign(payload, secret, timestamp)
        return self.client.post(self.url, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)

    def deliver(self, event: dict):
        response = self.post(event)
        assert response.status_code == 200, response.content
        return response


@pytest.fixture
def webhooks(client, webhook_endpoint, fake_stripe):
    return WebhookSender(client, webhook_endpoint)
