"""From a teacher's admin page, an admin reaches their subscriptions, invoices and events."""

from __future__ import annotations

from django.urls import reverse
from djstripe.models import Event, Invoice

from tests.billing.scenario import SubscriptionStory
from tests.factories import UserFactory


def test_the_user_admin_page_links_subscription_invoices_and_webhook_events(
    client, teacher, fake_stripe, prices, webhooks
):
    story = SubscriptionStory(fake_stripe, prices, teacher)
    for event in story.subscribe().events:
        webhooks.deliver(event)
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin_user)

    page = client.get(reverse("admin:accounts_user_change", args=[teacher.pk])).content.decode()

    assert story.sub["id"] in page
    invoice = Invoice.objects.get()
    assert reverse("admin:djstripe_invoice_change", args=[invoice.pk]) in page
    for event in Event.objects.all():
        assert reverse("admin:djstripe_event_change", args=[event.pk]) in page


def test_a_user_without_stripe_data_has_an_admin_page_too(client, teacher, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.get(reverse("admin:accounts_user_change", args=[teacher.pk]))

    assert response.status_code == 200
    assert "Facturation" in response.content.decode()
