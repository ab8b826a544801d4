"""The invoices a teacher sees and the subscription that decides their tier, from what Stripe's
webhooks stored: drafts left out, newest first, each field as Stripe sent it; with several
subscriptions, the best live one governs, else the latest."""

from __future__ import annotations

from datetime import UTC, datetime

from billing.selectors import InvoiceRow, billing_invoice_for_user, billing_invoices, billing_payment_problem
from billing.selectors import subscription_governing as governing
from tests.billing.scenario import SubscriptionStory


def _subscribed(fake_stripe, prices, webhooks, user):
    story = SubscriptionStory(fake_stripe, prices, user)
    for event in story.subscribe().events:
        webhooks.deliver(event)
    return story


def test_the_invoices_are_the_teachers_own_newest_first_without_drafts(
    teacher, other_teacher, fake_stripe, prices, webhooks
):
    story = _subscribed(fake_stripe, prices, webhooks, teacher)
    _subscribed(fake_stripe, prices, webhooks, other_teacher)
    fake_stripe.clock += 86_400
    draft = fake_stripe.invoice_create(story.sub, status="draft")
    webhooks.deliver(fake_stripe.event("invoice.created", draft))
    fake_stripe.clock += 86_400
    due = fake_stripe.invoice_create(story.sub, status="open")
    due["number"] = None
    webhooks.deliver(fake_stripe.event("invoice.finalized", due))

    rows = billing_invoices(user=teacher)

    assert [row.id for row in rows][0] == due["id"]
    assert rows[0] == InvoiceRow(
        id=due["id"],
        number="",
        created=datetime.fromtimestamp(due["created"], tz=UTC),
        amount=9.0,
        currency="EUR",
        status="open",
        invoice_pdf=due["invoice_pdf"],
        hosted_invoice_url=due["hosted_invoice_url"],
    )
    assert draft["id"] not in [row.id for row in rows]
    assert len(rows) == 2 and rows[1].status == "paid" and rows[1].number.startswith("CORR-")
    assert billing_invoice_for_user(user=teacher, invoice_id=due["id"]) == rows[0]
    assert billing_invoice_for_user(user=other_teacher, invoice_id=due["id"]) is None


def test_the_best_live_subscription_governs_else_the_latest(teacher, fake_stripe, prices, webhooks, settings):
    essentiel = _subscribed(fake_stripe, prices, webhooks, teacher)
    fake_stripe.clock += 60
    pro = fake_stripe.subscription_create(customer_id=essentiel.customer["id"], price=prices["pro"])
    webhooks.deliver(fake_stripe.event("customer.subscription.created", pro))

    assert governing(user=teacher).id == pro["id"]
    fake_stripe.subscription_status(pro["id"], "past_due")
    webhooks.deliver(fake_stripe.event("customer.subscription.updated", pro))
    assert governing(user=teacher).id == pro["id"]  # still live, and the better one
    assert billing_payment_problem(user=teacher) is True

    for sub in (essentiel.sub, pro):
        fake_stripe.subscription_status(sub["id"], "canceled")
        webhooks.deliver(fake_stripe.event("customer.subscription.updated", sub))
    assert governing(user=teacher).id == pro["id"]  # none live: the latest
    assert billing_payment_problem(user=teacher) is False
    settings.BILLING_ENABLED = False
    assert billing_payment_problem(user=teacher) is False


def test_a_teacher_without_subscription_has_none_governing(teacher, fake_stripe):
    assert governing(user=teacher) is None
    assert billing_invoices(user=teacher) == []


def test_the_invoices_are_newest_first_by_stripes_date_whatever_order_their_webhooks_arrived_in(
    teacher, fake_stripe, prices, webhooks
):
    story = _subscribed(fake_stripe, prices, webhooks, teacher)
    fake_stripe.clock += 86_400
    earlier = fake_stripe.invoice_create(story.sub)
    fake_stripe.clock += 86_400
    later = fake_stripe.invoice_create(story.sub)
    same_second = fake_stripe.invoice_create(story.sub)  # a second invoice Stripe dated the same second
    for invoice in (later, earlier, same_second):  # `earlier`'s webhook arrives late
        webhooks.deliver(fake_stripe.event("invoice.paid", invoice))

    ids = [row.id for row in billing_invoices(user=teacher)]

    # Of two invoices of the same second, the one stored last first.
    assert ids[:3] == [same_second["id"], later["id"], earlier["id"]]
    assert len(ids) == 4


def test_an_invoice_shows_its_own_currency_euros_when_stripe_sends_none_and_blanks_for_missing_fields(
    teacher, fake_stripe, prices, webhooks
):
    story = _subscribed(fake_stripe, prices, webhooks, teacher)
    fake_stripe.clock += 86_400
    francs = fake_stripe.invoice_create(story.sub)
    francs["currency"] = "chf"
    webhooks.deliver(fake_stripe.event("invoice.paid", francs))
    fake_stripe.clock += 86_400
    bare = fake_stripe.invoice_create(story.sub, status="open")
    bare.update(currency=None, status=None, invoice_pdf=None, hosted_invoice_url=None)
    webhooks.deliver(fake_stripe.event("invoice.finalized", bare))

    latest, chf = billing_invoices(user=teacher)[:2]

    assert (chf.id, chf.currency, chf.status) == (francs["id"], "CHF", "paid")
    assert (latest.id, latest.currency, latest.status, latest.invoice_pdf, latest.hosted_invoice_url) == (
        bare["id"],
        "EUR",
        "",
        "",
        "",
    )
