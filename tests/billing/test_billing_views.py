"""Pricing, Checkout, portal and invoices pages: the right Stripe sessions, only one's own data."""

from __future__ import annotations

import pytest
from django.urls import reverse
from djstripe.models import Customer, Invoice

from tests.billing.scenario import SubscriptionStory
from usage.tiers import Tier


@pytest.fixture
def synced_prices(db, fake_stripe):
    from django.core.management import call_command

    call_command("billing_plans_sync", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return {o["lookup_key"]: o for o in fake_stripe.objects.values() if o["object"] == "price"}


def test_the_pricing_page_is_public_and_lists_every_tier(client, fake_stripe):
    response = client.get(reverse("billing_pricing"))

    assert response.status_code == 200
    for tier in Tier.values:
        assert f'id="plan-{tier}"' in response.content.decode()


def test_checkout_creates_a_subscription_session_with_the_right_parameters(
    owner_client, teacher, fake_stripe, synced_prices
):
    response = owner_client.post(reverse("billing_checkout", args=["pro"]))

    assert response.status_code == 303
    assert response["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    [params] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    customer = Customer.objects.get(subscriber=teacher)
    assert params["mode"] == "subscription"
    assert params["customer"] == customer.id
    assert params["client_reference_id"] == str(teacher.pk)
    assert params["metadata"]["corrigo_user_id"] == str(teacher.pk)
    assert params["subscription_data"]["metadata"]["corrigo_user_id"] == str(teacher.pk)
    assert params["line_items"] == [{"price": synced_prices["corrigo_pro_monthly"]["id"], "quantity": "1"}]
    assert params["billing_address_collection"] == "required"
    assert params["tax_id_collection"] == {"enabled": "true"}
    assert params["customer_update"] == {"address": "auto", "name": "auto"}
    assert "automatic_tax" not in params
    assert params["success_url"].startswith("https://corrigo.example/billing/checkout/success/")
    assert params["cancel_url"] == "https://corrigo.example/billing/checkout/cancel/"


def test_checkout_reuses_the_teachers_stripe_customer(owner_client, teacher, fake_stripe, synced_prices):
    owner_client.post(reverse("billing_checkout", args=["essentiel"]))
    owner_client.post(reverse("billing_checkout", args=["max"]))

    assert len(fake_stripe.calls("POST", "/v1/customers")) == 1
    sessions = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert len(sessions) == 2
    assert sessions[0]["customer"] == sessions[1]["customer"] == Customer.objects.get(subscriber=teacher).id
    customer_params = fake_stripe.calls("POST", "/v1/customers")[0]
    assert customer_params["email"] == teacher.email
    assert customer_params["metadata"]["djstripe_subscriber"] == str(teacher.pk)


def test_automatic_tax_is_asked_for_when_the_operator_turns_it_on(owner_client, fake_stripe, synced_prices, settings):
    settings.BILLING_AUTOMATIC_TAX = True

    owner_client.post(reverse("billing_checkout", args=["pro"]))

    [params] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert params["automatic_tax"] == {"enabled": "true"}


def test_checkout_refuses_an_unknown_or_free_tier(owner_client, fake_stripe, synced_prices):
    assert owner_client.post(reverse("billing_checkout", args=["free"])).status_code == 404
    assert owner_client.post(reverse("billing_checkout", args=["platinum"])).status_code == 404
    assert fake_stripe.calls("POST", "/v1/checkout/sessions") == []


def test_checkout_needs_a_post_and_a_login(client, owner_client, fake_stripe, synced_prices):
    assert owner_client.get(reverse("billing_checkout", args=["pro"])).status_code == 405
    client.logout()
    response = client.post(reverse("billing_checkout", args=["pro"]))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    assert fake_stripe.calls("POST", "/v1/checkout/sessions") == []


def test_a_subscriber_is_sent_to_the_portal_to_change_plan(owner_client, teacher, fake_stripe, prices, webhooks):
    story = SubscriptionStory(fake_stripe, prices, teacher)
    for event in story.subscribe().events:
        webhooks.deliver(event)

    response = owner_client.post(reverse("billing_checkout", args=["max"]))

    assert response.status_code == 303
    assert response["Location"].startswith("https://billing.stripe.com/p/session/")
    assert fake_stripe.calls("POST", "/v1/checkout/sessions") == []


def test_a_stripe_outage_during_checkout_is_a_clear_message(owner_client, fake_stripe, synced_prices, monkeypatch):
    import stripe

    monkeypatch.setattr(stripe, "api_base", "http://127.0.0.1:9")  # nothing listens there

    response = owner_client.post(reverse("billing_checkout", args=["pro"]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("billing_pricing")
    assert "ne répond pas" in response.content.decode()


def test_the_portal_opens_for_the_teachers_own_customer(owner_client, teacher, fake_stripe, prices):
    SubscriptionStory(fake_stripe, prices, teacher)

    response = owner_client.post(reverse("billing_portal"))

    assert response.status_code == 303
    assert response["Location"].startswith("https://billing.stripe.com/p/session/")
    [params] = fake_stripe.calls("POST", "/v1/billing_portal/sessions")
    assert params["customer"] == Customer.objects.get(subscriber=teacher).id
    assert params["return_url"] == "https://corrigo.example/billing/invoices/"


def test_a_teacher_cannot_open_another_teachers_portal(other_client, teacher, fake_stripe, prices):
    SubscriptionStory(fake_stripe, prices, teacher)  # only the owner has a Stripe customer

    response = other_client.post(reverse("billing_portal"), {"customer": Customer.objects.get().id})

    assert response.status_code == 302
    assert response["Location"] == reverse("billing_pricing")
    assert fake_stripe.calls("POST", "/v1/billing_portal/sessions") == []


def _paid_story(fake_stripe, prices, webhooks, user):
    story = SubscriptionStory(fake_stripe, prices, user)
    for event in story.subscribe().events:
        webhooks.deliver(event)
    return story


def test_the_invoices_page_lists_number_date_amount_status_and_links(
    owner_client, teacher, fake_stripe, prices, webhooks
):
    _paid_story(fake_stripe, prices, webhooks, teacher)
    invoice = Invoice.objects.get(customer__subscriber=teacher)

    page = owner_client.get(reverse("billing_invoices")).content.decode()

    assert invoice.stripe_data["number"] in page
    assert "9,00 EUR" in page or "9.00 EUR" in page
    assert "Payée" in page
    assert invoice.stripe_data["invoice_pdf"] in page
    assert reverse("billing_invoice_open", args=[invoice.id]) in page
    assert (
        owner_client.get(reverse("billing_invoice_open", args=[invoice.id]))["Location"]
        == (invoice.stripe_data["hosted_invoice_url"])
    )


def test_a_teacher_cannot_see_or_open_another_teachers_invoices(
    client, teacher, other_teacher, fake_stripe, prices, webhooks
):
    _paid_story(fake_stripe, prices, webhooks, teacher)
    invoice = Invoice.objects.get(customer__subscriber=teacher)
    client.force_login(other_teacher)

    page = client.get(reverse("billing_invoices")).content.decode()

    assert invoice.stripe_data["number"] not in page
    assert invoice.id not in page
    assert client.get(reverse("billing_invoice_open", args=[invoice.id])).status_code == 404


def test_with_billing_off_checkout_and_portal_say_so_and_call_nobody(owner_client, fake_stripe, settings):
    settings.BILLING_ENABLED = False

    for url in (reverse("billing_checkout", args=["pro"]), reverse("billing_portal")):
        response = owner_client.post(url)
        assert response.status_code == 200
        assert "Facturation désactivée" in response.content.decode()
    assert owner_client.get(reverse("billing_pricing")).status_code == 200
    assert owner_client.get(reverse("billing_invoices")).status_code == 200
    assert fake_stripe.requests == []


def test_success_and_cancel_pages_render(owner_client, fake_stripe):
    assert owner_client.get(reverse("billing_checkout_success") + "?session_id=cs_test_1").status_code == 200
    assert owner_client.get(reverse("billing_checkout_cancel")).status_code == 200
