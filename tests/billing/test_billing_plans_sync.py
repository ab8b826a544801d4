"""`manage.py billing_plans_sync` creates the plans in Stripe once and syncs them locally."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command
from djstripe.models import Price, Product

from billing.plans import PLANS


def _run() -> str:
    out = StringIO()
    call_command("billing_plans_sync", stdout=out)
    return out.getvalue()


def _stripe_prices(fake):
    return [o for o in fake.objects.values() if o["object"] == "price"]


def test_it_creates_products_and_prices_by_lookup_key_and_syncs_them(db, fake_stripe):
    output = _run()

    assert len(fake_stripe.calls("POST", "/v1/products")) == 3
    assert len(fake_stripe.calls("POST", "/v1/prices")) == 3
    for plan in PLANS.values():
        price = Price.objects.get(lookup_key=plan.lookup_key)
        assert price.unit_amount == plan.unit_amount
        assert price.product.id == plan.product_id
        assert price.active
    assert Product.objects.count() == 3
    assert "created" in output


def test_a_second_run_creates_nothing(db, fake_stripe):
    _run()
    posts_before = [r for r in fake_stripe.requests if r[0] == "POST"]

    output = _run()

    assert [r for r in fake_stripe.requests if r[0] == "POST"] == posts_before
    assert len(_stripe_prices(fake_stripe)) == 3
    assert Price.objects.count() == 3
    assert "created" not in output


def test_a_changed_amount_moves_the_lookup_key_to_a_new_price_and_archives_the_old(db, fake_stripe, settings):
    _run()
    old = Price.objects.get(lookup_key=PLANS["pro"].lookup_key)
    stripe_old = fake_stripe.objects[old.id]
    stripe_old["unit_amount"] = 2500  # someone edited it by hand in the dashboard

    _run()

    new = Price.objects.get(lookup_key=PLANS["pro"].lookup_key)
    assert new.id != old.id
    assert new.unit_amount == PLANS["pro"].unit_amount
    assert fake_stripe.objects[old.id]["active"] is False
    assert fake_stripe.objects[old.id]["lookup_key"] is None
    old.refresh_from_db()
    assert not old.active
