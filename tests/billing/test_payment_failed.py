"""A failed payment emails the teacher once (in their language) and shows a banner with a
link to the portal on every page until the subscription is paid again."""

from __future__ import annotations

from django.core import mail
from django.urls import reverse

from tests.billing.scenario import SubscriptionStory
from usage.tiers import Tier


def _until_payment_failed(fake_stripe, prices, webhooks, user, django_capture_on_commit_callbacks):
    story = SubscriptionStory(fake_stripe, prices, user)
    steps = story.steps()
    failed = None
    for make in steps[:4]:
        step = make()
        with django_capture_on_commit_callbacks(execute=True):
            for event in step.events:
                webhooks.deliver(event)
        failed = step
    return story, failed


def test_a_failed_payment_emails_the_teacher_once_with_links(
    teacher, fake_stripe, prices, webhooks, django_capture_on_commit_callbacks
):
    story, failed = _until_payment_failed(fake_stripe, prices, webhooks, teacher, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        for event in failed.events:  # Stripe retries the delivery
            webhooks.deliver(event)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [teacher.email]
    assert "a échoué" in message.subject
    assert story.failed_invoice["hosted_invoice_url"] in message.body
    assert "https://corrigo.example/billing/invoices/" in message.body
    assert "27.00 EUR" in message.body or "27,00 EUR" in message.body


def test_the_email_is_in_english_for_an_english_speaking_teacher(
    teacher, fake_stripe, prices, webhooks, django_capture_on_commit_callbacks
):
    teacher.language = "en"
    teacher.save(update_fields=["language"])

    _until_payment_failed(fake_stripe, prices, webhooks, teacher, django_capture_on_commit_callbacks)

    [message] = mail.outbox
    assert message.subject == "[Corrigo] Your subscription payment failed"
    assert "update your payment method" in message.body


def test_a_late_failure_event_for_an_invoice_paid_since_sends_nothing(
    teacher, fake_stripe, prices, webhooks, django_capture_on_commit_callbacks
):
    story = SubscriptionStory(fake_stripe, prices, teacher)
    steps = [make() for make in story.steps()[:5]]  # …recovered: the invoice is paid now

    with django_capture_on_commit_callbacks(execute=True):
        webhooks.deliver(steps[3].events[0])  # the invoice.payment_failed, arriving late

    assert mail.outbox == []


def test_the_banner_links_to_the_portal_while_past_due_and_goes_away_once_paid(
    owner_client, teacher, fake_stripe, prices, webhooks, django_capture_on_commit_callbacks
):
    story, _failed = _until_payment_failed(fake_stripe, prices, webhooks, teacher, django_capture_on_commit_callbacks)

    page = owner_client.get(reverse("billing_pricing")).content.decode()
    assert 'id="billing-banner"' in page
    assert f'action="{reverse("billing_portal")}"' in page
    assert 'id="billing-banner"' in owner_client.get(reverse("billing_invoices")).content.decode()

    for event in story.recovered().events:
        webhooks.deliver(event)

    assert 'id="billing-banner"' not in owner_client.get(reverse("billing_pricing")).content.decode()
    assert owner_client.get(reverse("api_billing_status")).json()["tier"] == Tier.PRO


def test_no_banner_for_a_teacher_without_problem_or_when_billing_is_off(owner_client, settings, fake_stripe):
    assert 'id="billing-banner"' not in owner_client.get(reverse("billing_pricing")).content.decode()
    settings.BILLING_ENABLED = False
    assert 'id="billing-banner"' not in owner_client.get(reverse("billing_pricing")).content.decode()
