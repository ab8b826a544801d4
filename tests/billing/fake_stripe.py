"""A local fake of the parts of Stripe's HTTP API that Corrigo and dj-stripe call.

A stdlib HTTP server on a free port; `stripe.api_base` points at it. Objects are shaped
like API version 2026-05-27.dahlia (the one dj-stripe 2.11 pins): billing periods on the
subscription items, an invoice's subscription under `parent.subscription_details`.
Scenario helpers change the state the way Stripe would and return the events Stripe
would send, each carrying a snapshot of the object at that moment.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API_VERSION = "2026-05-27.dahlia"
DAY = 86_400


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header, computed exactly as Stripe does."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _decode_form(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding (a[b][0][c]=v) back into nested dicts and lists."""
    root: dict = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def listify(node):
        if isinstance(node, dict):
            node = {k: listify(v) for k, v in node.items()}
            if node and all(k.isdigit() for k in node):
                return [node[k] for k in sorted(node, key=int)]
        return node

    return listify(root)


def _bool(value) -> bool:
    return value in (True, "true", "True", "1")


class FakeStripe:
    def __init__(self):
        self.objects: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        # Stripe timestamps: the current period started yesterday, so "now" falls inside it.
        self.clock = int(time.time()) - DAY
        self.account = {
            "id": "acct_corrigo",
            "object": "account",
            "business_profile": {"name": "Corrigo"},
            "settings": {"dashboard": {"display_name": "Corrigo"}},
            "charges_enabled": True,
            "payouts_enabled": True,
            "country": "FR",
            "default_currency": "eur",
            "email": "billing@corrigo.example",
            "type": "standard",
            "created": self.clock,
            "metadata": {},
        }
        self.server: ThreadingHTTPServer | None = None

    # --- server ---------------------------------------------------------------------
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: dict):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("Request-Id", f"req_{next(fake._ids)}")
                self.end_headers()
                self.wfile.write(raw)

            def _handle(self, method: str):
                url = urlsplit(self.path)
                pairs = parse_qsl(url.query, keep_blank_values=True)
                if method == "POST":
                    length = int(self.headers.get("Content-Length") or 0)
                    pairs += parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)
                params = _decode_form(pairs)
                params["_headers"] = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake.requests.append((method, url.path, params))
                    status, body = fake.route(method, url.path, params)
                self._answer(status, body)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_DELETE(self):
                self._handle("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # --- helpers ----------------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"

    def calls(self, method: str, path: str) -> list[dict]:
        return [params for m, p, params in self.requests if m == method and p == path]

    @staticmethod
    def _missing(kind: str, oid: str):
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": f"No such {kind}: '{oid}'",
                "param": "id",
            }
        }

    def _list(self, url: str, items: list[dict]):
        return 200, {"object": "list", "url": url, "has_more": False, "data": items}

    # --- routing --------------------------------------------------------------------
    def route(self, method: str, path: str, params: dict):  # noqa: C901
        parts = path.strip("/").split("/")[1:]  # drop "v1"
        if parts == ["account"]:
            return 200, self.account
        kinds = {
            "customers": "customer",
            "subscriptions": "subscription",
            "invoices": "invoice",
            "prices": "price",
            "products": "product",
        }
        if parts[:2] == ["checkout", "sessions"]:
            if method == "POST" and len(parts) == 2:
                return 200, self.checkout_session_create(params)
            if len(parts) == 3:
                obj = self.objects.get(parts[2])
                return (200, obj) if obj else self._missing("checkout.session", parts[2])
        if parts[:2] == ["billing_portal", "sessions"] and method == "POST":
            return 200, self.portal_session_create(params)
        if parts and parts[0] in kinds:
            kind = kinds[parts[0]]
            if len(parts) == 1 and method == "GET":
                return self._list(path, self.list_objects(kind, params))
            if len(parts) == 1 and method == "POST":
                return self.create(kind, params)
            oid = parts[1]
            obj = self.objects.get(oid)
            if obj is None or obj.get("object") != kind:
                return self._missing(kind, oid)
            if len(parts) == 3 and parts[2] == "features":
                return self._list(path, [])
            if len(parts) == 3 and parts[2] == "lines":
                return self._list(path, obj.get("lines", {}).get("data", []))
            if method == "POST":
                return 200, self.update(obj, params)
            return 200, obj
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL {path}"}}

    def list_objects(self, kind: str, params: dict) -> list[dict]:
        items = [o for o in self.objects.values() if o.get("object") == kind]
        if kind == "price":
            if "lookup_keys" in params:
                items = [o for o in items if o.get("lookup_key") in params["lookup_keys"]]
            if "active" in params:
                items = [o for o in items if o.get("active") == _bool(params["active"])]
        if "customer" in params:
            items = [o for o in items if o.get("customer") == params["customer"]]
        return sorted(items, key=lambda o: o.get("created", 0), reverse=True)

    def create(self, kind: str, params: dict):
        params = {k: v for k, v in params.items() if k not in ("_headers", "expand")}
        if kind == "customer":
            return 200, self.customer_create(email=params.get("email", ""), metadata=params.get("metadata", {}))
        if kind == "product":
            oid = params.get("id") or self.new_id("prod")
            if oid in self.objects:
                return 400, {"error": {"type": "invalid_request_error", "message": "Product already exists."}}
            return 200, self.product_create(oid, params["name"], params.get("metadata", {}))
        if kind == "price":
            if _bool(params.pop("transfer_lookup_key", False)):
                for other in self.objects.values():
                    if other.get("object") == "price" and other.get("lookup_key") == params.get("lookup_key"):
                        other["lookup_key"] = None
            return 200, self.price_create(
                product=params["product"],
                unit_amount=int(params["unit_amount"]),
                currency=params["currency"],
                lookup_key=params.get("lookup_key"),
                metadata=params.get("metadata", {}),
                nickname=params.get("nickname"),
            )
        return 400, {"error": {"type": "invalid_request_error", "message": f"cannot create {kind}"}}

    def update(self, obj: dict, params: dict) -> dict:
        for key, value in params.items():
            if key in ("_headers", "expand"):
                continue
            if key == "active":
                value = _bool(value)
            if key == "metadata":
                obj.setdefault("metadata", {}).update(value)
                continue
            obj[key] = value
        return obj

    # --- object factories --------------------------------------------------------------
    def customer_create(self, *, email: str, metadata: dict | None = None) -> dict:
        cid = self.new_id("cus")
        obj = {
            "id": cid,
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": self.clock,
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": None,
            "email": email,
            "invoice_prefix": cid[-8:].upper(),
            "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None},
            "livemode": False,
            "metadata": dict(metadata or {}),
            "name": None,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
        }
        self.objects[cid] = obj
        return obj

    def product_create(self, oid: str, name: str, metadata: dict | None = None) -> dict:
        obj = {
            "id": oid,
            "object": "product",
            "active": True,
            "created": self.clock,
            "description": None,
            "images": [],
            "livemode": False,
            "metadata": dict(metadata or {}),
            "name": name,
            "type": "service",
            "updated": self.clock,
            "url": None,
        }
        self.objects[oid] = obj
        return obj

    def price_create(self, *, product, unit_amount, currency="eur", lookup_key=None, metadata=None, nickname=None):
        pid = self.new_id("price")
        obj = {
            "id": pid,
            "object": "price",
            "active": True,
            "billing_scheme": "per_unit",
            "created": self.clock,
            "currency": currency,
            "livemode": False,
            "lookup_key": lookup_key,
            "metadata": dict(metadata or {}),
            "nickname": nickname,
            "product": product,
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed", "meter": None},
            "tax_behavior": "inclusive",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "recurring",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        }
        self.objects[pid] = obj
        return obj

    def plans_seed(self) -> dict[str, dict]:
        """The three plans as billing_plans_sync would have created them."""
        from billing.plans import PLANS

        prices = {}
        for tier, plan in PLANS.items():
            self.product_create(plan.product_id, plan.name, {"corrigo_tier": tier})
            prices[str(tier)] = self.price_create(
                product=plan.product_id,
                unit_amount=plan.unit_amount,
                lookup_key=plan.lookup_key,
                metadata={"corrigo_tier": str(tier)},
                nickname=plan.name,
            )
        return prices

    def checkout_session_create(self, params: dict) -> dict:
        sid = self.new_id("cs_test")
        obj = {
            "id": sid,
            "object": "checkout.session",
            "after_expiration": None,
            "allow_promotion_codes": None,
            "amount_subtotal": None,
            "amount_total": None,
            "automatic_tax": {"enabled": _bool((params.get("automatic_tax") or {}).get("enabled")), "status": None},
            "billing_address_collection": params.get("billing_address_collection"),
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": self.clock,
            "currency": "eur",
            "customer": params.get("customer"),
            "customer_details": None,
            "customer_email": None,
            "expires_at": self.clock + DAY,
            "livemode": False,
            "locale": params.get("locale"),
            "metadata": params.get("metadata", {}),
            "mode": params.get("mode"),
            "payment_intent": None,
            "payment_status": "unpaid",
            "setup_intent": None,
            "status": "open",
            "subscription": None,
            "success_url": params.get("success_url"),
            "tax_id_collection": {"enabled": _bool((params.get("tax_id_collection") or {}).get("enabled"))},
            "url": f"https://checkout.stripe.com/c/pay/{sid}",
        }
        self.objects[sid] = obj
        return obj

    def portal_session_create(self, params: dict) -> dict:
        sid = self.new_id("bps")
        return {
            "id": sid,
            "object": "billing_portal.session",
            "configuration": "bpc_fake",
            "created": self.clock,
            "customer": params.get("customer"),
            "livemode": False,
            "locale": params.get("locale"),
            "return_url": params.get("return_url"),
            "url": f"https://billing.stripe.com/p/session/{sid}",
        }

    # --- scenario: what Stripe does, and the events it sends ------------------------------
    def event(self, type_: str, obj: dict, previous: dict | None = None) -> dict:
        data = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        return {
            "id": self.new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.clock,
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": self.new_id("req"), "idempotency_key": None},
            "type": type_,
        }

    def _item(self, subscription_id: str, price: dict, start: int, end: int, quantity: int = 1) -> dict:
        return {
            "id": self.new_id("si"),
            "object": "subscription_item",
            "created": start,
            "current_period_start": start,
            "current_period_end": end,
            "discounts": [],
            "metadata": {},
            "price": copy.deepcopy(price),
            "quantity": quantity,
            "subscription": subscription_id,
            "tax_rates": [],
        }

    def subscription_create(
        self, *, customer_id: str, price: dict, metadata: dict | None = None, quantity: int = 1, status: str = "active"
    ) -> dict:
        sid = self.new_id("sub")
        start, end = self.clock, self.clock + 30 * DAY
        obj = {
            "id": sid,
            "object": "subscription",
            "application": None,
            "automatic_tax": {"enabled": False, "liability": None},
            "billing_cycle_anchor": start,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "collection_method": "charge_automatically",
            "created": start,
            "currency": "eur",
            "customer": customer_id,
            "default_payment_method": None,
            "description": None,
            "discounts": [],
            "ended_at": None,
            "items": {
                "object": "list",
                "data": [self._item(sid, price, start, end, quantity)],
                "has_more": False,
                "url": f"/v1/subscription_items?subscription={sid}",
            },
            "latest_invoice": None,
            "livemode": False,
            "metadata": dict(metadata or {}),
            "start_date": start,
            "status": status,
            "trial_end": end if status == "trialing" else None,
            "trial_start": start if status == "trialing" else None,
        }
        self.objects[sid] = obj
        return obj

    def subscription_price_change(self, sid: str, price: dict) -> dict:
        sub = self.objects[sid]
        item = sub["items"]["data"][0]
        item["price"] = copy.deepcopy(price)
        return sub

    def subscription_quantity_change(self, sid: str, quantity: int) -> dict:
        self.objects[sid]["items"]["data"][0]["quantity"] = quantity
        return self.objects[sid]

    def subscription_status(self, sid: str, status: str) -> dict:
        sub = self.objects[sid]
        sub["status"] = status
        if status == "canceled":
            sub["canceled_at"] = sub["ended_at"] = self.clock
        return sub

    def subscription_renew(self, sid: str) -> dict:
        sub = self.objects[sid]
        item = sub["items"]["data"][0]
        item["current_period_start"] = item["current_period_end"]
        item["current_period_end"] = item["current_period_start"] + 30 * DAY
        return sub

    def customer_delete(self, cid: str) -> list[dict]:
        """The customer deleted (dashboard or API): Stripe cancels its subscriptions at once and
        sends `customer.deleted` and one `customer.subscription.deleted` per subscription."""
        customer = self.objects[cid]
        events = [self.event("customer.deleted", customer)]
        for sub in [o for o in self.objects.values() if o.get("object") == "subscription" and o["customer"] == cid]:
            if sub["status"] != "canceled":
                self.subscription_status(sub["id"], "canceled")
                events.append(self.event("customer.subscription.deleted", sub))
        # What the API answers for a deleted customer from now on.
        self.objects[cid] = {"id": cid, "object": "customer", "deleted": True}
        return events

    def invoice_create(self, sub: dict, *, status: str = "paid", attempt_count: int = 1) -> dict:
        iid = self.new_id("in")
        item = sub["items"]["data"][0]
        amount = item["price"]["unit_amount"] * item["quantity"]
        number = f"CORR-{next(self._ids):04d}"
        obj = {
            "id": iid,
            "object": "invoice",
            "account_country": "FR",
            "account_name": "Corrigo",
            "amount_due": amount,
            "amount_paid": amount if status == "paid" else 0,
            "amount_remaining": 0 if status == "paid" else amount,
            "attempt_count": attempt_count,
            "attempted": True,
            "auto_advance": status != "paid",
            "billing_reason": "subscription_cycle",
            "collection_method": "charge_automatically",
            "created": self.clock,
            "currency": "eur",
            "customer": sub["customer"],
            "customer_email": None,
            "default_payment_method": None,
            "discounts": [],
            "due_date": None,
            "footer": None,
            "hosted_invoice_url": f"https://invoice.stripe.com/i/{iid}",
            "invoice_pdf": f"https://pay.stripe.com/invoice/{iid}/pdf",
            "lines": {"object": "list", "data": [], "has_more": False, "url": f"/v1/invoices/{iid}/lines"},
            "livemode": False,
            "metadata": {},
            "number": number,
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"metadata": {}, "subscription": sub["id"]},
            },
            "period_end": item["current_period_end"],
            "period_start": item["current_period_start"],
            "status": status,
            "subtotal": amount,
            "total": amount,
            "webhooks_delivered_at": self.clock,
        }
        self.objects[iid] = obj
        sub["latest_invoice"] = iid
        return obj

    def invoice_pay(self, iid: str) -> dict:
        inv = self.objects[iid]
        inv.update(status="paid", amount_paid=inv["amount_due"], amount_remaining=0)
        inv["attempt_count"] += 1
        return inv
